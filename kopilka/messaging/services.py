"""Message templates (the merchant's texts, over the shipped defaults), their preview, and
`queue`, the one call every service uses to send a member a message."""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils.translation import gettext as _

from kopilka.core import audit, clock
from kopilka.core.actor import Actor
from kopilka.core.errors import InvalidInput
from kopilka.core.phones import normalize_phone
from kopilka.messaging import render, sms, tasks
from kopilka.messaging.defaults import DEFAULTS
from kopilka.messaging.models import Channel, Event, Message, Template
from kopilka.tenancy.models import Merchant

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
    _check_choice(channel, Channel.values, "channel")


def effective(merchant: Merchant, event: str, language: str, channel: str) -> Effective:
    _check_key(event, language, channel)
    subject, body = DEFAULTS[event][language]
    row = Template.objects.filter(merchant=merchant, event=event, language=language,
                                  channel=channel).first()
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


def queue(merchant: Merchant, *, event: str, member=None, recipient: str | None = None,
          context: dict, channel: str = Channel.SMS,
          language: str | None = None) -> Message | None:
    """Write the event's message to the outbox and send it after commit.

    Call it inside the operation's transaction: a rollback then sends nothing. Returns None,
    queuing nothing, when the merchant switched the event off or the member has no address
    for the channel. `context` holds raw figures (see render.values); `language` defaults to
    the merchant's."""
    if member is not None and member.merchant_id != merchant.pk:
        raise ValueError("the member belongs to another merchant")  # a programming error
    language = language or merchant.language
    template = effective(merchant, event, language, channel)
    if not template.enabled:
        return None
    address = _recipient(merchant, channel, member, recipient)
    if address is None:
        return None
    rendered = _rendered(merchant, language, channel, template.subject, template.body, context)
    now = clock.now()
    message = Message.objects.create(
        merchant=merchant, member=member, event=event, channel=channel, recipient=address,
        language=language, subject=rendered.subject, body=rendered.body, parts=rendered.parts,
        next_attempt_at=now, created_at=now,
    )
    tasks.enqueue_on_commit(message.pk)
    return message
