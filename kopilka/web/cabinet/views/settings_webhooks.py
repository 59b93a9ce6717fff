"""Settings: webhooks — endpoints (URL, events, on/off), their signing secret shown when made
or rotated, a test ping, the delivery log (newest first, keyset pages) and redelivery. Every
change goes through kopilka.webhooks.services, as the management API's."""

import json

from django import forms
from django.contrib import messages
from django.shortcuts import redirect
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from kopilka.core.errors import DomainError
from kopilka.web.cabinet.session import cabinet_view
from kopilka.web.cabinet.views.settings import bound, one, refuse
from kopilka.web.forms import Form
from kopilka.web.htmx import render_page
from kopilka.webhooks import services as webhooks
from kopilka.webhooks.events import CATALOGUE
from kopilka.webhooks.models import Delivery, Endpoint
from kopilka.webhooks.transport import MAX_URL

PAGE = 25  # deliveries per page of the log


class EndpointForm(Form):
    url = forms.CharField(label=gettext_lazy("URL"), max_length=MAX_URL,
                          help_text=gettext_lazy("https://… of your system; Kopilka POSTs "
                                                 "signed JSON to it."),
                          widget=forms.URLInput(attrs={"inputmode": "url"}))
    description = forms.CharField(label=gettext_lazy("Description"), max_length=200,
                                  required=False)
    events = forms.MultipleChoiceField(label=gettext_lazy("Events"),
                                       widget=forms.CheckboxSelectMultiple)
    active = forms.BooleanField(label=gettext_lazy("On"), required=False, initial=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)  # the events' words in the language of the request
        self.fields["events"].choices = [(name, f"{name}: {text}")
                                         for name, text in CATALOGUE.items()]


def _fields(endpoint: Endpoint) -> dict:
    return {"url": endpoint.url, "description": endpoint.description,
            "events": endpoint.events, "active": endpoint.active}


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
@cabinet_view("manage_webhooks")
def endpoints(request):
    cabinet = request.cabinet
    form = EndpointForm(bound(request, "create"), prefix="new")
    if form.is_bound and form.is_valid():
        try:
            endpoint = webhooks.create_endpoint(cabinet.merchant, actor=cabinet.principal.actor,
                                                **form.cleaned_data)
        except DomainError as error:
            refuse(form, error)
        else:
            return _show(request, endpoint, new=True)
    return render_page(request, "cabinet/settings/webhooks.html", {
        "form": form,
        "endpoints": Endpoint.objects.filter(merchant=cabinet.merchant).order_by("pk"),
    }, status=422 if form.is_bound else 200)


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
@cabinet_view("manage_webhooks")
def endpoint(request, endpoint_id: int):
    """Edit one endpoint; rotate its secret (shown once), send a ping, delete it; its log."""
    cabinet = request.cabinet
    found = one(Endpoint.objects.filter(merchant=cabinet.merchant), endpoint_id)
    action = request.POST.get("action") if request.method == "POST" else None
    actor = cabinet.principal.actor
    form = EndpointForm(bound(request, "edit"), initial=_fields(found))
    if action == "rotate":
        return _show(request, webhooks.rotate_secret(found, actor=actor), new=True)
    if action == "delete":
        webhooks.delete_endpoint(found, actor=actor)
        messages.success(request, _("The endpoint is deleted with its log."))
        return redirect("cabinet:settings-webhooks")
    if action == "test":
        try:
            webhooks.send_test(found, actor=actor)
        except DomainError as error:
            messages.error(request, error.detail)
        else:
            messages.success(request, _("A test event (ping) is on its way."))
        return redirect("cabinet:settings-webhook", found.pk)
    if form.is_bound and form.is_valid():
        try:
            webhooks.update_endpoint(found, actor=actor, **form.cleaned_data)
        except DomainError as error:
            refuse(form, error)
        else:
            messages.success(request, _("Endpoint saved."))
            return redirect("cabinet:settings-webhook", found.pk)
    return _show(request, found, form=form, status=422 if form.is_bound else 200)


def _show(request, found: Endpoint, *, new: bool = False, form=None, status: int = 200):
    if new:
        found.refresh_from_db()
    rows = Delivery.objects.filter(merchant=found.merchant, endpoint=found)
    before = request.GET.get("before", "")
    if before.isdigit():
        rows = rows.filter(pk__lt=int(before))
    page = list(rows.order_by("-pk")[:PAGE + 1])
    more = len(page) > PAGE
    page = page[:PAGE]
    return render_page(request, "cabinet/settings/webhook.html", {
        "endpoint": found, "form": form or EndpointForm(initial=_fields(found)),
        "new": {"name": _("The signing secret"), "key": found.secret} if new else None,
        "deliveries": page, "next": page[-1].pk if more else None,
    }, status=status)


@require_http_methods(["GET", "HEAD"])
@cabinet_view("manage_webhooks")
def delivery(request, delivery_id: int):
    """One delivery: the body it sends and every attempt, with the receiver's answer."""
    found = one(Delivery.objects.filter(merchant=request.cabinet.merchant)
                .select_related("endpoint"), delivery_id)
    return render_page(request, "cabinet/settings/delivery.html", {
        "delivery": found, "attempts": found.log.order_by("pk"),
        "payload": json.dumps(found.payload, ensure_ascii=False, indent=2, sort_keys=True),
    })


@require_http_methods(["POST"])
@cabinet_view("manage_webhooks")
def redeliver(request, delivery_id: int):
    cabinet = request.cabinet
    delivery = one(Delivery.objects.filter(merchant=cabinet.merchant)
                   .select_related("endpoint"), delivery_id)
    try:
        webhooks.redeliver(delivery, actor=cabinet.principal.actor)
    except DomainError as error:
        messages.error(request, error.detail)
    else:
        messages.success(request, _("The event is sent again."))
    return redirect("cabinet:settings-webhook", delivery.endpoint_id)


urlpatterns = [
    path("settings/webhooks/", endpoints, name="settings-webhooks"),
    path("settings/webhooks/<int:endpoint_id>/", endpoint, name="settings-webhook"),
    path("settings/webhooks/deliveries/<int:delivery_id>/", delivery,
         name="settings-webhook-delivery"),
    path("settings/webhooks/deliveries/<int:delivery_id>/redeliver/", redeliver,
         name="settings-webhook-redeliver"),
]
