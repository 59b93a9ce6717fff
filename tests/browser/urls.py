"""Kopilka's URLs plus test-only pages that exercise the web foundation: a form answered by
htmx (422 with errors, 403/409 with the server's message, 500), the component gallery (also the
screenshot in docs/web.md), a page that breaks the CSP on purpose, and a QR read by the
vendored ZXing WebAssembly."""

import io

import segno
from django import forms
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import include, path
from django.utils.translation import gettext as _
from django.views.decorators.csp import csp_override
from django.views.decorators.http import require_POST

from kopilka.web.forms import Form
from kopilka.web.htmx import render_page
from tests.browser.conftest import POLICY

QR_TEXT = "KOPILKA:M-7F3K-92QD"


class CardForm(Form):
    phone = forms.RegexField(label="Phone", regex=r"^\+?\d{10,15}$", help_text="+79161234567",
                             error_messages={"invalid": "Enter the phone with its country code."})
    amount = forms.IntegerField(label="Amount, kopecks", min_value=1)
    payment = forms.ChoiceField(label="Payment", widget=forms.RadioSelect,
                                choices=[("card", "Card"), ("cash", "Cash")], initial="card")
    receipt = forms.BooleanField(label="Print a receipt", required=False)


def card_form(request):
    form = CardForm(request.POST or None)
    if request.method == "POST":
        if not form.is_valid():
            return render_page(request, "demo/form.html", {"form": form}, fragment="form",
                               status=422)
        saved = form.cleaned_data
        return render_page(request, "demo/form.html", {"form": CardForm(), "saved": saved},
                           fragment="form")
    return render_page(request, "demo/form.html", {"form": form}, fragment="form")


@require_POST
def crash(request):
    raise RuntimeError("a bug on purpose: the page must say so, not swap the error page in")


@require_POST
def conflict(request):
    # A domain error in the user's language, as the faces answer one: status + [data-toast].
    return HttpResponse(f'<p data-toast>{_("Your role does not allow this.")}</p>', status=409)


@require_POST
def forbidden(request):
    raise PermissionDenied


def components(request):
    invalid = CardForm({"phone": "12", "amount": "0", "payment": "card"})
    invalid.is_valid()
    tabs = [{"url": "#buttons", "label": "Sale", "current": True},
            {"url": "#figures", "label": "Member"}, {"url": "#rows", "label": "Shift"}]
    return render(request, "demo/components.html", {"form": invalid, "tabs": tabs})


def components_js(request):
    # An Alpine component, registered the CSP build's way (no expressions evaluated from HTML).
    script = """
document.addEventListener("alpine:init", function () {
  window.Alpine.data("counter", function () {
    return { count: 0, increment: function () { this.count += 1; } };
  });
});
"""
    return HttpResponse(script, content_type="text/javascript")


def inline_script(request):
    return HttpResponse("<!doctype html><title>x</title><p>inline</p>"
                        "<script>window.inlineRan = true;</script>")


@csp_override({**POLICY, "script-src": ["'self'", "'wasm-unsafe-eval'"]})
def scan(request):
    return render(request, "demo/scan.html", {"qr_text": QR_TEXT})


def qr_png(request):
    buffer = io.BytesIO()
    segno.make_qr(QR_TEXT, error="m").save(buffer, kind="png", scale=8, border=4)
    return HttpResponse(buffer.getvalue(), content_type="image/png")


urlpatterns = [
    path("test/form/", card_form, name="demo-form"),
    path("test/crash/", crash, name="demo-crash"),
    path("test/conflict/", conflict, name="demo-conflict"),
    path("test/forbidden/", forbidden, name="demo-forbidden"),
    path("test/components/", components, name="demo-components"),
    path("test/components.js", components_js, name="demo-components-js"),
    path("test/inline/", inline_script),
    path("test/scan/", scan, name="demo-scan"),
    path("test/qr.png", qr_png, name="demo-qr"),
    path("", include("kopilka.urls")),
]
