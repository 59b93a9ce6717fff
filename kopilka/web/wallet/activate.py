"""Activating a secret code: typed, scanned, or from the QR link under the cap (#18).

- /my/shops/<member>/code/: a field for the code and a camera button (the same scanner as the
  counter's: barcode.js with our ZXing WebAssembly), activating at that shop.
- /my/c/<code>/: the link printed as a QR code under the cap. GET only shows a button (SMS
  apps and link previews fetch links; a GET must use nothing up), POST finds the code's shop
  and activates it for the signed-in person's card there. Not signed in: the code waits in a
  cookie of this device while the person signs in, then the page comes back.
"""

from django import forms
from django.conf import settings
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.translation import gettext_lazy
from django.views.decorators.csp import csp_override
from django.views.decorators.http import require_http_methods

from kopilka.campaigns import services as campaigns
from kopilka.campaigns.models import Activation
from kopilka.core.errors import DomainError
from kopilka.processing import wallet as cards
from kopilka.tenancy.logins import client_ip
from kopilka.web.forms import Form
from kopilka.web.htmx import render_page
from kopilka.web.wallet import signin
from kopilka.web.wallet.person import as_member, own_member, wallet_view
from kopilka.web.wallet.person import tabs as _tabs

PENDING_COOKIE = "kopilka_campaign_code"  # a code opened by its link before signing in
# The page compiles the ZXing WebAssembly for the camera (docs/web.md, "Scanning").
SCANNER_CSP = {**settings.SECURE_CSP,
               "script-src": [*settings.SECURE_CSP.get("script-src", ["'self'"]),
                              "'wasm-unsafe-eval'"]}


class ActivateForm(Form):
    code = forms.CharField(
        label=gettext_lazy("Code"), max_length=64,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters",
                                      "spellcheck": "false", "autofocus": True,
                                      "enterkeyhint": "go", "data-code-field": True}))


def _status(error: DomainError) -> int:
    return 429 if isinstance(error, campaigns.LockedOut) else 422


@require_http_methods(["GET", "POST"])
@csp_override(SCANNER_CSP)
@wallet_view
def activate(request, member_id: int):
    member = own_member(request, member_id)
    form = ActivateForm(request.POST if request.method == "POST" else None)
    status = 200
    with as_member(request, member) as actor:
        if form.is_bound and form.is_valid():
            try:
                done = campaigns.activate(member.merchant, member, form.cleaned_data["code"],
                                          Activation.Channel.WALLET, actor=actor,
                                          ip=client_ip(request))
            except DomainError as error:
                form.add_error("code", str(error.detail))
                status = _status(error)
            else:
                return _done(request, member, done)
        elif form.is_bound:
            status = 422
        summary = cards.summary(member)
    return render_page(request, "wallet/activate.html", {
        "form": form, "member": member, "summary": summary,
        "tabs": _tabs(request, "shops", member)}, status=status)


def _done(request, member, done):
    summary = cards.summary(member)
    return render_page(request, "wallet/activate_done.html", {
        "member": member, "summary": summary, "done": done,
        "tabs": _tabs(request, "shops", member)})


@require_http_methods(["GET", "POST"])
def link(request, code: str):
    person = signin.person_of(request)
    if person is None:  # sign in first; the code waits on this device
        response = redirect("wallet:signin")
        response.set_cookie(PENDING_COOKIE, code[:64], max_age=1800, httponly=True,
                            samesite="Lax", secure=request.is_secure())
        return response
    request.person = person
    if request.method == "GET":
        response = render_page(request, "wallet/activate_link.html", {"code": code})
        response.delete_cookie(PENDING_COOKIE)
        return response
    phone = str(person.phone or "")
    try:
        merchant, member = campaigns.locate(code, phone=phone, ip=client_ip(request))
    except campaigns.NotAMember as refused:
        return render_page(request, "wallet/activate_link.html", {
            "code": code, "join": refused.merchant, "problem": str(refused.detail)},
            status=409)
    except DomainError as error:
        return render_page(request, "wallet/activate_link.html", {
            "code": code, "problem": str(error.detail)}, status=_status(error))
    with as_member(request, member) as actor:
        try:
            done = campaigns.activate(merchant, member, code, Activation.Channel.LINK,
                                      actor=actor, ip=client_ip(request))
        except DomainError as error:
            return render_page(request, "wallet/activate_link.html", {
                "code": code, "problem": str(error.detail)}, status=_status(error))
        return _done(request, member, done)


def after_sign_in(request) -> str:
    """Where the wallet goes after signing in: back to a code's link opened before, else home."""
    code = request.COOKIES.get(PENDING_COOKIE, "")
    if code and code.isascii() and code.isalnum():
        return reverse("wallet:code-link", args=[code])
    return reverse("wallet:home")


urlpatterns = [
    path("shops/<int:member_id>/code/", activate, name="activate"),
    path("c/<str:code>/", link, name="code-link"),
]
