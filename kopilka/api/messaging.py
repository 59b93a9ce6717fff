"""Management API for messaging (MSG-1, MSG-4): the merchant's message templates per event,
language and channel, their preview with sample figures, the messaging settings (who gets
transactional messages, quiet hours), the outbox log, and SMS billing (the balance, the
policy when it is out, its statement and the costs by topic). See docs/messaging.md."""

from datetime import datetime, time
from typing import Literal

from django.conf import settings
from django.utils.translation import gettext as _
from ninja import Field, Query, Schema
from pydantic import StrictBool

from kopilka.api.auth import ManagementToken, StaffSession, merchant_router, requires
from kopilka.api.schemas import Id, PageQuery, Problem, StrictIn, UtcTime, paginate
from kopilka.core.errors import InvalidInput
from kopilka.core.phones import mask_phone
from kopilka.messaging import billing
from kopilka.messaging import services as messaging
from kopilka.messaging.models import (
    TEMPLATE_CHANNELS,
    Channel,
    Event,
    Message,
    Settings,
    SmsAccount,
    SmsEntry,
    Template,
)

router = merchant_router(tags=["Messaging"], auth=[ManagementToken(), StaffSession()])
READ = {401: Problem, 422: Problem}
WRITE = {400: Problem, 401: Problem, 403: Problem, 422: Problem}

# Closed sets in the path and body: an unknown event, language or channel is a 422 naming the
# field, as any other malformed path value (a non-numeric id) is, and the OpenAPI lists them.
EventName = Literal[tuple(Event.values)]
Language = Literal[tuple(code for code, _name in settings.LANGUAGES)]
ChannelName = Literal[tuple(TEMPLATE_CHANNELS)]
HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
MAX_BODY = max(messaging.MAX_BODY.values())


class TemplateOut(Schema):
    event: str
    language: str
    channel: str
    subject: str = Field(description="Email only; empty for SMS")
    body: str
    enabled: bool = Field(description="false: nothing is sent for this event, language and "
                                      "channel")
    custom: bool = Field(description="true: the merchant's own text; false: the shipped "
                                     "default")


class TemplateIn(StrictIn):
    # A field left out stays as saved; a blank body or subject goes back to the default.
    enabled: StrictBool = Field(None, description="false: send nothing for it")
    subject: str = Field(None, max_length=messaging.MAX_SUBJECT,
                         description="Email only; blank: the default")
    body: str = Field(None, max_length=MAX_BODY,
                      description="Blank: the default. SMS at most 1000 characters")


class PreviewIn(StrictIn):
    event: EventName
    language: Language
    channel: ChannelName = "sms"
    subject: str = Field(None, max_length=messaging.MAX_SUBJECT,
                         description="A draft; left out: the subject in force")
    body: str = Field(None, max_length=MAX_BODY,
                      description="A draft; left out: the text in force")


class PreviewOut(Schema):
    subject: str = Field(description="Email only; empty for SMS")
    body: str
    parts: int = Field(description="SMS parts it takes; 1 for email")
    encoding: str = Field(description="gsm7 or ucs2 for SMS; empty for email")


class SettingsIn(StrictIn):
    transactional: Literal[tuple(Settings.Transactional.values)] = Field(
        description="off, consented (members who agreed to messages) or all")
    quiet_from: str = Field(pattern=HHMM, description="Local time, HH:MM")
    quiet_to: str = Field(pattern=HHMM, description="Local time, HH:MM; equal to quiet_from: "
                                                    "no quiet hours")


class SettingsOut(Schema):
    transactional: str
    quiet_from: str = Field(description="HH:MM, the merchant's local time")
    quiet_to: str


class MessageQuery(PageQuery):
    status: Literal[tuple(Message.Status.values)] | None = None
    event: EventName | None = None
    member_id: Id | None = None


class MessageOut(Schema):
    id: int
    member_id: int | None
    event: str
    channel: str
    language: str
    recipient: str = Field(description="Phone (E.164, masked unless the caller's role may see "
                                       "numbers) or email")
    status: str = Field(description="queued, sent, delivered, failed, refused or held")
    attempts: int
    provider: str
    provider_id: str
    parts: int
    cost: int = Field(description="Money minor units")
    error: str = Field(description="The last failure")
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None


class MessagePage(Schema):
    items: list[MessageOut]
    next: str | None = Field(description="Pass as `cursor` to get the next page; null at the end")


def _template_out(event: str, language: str, channel: str, current) -> dict:
    return {"event": event, "language": language, "channel": channel,
            "subject": current.subject if channel == Channel.EMAIL else "",
            "body": current.body, "enabled": current.enabled, "custom": current.custom}


def _hhmm(value: time) -> str:
    return value.strftime("%H:%M")


def _settings_out(row: Settings) -> dict:
    return {"transactional": row.transactional, "quiet_from": _hhmm(row.quiet_from),
            "quiet_to": _hhmm(row.quiet_to)}


def _message_out(message: Message, *, full_phone: bool) -> dict:
    recipient = message.recipient
    if message.channel == Channel.SMS and not full_phone:
        recipient = mask_phone(recipient)
    return {name: getattr(message, name) for name in MessageOut.model_fields} | {
        "recipient": recipient}


@router.get("/messages/templates", response={200: list[TemplateOut], 401: Problem})
@requires("read_setup")
def list_templates(request):
    """Every event, language and channel with the text in force and whether it is sent."""
    in_force = messaging.all_effective(request.auth.merchant)
    return [_template_out(event, language, channel, in_force[event, language, channel])
            for event in Event.values
            for language, _name in settings.LANGUAGES
            for channel in TEMPLATE_CHANNELS]


@router.put("/messages/templates/{event}/{language}/{channel}",
            response={200: TemplateOut, **WRITE})
@requires("manage_messaging")
def save_template(request, event: EventName, language: Language, channel: ChannelName,
                  payload: TemplateIn):
    """Set the text or switch the event off (only the fields sent; a blank body or subject
    goes back to the shipped default). Owners and admins."""
    principal = request.auth
    merchant = principal.merchant
    saved = Template.objects.filter(merchant=merchant, event=event, language=language,
                                    channel=channel).first()
    current = {"enabled": saved.enabled, "subject": saved.subject, "body": saved.body} \
        if saved else {"enabled": True, "subject": "", "body": ""}
    messaging.save_template(merchant, event=event, language=language, channel=channel,
                            actor=principal.actor,
                            **(current | payload.model_dump(exclude_unset=True)))
    return _template_out(event, language, channel,
                         messaging.effective(merchant, event, language, channel))


@router.post("/messages/preview", response={200: PreviewOut, 400: Problem, **READ})
@requires("read_setup")
def preview(request, payload: PreviewIn):
    """The message as a member would get it, with sample figures; nothing is saved."""
    return messaging.preview(request.auth.merchant, **payload.model_dump(exclude_unset=True))


@router.get("/messages/settings", response={200: SettingsOut, 401: Problem})
@requires("read_setup")
def get_settings(request):
    return _settings_out(messaging.settings_for(request.auth.merchant))


@router.put("/messages/settings", response={200: SettingsOut, **WRITE})
@requires("manage_messaging")
def save_settings(request, payload: SettingsIn):
    """Whom transactional messages go to, and the quiet hours. Owners and admins."""
    principal = request.auth
    row = messaging.save_settings(
        principal.merchant, transactional=payload.transactional,
        quiet_from=time.fromisoformat(payload.quiet_from),
        quiet_to=time.fromisoformat(payload.quiet_to), actor=principal.actor)
    return _settings_out(row)


@router.get("/messages", response={200: MessagePage, **READ})
@requires("read_records")
def list_messages(request, page: Query[MessageQuery]):
    """The outbox: every message queued for a member, newest first, with cursor pagination."""
    principal = request.auth
    rows = Message.objects.filter(merchant=principal.merchant)
    for name in ("status", "event", "member_id"):
        value = getattr(page, name)
        if value is not None:
            rows = rows.filter(**{name: value})
    found, cursor = paginate(rows, page.cursor, page.limit)
    return {"items": [_message_out(m, full_phone=principal.sees_full_phones) for m in found],
            "next": cursor}


# --- SMS billing (MSG-4) -------------------------------------------------------------------


class BillingOut(Schema):
    currency: str = Field(description="The platform's billing currency (ISO 4217); amounts "
                                      "are integers in its minor unit")
    balance: int = Field(description="Money minor units; negative: a debt from transactional "
                                     "messages sent on credit, paid by the next top-up")
    price_per_part: int = Field(description="Money minor units per SMS part")
    free_parts: int = Field(description="Free SMS parts left; used before the balance")
    transactional_when_empty: str = Field(
        description="hold or send: what transactional messages and one-time codes do when "
                    "the money is out (marketing ones are always held)")
    held: int = Field(description="Messages held now for want of money")
    exhausted_at: datetime | None = Field(description="Since when messages are held; null "
                                                      "while the money lasts")


class BillingIn(StrictIn):
    transactional_when_empty: Literal[tuple(SmsAccount.WhenEmpty.values)] = Field(
        description="hold: held like marketing messages until a top-up; send: sent on credit "
                    "into a negative balance")


class EntryQuery(PageQuery):
    kind: Literal[tuple(SmsEntry.Kind.values)] | None = None


class SmsEntryOut(Schema):
    id: int
    kind: str = Field(description="charge, refund or top_up")
    amount: int = Field(description="Change of the balance, money minor units (a charge is "
                                    "negative)")
    balance_after: int
    free_parts: int = Field(description="Change of the free parts (a charge using them is "
                                        "negative)")
    free_parts_after: int
    parts: int = Field(description="SMS parts paid for: positive for a charge, negative for "
                                   "its refund")
    message_id: int | None
    event: str = Field(description="The message's event; empty for a top-up")
    reference: str = Field(description="A top-up's note")
    actor: str = Field(description="Who: the operator for a top-up, system for charges")
    created_at: datetime


class EntryPage(Schema):
    items: list[SmsEntryOut]
    next: str | None = Field(description="Pass as `cursor` to get the next page; null at the end")


class CostQuery(Schema):
    from_: UtcTime | None = Field(None, alias="from", description="Inclusive; default: the "
                                                                  "beginning")
    to: UtcTime | None = Field(None, description="Exclusive; default: now and later")


class TopicCostOut(Schema):
    event: str
    messages: int = Field(description="SMS charged, less those refunded")
    parts: int
    free_parts: int = Field(description="Of `parts`, the ones the free quota paid")
    cost: int = Field(description="Money minor units")


class CostsOut(Schema):
    currency: str
    events: list[TopicCostOut]
    total: TopicCostOut = Field(description="All events; `event` is empty")


def _billing_out(merchant) -> dict:
    row = billing.account(merchant)
    return {"currency": billing.currency(), "balance": row.balance,
            "price_per_part": billing.price_of(row), "free_parts": row.free_parts,
            "transactional_when_empty": row.transactional_when_empty,
            "held": billing.held_count(merchant), "exhausted_at": row.exhausted_at}


@router.get("/messages/billing", response={200: BillingOut, 401: Problem, 403: Problem})
@requires("read_billing")
def get_billing(request):
    """The SMS balance, price, free parts, the policy when the money is out, and how many
    messages are held. Owners, admins and managers."""
    return _billing_out(request.auth.merchant)


@router.put("/messages/billing", response={200: BillingOut, **WRITE})
@requires("manage_messaging")
def save_billing(request, payload: BillingIn):
    """What transactional messages and one-time codes do when the money is out. Switching to
    `send` sends the ones held so far. Owners and admins. (Top-ups are the platform
    operator's: `kopilka sms-topup`.)"""
    principal = request.auth
    billing.save_policy(principal.merchant,
                        transactional_when_empty=payload.transactional_when_empty,
                        actor=principal.actor)
    return _billing_out(principal.merchant)


@router.get("/messages/billing/history",
            response={200: EntryPage, 401: Problem, 403: Problem, 422: Problem})
@requires("read_billing")
def billing_history(request, page: Query[EntryQuery]):
    """The SMS account's statement, newest first: charges, refunds and top-ups with the
    balance after each. Owners, admins and managers."""
    principal = request.auth
    rows = SmsEntry.objects.filter(merchant=principal.merchant)
    if page.kind is not None:
        rows = rows.filter(kind=page.kind)
    found, cursor = paginate(rows, page.cursor, page.limit)
    return {"items": [{name: getattr(entry, name) for name in SmsEntryOut.model_fields}
                      for entry in found], "next": cursor}


@router.get("/messages/costs", response={200: CostsOut, 401: Problem, 403: Problem,
                                         422: Problem})
@requires("read_billing")
def sms_costs(request, period: Query[CostQuery]):
    """SMS spending by topic (event) in a period: messages, parts, free parts and money, net
    of refunds (counted when they happen). Owners, admins and managers."""
    principal = request.auth
    if period.from_ and period.to and period.from_ >= period.to:
        raise InvalidInput(_("Must be later than from."), field="to")
    topics = billing.costs(principal.merchant, period.from_, period.to)
    rows = [vars(topic) for topic in topics]
    total = {"event": "", **{name: sum(row[name] for row in rows)
                             for name in ("messages", "parts", "free_parts", "cost")}}
    return {"currency": billing.currency(), "events": rows, "total": total}
