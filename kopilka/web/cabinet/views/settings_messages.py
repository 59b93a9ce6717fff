"""Settings: message templates per event, language and channel (with a live preview filled
with sample figures, and on/off), whom transactional messages go to and the quiet hours; the
SMS balance, its statement and the costs by topic (kopilka/messaging/billing.py)."""

from datetime import datetime, time, timedelta

from django import forms
from django.conf import settings as django_settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from kopilka.core.errors import DomainError
from kopilka.core.placeholders import PLACEHOLDERS
from kopilka.messaging import billing
from kopilka.messaging import services as messaging
from kopilka.messaging.defaults import DEFAULTS
from kopilka.messaging.models import (
    TEMPLATE_CHANNELS,
    Channel,
    Event,
    Settings,
    SmsAccount,
    SmsEntry,
)
from kopilka.web.cabinet.session import cabinet_view
from kopilka.web.cabinet.views.settings import bound, refuse
from kopilka.web.forms import Form
from kopilka.web.htmx import render_page

LANGUAGES = [code for code, _name in django_settings.LANGUAGES]
STATEMENT_PAGE = 30


# --- the templates -------------------------------------------------------------------------------


class QuietForm(Form):
    transactional = forms.ChoiceField(
        label=gettext_lazy("Receipts and other transactional messages"),
        choices=Settings.Transactional.choices,
        help_text=gettext_lazy("Each SMS costs money: choose who gets them."))
    quiet_from = forms.TimeField(label=gettext_lazy("Quiet hours from"),
                                 widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    quiet_to = forms.TimeField(label=gettext_lazy("Quiet hours to"),
                               widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
                               help_text=gettext_lazy("Messages due in these hours wait until "
                                                      "they end (your time zone). The same "
                                                      "time twice: no quiet hours."))


@require_http_methods(["GET", "HEAD", "POST"])
@cabinet_view("manage_messaging")
def templates(request):
    cabinet = request.cabinet
    merchant = cabinet.merchant
    current = messaging.settings_for(merchant)
    form = QuietForm(bound(request, "quiet"), initial={
        "transactional": current.transactional, "quiet_from": current.quiet_from,
        "quiet_to": current.quiet_to})
    if form.is_bound and form.is_valid():
        try:
            messaging.save_settings(merchant, actor=cabinet.principal.actor, **form.cleaned_data)
        except DomainError as error:
            refuse(form, error)
        else:
            messages.success(request, _("Message settings saved."))
            return redirect("cabinet:settings-messages")
    in_force = messaging.all_effective(merchant)
    rows = [{"event": event, "label": label, "cells": [
        {"language": language, "channels": [
            {"channel": channel, "label": Channel(channel).label,
             "effective": in_force[(event, language, channel)]}
            for channel in TEMPLATE_CHANNELS]}
        for language in LANGUAGES]} for event, label in Event.choices
        if (event, LANGUAGES[0], Channel.SMS) in in_force]
    return render_page(request, "cabinet/settings/messages.html", {
        "form": form, "rows": rows, "languages": LANGUAGES,
    }, status=422 if form.is_bound else 200)


def _key(event: str, language: str, channel: str) -> tuple[str, str, str]:
    if event not in Event.values or language not in LANGUAGES or channel not in TEMPLATE_CHANNELS:
        raise Http404
    return event, language, channel


class TemplateForm(Form):
    subject = forms.CharField(label=gettext_lazy("Subject"), required=False,
                              max_length=messaging.MAX_SUBJECT)
    body = forms.CharField(label=gettext_lazy("Text"), required=False,
                           widget=forms.Textarea(attrs={"rows": 5}),
                           help_text=gettext_lazy("Empty: Kopilka's text, shown below."))
    enabled = forms.BooleanField(label=gettext_lazy("Send this message"), required=False)

    def __init__(self, *args, channel: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["body"].max_length = messaging.MAX_BODY[channel]
        if channel != Channel.EMAIL:
            del self.fields["subject"]


def _preview(merchant, event, language, channel, data=None) -> dict:
    """The message with sample figures, of the text being typed (`data`) or in force."""
    try:
        text = {} if data is None else {
            "body": (data.get("body") or "")[:messaging.MAX_BODY[channel] + 1],
            **({"subject": (data.get("subject") or "")[:messaging.MAX_SUBJECT + 1]}
               if channel == Channel.EMAIL else {})}
        rendered = messaging.preview(merchant, event=event, language=language,
                                     channel=channel, **text)
    except DomainError as error:
        return {"error": error.detail}
    return {"rendered": rendered}


@require_http_methods(["GET", "HEAD", "POST"])
@cabinet_view("manage_messaging")
def template(request, event: str, language: str, channel: str):
    event, language, channel = _key(event, language, channel)
    cabinet = request.cabinet
    merchant = cabinet.merchant
    current = messaging.effective(merchant, event, language, channel)
    form = TemplateForm(request.POST if request.method == "POST" else None, channel=channel,
                        initial={"subject": current.subject if current.custom else "",
                                 "body": current.body if current.custom else "",
                                 "enabled": current.enabled})
    if form.is_bound and form.is_valid():
        try:
            messaging.save_template(merchant, event=event, language=language, channel=channel,
                                    actor=cabinet.principal.actor, **form.cleaned_data)
        except DomainError as error:
            refuse(form, error)
        else:
            messages.success(request, _("Message saved."))
            return redirect("cabinet:settings-messages")
    return render_page(request, "cabinet/settings/message.html", {
        "form": form, "event": Event(event).label, "key": (event, language, channel),
        "language": language, "channel": Channel(channel).label,
        "default": DEFAULTS[event][language][1],
        "placeholders": [f"{{{name}}}" for name in PLACEHOLDERS],
        "preview": _preview(merchant, event, language, channel,
                            request.POST if form.is_bound else None),
    }, status=422 if form.is_bound else 200)


@require_http_methods(["POST"])
@cabinet_view("manage_messaging")
def template_preview(request, event: str, language: str, channel: str):
    """The preview alone, as the owner types (htmx; only ever a fragment)."""
    event, language, channel = _key(event, language, channel)
    return render(request, "cabinet/settings/message.html#preview", {
        "preview": _preview(request.cabinet.merchant, event, language, channel, request.POST),
    })


# --- the SMS balance ----------------------------------------------------------------------------


class PeriodForm(Form):
    start = forms.DateField(label=gettext_lazy("From"), required=False,
                            widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=gettext_lazy("To"), required=False,
                          widget=forms.DateInput(attrs={"type": "date"}),
                          help_text=gettext_lazy("Including this day."))

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["end"] < data["start"]:
            self.add_error("end", _("Must not be before the start."))
        return data


def local_midnight(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time()))


@require_http_methods(["GET", "HEAD"])
@cabinet_view("read_billing")
def sms(request):
    merchant = request.cabinet.merchant
    row = billing.account(merchant)
    form = PeriodForm(request.GET or None)
    start = end = None
    if form.is_bound and form.is_valid():
        start = form.cleaned_data["start"] and local_midnight(form.cleaned_data["start"])
        end = form.cleaned_data["end"] and local_midnight(form.cleaned_data["end"]
                                                          + timedelta(days=1))
    topics = billing.costs(merchant, start, end) if not form.errors else []
    labels = dict(Event.choices)
    entries = SmsEntry.objects.filter(merchant=merchant)
    before = request.GET.get("before", "")
    if before.isdigit():
        entries = entries.filter(pk__lt=int(before))
    page = list(entries.order_by("-pk")[:STATEMENT_PAGE + 1])
    more = len(page) > STATEMENT_PAGE
    page = page[:STATEMENT_PAGE]
    return render_page(request, "cabinet/settings/sms.html", {
        "account": row, "balance": billing.money(row.balance),
        "price": billing.money(billing.price_of(row)), "held": billing.held_count(merchant),
        "form": form,
        "topics": [{"label": labels.get(topic.event, topic.event), "topic": topic,
                    "cost": billing.money(topic.cost)} for topic in topics],
        "total": {"messages": sum(topic.messages for topic in topics),
                  "parts": sum(topic.parts for topic in topics),
                  "free_parts": sum(topic.free_parts for topic in topics),
                  "cost": billing.money(sum(topic.cost for topic in topics))},
        "entries": [{"entry": entry, "amount": billing.money(entry.amount),
                     "after": billing.money(entry.balance_after),
                     "label": labels.get(entry.event, entry.reference)} for entry in page],
        "next": page[-1].pk if more else None,
        "policy": PolicyForm(initial={"transactional_when_empty": row.transactional_when_empty})
        if request.cabinet.principal.may("manage_messaging") else None,
    }, status=422 if form.errors else 200)


class PolicyForm(Form):
    transactional_when_empty = forms.ChoiceField(
        label=gettext_lazy("Receipts and codes when the money is out"),
        choices=SmsAccount.WhenEmpty.choices, widget=forms.RadioSelect,
        help_text=gettext_lazy("Offers always wait for a top-up."))


@require_http_methods(["POST"])
@cabinet_view("manage_messaging")
def sms_policy(request):
    cabinet = request.cabinet
    form = PolicyForm(request.POST)
    if form.is_valid():
        billing.save_policy(cabinet.merchant, actor=cabinet.principal.actor,
                            **form.cleaned_data)
        messages.success(request, _("Saved."))
    else:
        messages.error(request, _("Choose one of the options."))
    return redirect("cabinet:settings-sms")


urlpatterns = [
    path("settings/messages/", templates, name="settings-messages"),
    path("settings/messages/<slug:event>/<slug:language>/<slug:channel>/", template,
         name="settings-message"),
    path("settings/messages/<slug:event>/<slug:language>/<slug:channel>/preview/",
         template_preview, name="settings-message-preview"),
    path("settings/sms/", sms, name="settings-sms"),
    path("settings/sms/policy/", sms_policy, name="settings-sms-policy"),
]
