"""Message templates (the merchant's texts, over the shipped defaults), their preview, the
merchant's messaging settings (who gets transactional messages, quiet hours), and `queue`, the
one call every service uses to send a member a message."""

from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils.translation import gettext as _

from kopilka.core import audit, clock
from kopilka.core.actor import Actor
from kopilka.core.errors import InvalidInput
from kopilka.core.phones import normalize_phone
from kopilka.members import services as members
from kopilka.members.models import Consent
from kopilka.messaging import links, push, quiet, render, sms, tasks
from kopilka.messaging.defaults import DEFAULTS
from kopilka.messaging.models import TEMPLATE_CHANNELS, Channel, Event, Message, Settings, Template
from kopilka.tenancy import access
from kopilka.tenancy.models import Merchant

# Which events need the member's consent to messages (Consent kind "messages"): the ones that
# advertise — they invite the member back or offer something — and which a member who said
# STOP must never get. They also wait out the merchant's quiet hours. Every other event tells
# the member about their own account (a receipt, a new tier, points received) and goes to the
# members the merchant's `Settings.transactional` names, at once. REQUESTED ones go whatever
# the consent and settings: the member has just asked for them (the law allows it).
MARKETING = frozenset({
    Event.GIFT, Event.EXPIRY_SOON, Event.BIRTHDAY, Event.RELATIVE_BIRTHDAY,
    Event.REVIEW_REQUEST, Event.OFFER,
})
# An answer to the member's own review is part of the dialog they started.
REQUESTED = frozenset({Event.ONE_TIME_CODE, Event.CARD_LINK, Event.INVITATION,
                       Event.REVIEW_ANSWER})
TRANSACTIONAL = frozenset(Event.values) - MARKETING - REQUESTED

MAX_BODY = {Channel.SMS: 1000, Channel.EMAIL: 10_000}  # characters
MAX_SUBJECT = 200


@dataclass(frozen=True)
class Effective:
    """The text a merchant sends for one event, language and channel, and whether it sends."""

    subject: str
    body: str
    enabled: bool
    custom: bool  # the merchant's own body (not the shipped default)


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str
    parts: int  # SMS parts it takes; 1 for email
    encoding: str  # "gsm7" or "ucs2" for SMS; "" for email


def _check_choice(value: str, codes: list[str], field: str) -> None:
    if value not in codes:
        raise InvalidInput(_("%(field)s must be one of %(codes)s.")
                           % {"field": field, "codes": ", ".join(codes)}, field=field)


def _check_key(event: str, language: str, channel: str) -> None:
    _check_choice(event, Event.values, "event")
    _check_choice(language, [code for code, _name in settings.LANGUAGES], "language")
    _check_choice(channel, TEMPLATE_CHANNELS, "channel")


def effective(merchant: Merchant, event: str, language: str, channel: str) -> Effective:
    _check_key(event, language, channel)
    read_once = merchant.__dict__.get(_READ_ONCE)
    if read_once is not None:
        return read_once[(event, language, channel)]
    row = Template.objects.filter(merchant=merchant, event=event, language=language,
                                  channel=channel).first()
    return _effective(event, language, row)


_READ_ONCE = "_kopilka_templates_in_force"


@contextmanager
def templates_read_once(merchant: Merchant):
    """Within the block, `effective()` answers for `merchant` from one query made on entry:
    the tick messages hundreds of members per job and would otherwise ask once per message.
    The block sees the templates as they were when it started."""
    merchant.__dict__[_READ_ONCE] = all_effective(merchant)
    try:
        yield
    finally:
        merchant.__dict__.pop(_READ_ONCE, None)


def all_effective(merchant: Merchant) -> dict[tuple[str, str, str], Effective]:
    """Every (event, language, channel) in force for the merchant, from one query."""
    rows = {(row.event, row.language, row.channel): row
            for row in Template.objects.filter(merchant=merchant)}
    return {
        (event, language, channel): _effective(event, language,
                                               rows.get((event, language, channel)))
        for event in DEFAULTS for language in DEFAULTS[event] for channel in TEMPLATE_CHANNELS
    }


def _effective(event: str, language: str, row: Template | None) -> Effective:
    """The merchant's row over the shipped default: a blank text means the default."""
    subject, body = DEFAULTS[event][language]
    if row is None:
        return Effective(subject=subject, body=body, enabled=True, custom=False)
    return Effective(subject=row.subject or subject, body=row.body or body,
                     enabled=row.enabled, custom=bool(row.body))


def _check_text(text: str, field: str, limit: int) -> str:
    if "\x00" in text:
        raise InvalidInput(_("The text must not contain NUL characters."), field=field)
    text = text.strip()
    if len(text) > limit:
        raise InvalidInput(_("At most %(limit)s characters.") % {"limit": limit}, field=field)
    render.check(text, field)
    return text


@transaction.atomic
def save_template(merchant: Merchant, *, event: str, language: str, channel: str = Channel.SMS,
                  body: str = "", subject: str = "", enabled: bool = True,
                  actor: Actor) -> Template:
    """Set the merchant's text for one event, language and channel, or switch it off. A blank
    body or subject means the shipped default."""
    _check_key(event, language, channel)
    body = _check_text(body, "body", MAX_BODY[channel])
    subject = _check_text(subject, "subject", MAX_SUBJECT) if channel == Channel.EMAIL else ""
    template, _created = Template.objects.update_or_create(
        merchant=merchant, event=event, language=language, channel=channel,
        defaults={"body": body, "subject": subject, "enabled": enabled,
                  "updated_at": clock.now()},
    )
    audit.record("messaging.template.saved", actor=actor, merchant=merchant, obj=template,
                 data={"event": event, "language": language, "channel": channel,
                       "enabled": enabled, "custom": bool(body)})
    return template


def _rendered(merchant: Merchant, language: str, channel: str, subject: str, body: str,
              context: dict) -> Rendered:
    fmt = render.formats(merchant, language)
    text = render.render(body, merchant, fmt, context)
    if channel == Channel.EMAIL:
        return Rendered(subject=render.render(subject, merchant, fmt, context), body=text,
                        parts=1, encoding="")
    segmented = sms.segment(text)
    return Rendered(subject="", body=text, parts=len(segmented.parts),
                    encoding=segmented.encoding)


def sample_context(language: str) -> dict:
    """Figures for a preview: a plausible member, purchase and gift."""
    return {
        "name": {"ru": "Анна", "uk": "Ганна", "en": "Anna"}[language],
        "amount": 150_000, "balance": 12_550, "points": 2_100,
        "date": (clock.now() + timedelta(days=30)).date(),
        "link": "https://example.com/c/AbC123", "code": "4821", "tier": "Gold",
        "relative": {"ru": "Мария", "uk": "Марія", "en": "Maria"}[language],
    }


def preview(merchant: Merchant, *, event: str, language: str, channel: str = Channel.SMS,
            body: str | None = None, subject: str | None = None) -> Rendered:
    """The message as a member would get it, with sample figures: of the text being edited
    (`body`, `subject`) or, without them, of the text in force."""
    current = effective(merchant, event, language, channel)
    body = current.body if body is None else (_check_text(body, "body", MAX_BODY[channel])
                                              or DEFAULTS[event][language][1])
    subject = current.subject if subject is None else (
        _check_text(subject, "subject", MAX_SUBJECT) or DEFAULTS[event][language][0])
    return _rendered(merchant, language, channel, subject, body, sample_context(language))


# --- settings --------------------------------------------------------------------------------


def settings_for(merchant: Merchant) -> Settings:
    """The merchant's messaging settings, or the defaults (unsaved) when it never changed them.
    From the merchant context (tenancy.access): the operations of one request or job ask
    once."""
    row = access.context(merchant)["messaging_settings"]
    return row if row is not None else Settings(merchant=merchant)


@transaction.atomic
def save_settings(merchant: Merchant, *, transactional: str, quiet_from: time,
                  quiet_to: time, actor: Actor) -> Settings:
    """Whom transactional messages go to (off, consented, all) and the quiet hours, local
    times; equal times mean no quiet hours."""
    _check_choice(transactional, Settings.Transactional.values, "transactional")
    for field, value in (("quiet_from", quiet_from), ("quiet_to", quiet_to)):
        if not isinstance(value, time) or value.tzinfo is not None:
            raise InvalidInput(_("Must be a local time of day (HH:MM)."), field=field)
    row, _created = Settings.objects.update_or_create(
        merchant=merchant, defaults={"transactional": transactional, "quiet_from": quiet_from,
                                     "quiet_to": quiet_to, "updated_at": clock.now()},
    )
    access.context(merchant)["messaging_settings"] = row
    audit.record("messaging.settings.saved", actor=actor, merchant=merchant, obj=row,
                 data={"transactional": transactional, "quiet_from": quiet_from.isoformat(),
                       "quiet_to": quiet_to.isoformat()})
    return row


def may_send(merchant: Merchant, member, event: str) -> bool:
    """Whether the member is to get a message about `event` at all (MARKETING above)."""
    if event in REQUESTED:
        return True
    if event in MARKETING:
        return members.has_consent(member, Consent.Kind.MESSAGES)
    policy = settings_for(merchant).transactional
    if policy == Settings.Transactional.ALL:
        return True
    return (policy == Settings.Transactional.CONSENTED
            and members.has_consent(member, Consent.Kind.MESSAGES))


def _due(merchant: Merchant, event: str, now: datetime) -> datetime:
    """When the message may go: marketing waits for the end of the merchant's quiet hours."""
    if event not in MARKETING:
        return now
    row = settings_for(merchant)
    return quiet.release_at(now, row.quiet_from, row.quiet_to, merchant.timezone) or now


def _recipient(merchant: Merchant, channel: str, member, recipient: str | None) -> str | None:
    if recipient is not None:
        if channel == Channel.SMS:
            return normalize_phone(recipient, merchant.country, field="recipient")
        try:
            validate_email(recipient)
        except ValidationError:
            raise InvalidInput(_("%(email)r is not a valid email address.")
                               % {"email": recipient}, field="recipient") from None
        return recipient
    if member is None:
        raise ValueError("queue() needs a member or a recipient")  # a programming error
    if channel == Channel.SMS:
        phone = member.person.phone
        return str(phone) if phone else None  # an erased member has no number
    return member.email or None


def _may_push(channel: str, event: str, member, recipient: str | None) -> bool:
    """Whether this SMS can go as a push: to a member (not to a number typed in), and not a
    one-time code, which proves the phone itself."""
    return (channel == Channel.SMS and member is not None and recipient is None
            and event != Event.ONE_TIME_CODE and settings.PUSH_ENABLED)


def _push_instead(channel: str, event: str, member, recipient: str | None):
    """The member's live push subscription when this SMS can go as a push (`_may_push`)."""
    if not _may_push(channel, event, member, recipient):
        return None
    return push.live(member.person_id)


def queue(merchant: Merchant, *, event: str, member=None, recipient: str | None = None,
          context: dict, channel: str = Channel.SMS, language: str | None = None,
          body: str | None = None) -> Message | None:
    """Write the event's message to the outbox and send it after commit.

    Call it inside the operation's transaction: a rollback then sends nothing. Returns None,
    queuing nothing, when the member is not to get it (`may_send`: consent and the merchant's
    settings), the merchant switched the event off, or the member has no address for the
    channel. A marketing message queued in the quiet hours waits for their end. `context`
    holds raw figures (see render.values); `language` defaults to the merchant's. `body`
    replaces the template's text (an inactivity chain step's own, checked when the program
    was saved); the event still decides consent, quiet hours and whether it is switched off."""
    if member is not None and member.merchant_id != merchant.pk:
        raise ValueError("the member belongs to another merchant")  # a programming error
    if member is not None and not may_send(merchant, member, event):
        return None
    message = _message(merchant, event, member, recipient, context, channel, language, body,
                       lambda: _push_instead(channel, event, member, recipient))
    if message is None:
        return None
    message.created_at = now = clock.now()
    due = message.next_attempt_at = _due(merchant, event, now)
    message.save(force_insert=True)
    tasks.enqueue_on_commit(message.pk, None if due == now else due)
    return message


def _message(merchant: Merchant, event: str, member, recipient: str | None, context: dict,
             channel: str, language: str | None, body: str | None,
             subscription: Callable[[], object]) -> Message | None:
    """The unsaved message `queue` writes (without its times), or None when the template is
    switched off or there is no address; `subscription()`: the live push subscription the
    SMS goes to instead, if any (asked only for a message that goes)."""
    language = language or merchant.language
    template = effective(merchant, event, language, channel)
    if not template.enabled:
        return None
    address = _recipient(merchant, channel, member, recipient)
    if address is None:
        return None
    text = body or template.body
    context = links.for_text(text, member, context)  # a wallet link where the text has {link}
    rendered = _rendered(merchant, language, channel, template.subject, text, context)
    subject, parts = rendered.subject, rendered.parts
    instead = subscription()
    if instead is not None:  # free, on the member's phone: the SMS text as a push
        channel, address = Channel.PUSH, push.recipient(instead)
        subject, parts = merchant.name, 0
    return Message(merchant=merchant, member=member, event=event, channel=channel,
                   recipient=address, language=language, subject=subject, body=rendered.body,
                   parts=parts)


@dataclass(frozen=True)
class ToMember:
    """One message of `queue_many`: `context`, `language` and `body` as `queue` takes them."""

    member: object
    context: dict
    language: str | None = None
    body: str | None = None


def queue_many(merchant: Merchant, *, event: str, items: Sequence[ToMember],
               channel: str = Channel.SMS) -> list[Message | None]:
    """`queue` for many members of the merchant at once (the tick's jobs): the same rules and
    the same rows, in a few statements whatever the count — one consent query, one query of
    push subscriptions, one INSERT of every message — and, after commit, their tasks queued
    in one transaction (tasks.enqueue_many_on_commit). Call it inside the operation's
    transaction. Returns, item by item, the message queued or None (as `queue` would)."""
    members = [item.member for item in items]
    if any(member.merchant_id != merchant.pk for member in members):
        raise ValueError("a member belongs to another merchant")  # a programming error
    allowed = _may_send_many(merchant, members, event)
    live = (push.live_of({member.person_id for member in members if member.pk in allowed})
            if allowed and _may_push(channel, event, members[0], None) else {})
    now = clock.now()
    due = _due(merchant, event, now)
    found: list[Message | None] = []
    for item in items:
        member = item.member
        message = None
        if member.pk in allowed:
            message = _message(merchant, event, member, None, item.context, channel,
                               item.language, item.body,
                               lambda person_id=member.person_id: live.get(person_id))
        if message is not None:
            message.created_at, message.next_attempt_at = now, due
        found.append(message)
    rows = [message for message in found if message is not None]
    if rows:
        Message.objects.bulk_create(rows)  # ids come back (PostgreSQL, SQLite 3.35+)
        tasks.enqueue_many_on_commit([message.pk for message in rows],
                                     None if due == now else due)
    return found


def _may_send_many(merchant: Merchant, members: Sequence, event: str) -> set[int]:
    """The ids of the members `may_send` lets have a message about `event`: one query."""
    ids = {member.pk for member in members}
    if event in REQUESTED or not ids:
        return ids
    if event not in MARKETING:
        policy = settings_for(merchant).transactional
        if policy == Settings.Transactional.ALL:
            return ids
        if policy != Settings.Transactional.CONSENTED:
            return set()
    return set(Consent.objects.filter(merchant=merchant, member_id__in=ids,
                                      kind=Consent.Kind.MESSAGES, revoked_at__isnull=True)
               .values_list("member_id", flat=True))
