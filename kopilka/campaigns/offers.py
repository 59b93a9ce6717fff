"""Targeted offers (CMP-4): an SMS, with or without gift points, to a saved segment.

- `create_offer`: a draft — the segment, the text (placeholders {name} {points} {date}
  {merchant} only, checked by core/placeholders.py), the gift (points valid D days, or none)
  and the attribution window.
- `estimate(offer)`: before sending, who gets it — the segment's active members with consent
  to messages and a phone — the SMS parts their texts take (each text rendered as that member
  gets it, sms.segment), the cost at the merchant's price per part (billing.price_of), what of
  it the free parts do not cover, and whether the SMS balance pays for that.
- `send(offer)`: refuses an offer the balance cannot pay, then hands it to the background task
  `send_batch`, which takes BATCH members at a time, each in its own transaction: an
  `OfferRecipient` row (unique per offer and member: a batch run twice, or two workers at
  once, give nobody a second gift), the gift through processing (cause `offer <row id>`, a
  `gift` lot) and the message through messaging.queue (event `offer`, a marketing one: consent,
  opt-outs and quiet hours are honoured there). The offer's page shows `sent` of `recipients`.
  `resume_due(at)` moves on an offer whose task was lost (meant for the tick: not registered
  yet, as that changes the tick's job list every test of it counts).
- `results(offer)`: messages delivered, gift points spent from the offer's lots, and purchases
  and revenue by the recipients within `window_days` after their message (the win-back
  attribution shape: total less discount less what was refunded).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.db.models import CharField, Count, Exists, F, OuterRef, Q, Sum
from django.db.models.functions import Cast, Coalesce
from django.tasks import task
from django.utils.translation import gettext as _
from django_scopes import scopes_disabled

from kopilka.campaigns.models import Offer, OfferRecipient
from kopilka.core import audit, clock, outbox, placeholders
from kopilka.core.actor import Actor
from kopilka.core.errors import Conflict, DomainError, InvalidInput
from kopilka.ledger.models import Entry, Lot
from kopilka.members import segments
from kopilka.members.models import Consent, Member, Segment
from kopilka.messaging import billing, render, sms
from kopilka.messaging import services as messaging
from kopilka.messaging.models import Event, Message
from kopilka.processing import grants
from kopilka.processing.models import Purchase
from kopilka.programs import engine
from kopilka.programs import services as programs
from kopilka.tenancy.models import Merchant

CAUSE = "offer"
ALLOWED = ("name", "points", "date", "merchant")
BATCH = 200  # members per transaction-and-task step
MAX_TEXT = 1000
MAX_POINTS = 10**9
MAX_DAYS = 3650
RESUME_AFTER = timedelta(minutes=10)


@dataclass(frozen=True)
class Estimate:
    recipients: int
    parts: int  # SMS parts of all their texts together
    price: int  # of one part, money minor units
    cost: int  # parts x price
    free_parts: int  # the merchant's free parts left
    payable: int  # what the free parts do not cover
    balance: int  # the SMS balance now

    @property
    def affordable(self) -> bool:
        return self.payable <= self.balance


@dataclass(frozen=True)
class Results:
    recipients: int  # members the offer reached (a row each)
    messages: int  # messages queued for them
    delivered: int  # the provider accepted or confirmed them
    gifts: int
    gift_points: int  # granted
    gift_points_used: int  # spent from those lots
    purchases: int  # by recipients within the window after their message
    buyers: int
    revenue: int  # money minor units: total less discount less refunded


def _whole(value, field: str, low: int, high: int, message: str) -> int:
    if type(value) is not int or not low <= value <= high:
        raise InvalidInput(message, field=field)
    return value


def check_text(text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise InvalidInput(_("Write the text of the SMS."), field="text")
    if "\x00" in text:
        raise InvalidInput(_("The text must not contain NUL characters."), field="text")
    if len(text) > MAX_TEXT:
        raise InvalidInput(_("At most %(limit)s characters.") % {"limit": MAX_TEXT},
                           field="text")
    placeholders.check(text, "text")
    for name in placeholders.PLACEHOLDER.findall(text):
        if name not in ALLOWED:
            raise InvalidInput(
                _("An offer's text may use only %(known)s; {%(name)s} has no value here.")
                % {"known": ", ".join(f"{{{known}}}" for known in ALLOWED), "name": name},
                field="text")
    return text


def create_offer(merchant: Merchant, *, segment: Segment, name: str, text: str, actor: Actor,
                 points: int = 0, validity_days: int | None = None,
                 window_days: int = 30) -> Offer:
    if segment is None or segment.merchant_id != merchant.pk:
        raise InvalidInput(_("Choose a saved segment."), field="segment")
    name = " ".join((name or "").split())
    if not name:
        raise InvalidInput(_("Name the offer."), field="name")
    text = check_text(text)
    _whole(points, "points", 0, MAX_POINTS,
           _("Gift points must be a whole number, 0 for none."))
    if validity_days is not None:
        _whole(validity_days, "validity_days", 1, MAX_DAYS,
               _("Must be a positive whole number or empty."))
    _whole(window_days, "window_days", 1, 365, _("From 1 to 365 days."))
    if points and "{points}" not in text:
        raise InvalidInput(_("Tell the members about the gift: put {points} in the text."),
                           field="text")
    with transaction.atomic():
        offer = Offer.objects.create(
            merchant=merchant, segment=segment, segment_name=segment.name, name=name[:200],
            text=text, points=points, validity_days=validity_days if points else None,
            window_days=window_days, created_at=clock.now())
        audit.record("campaigns.offer.created", actor=actor, merchant=merchant, obj=offer,
                     data={"name": offer.name, "segment": segment.pk, "points": points,
                           "validity_days": offer.validity_days})
    return offer


def audience(offer: Offer):
    """The members the offer goes to now: the segment's active members with a phone and
    consent to messages, who have not had it yet."""
    if offer.segment is None:
        return Member.objects.none()
    consented = Consent.objects.filter(merchant=offer.merchant, member=OuterRef("pk"),
                                       kind=Consent.Kind.MESSAGES, revoked_at__isnull=True)
    had = OfferRecipient.objects.filter(offer=offer, member=OuterRef("pk"))
    return (segments.members(offer.segment)
            .filter(status=Member.Status.ACTIVE, person__phone__isnull=False)
            .exclude(person__phone="")
            .filter(Exists(consented)).filter(~Exists(had)))


def _expiry(offer: Offer, program, now: datetime) -> datetime | None:
    if not offer.points:
        return None
    return engine.expires_at_for(program, now, offer.merchant.timezone, offer.validity_days)


def _last_day(expires_at: datetime | None, merchant: Merchant):
    if expires_at is None:
        return None
    return (expires_at - timedelta(microseconds=1)).astimezone(ZoneInfo(merchant.timezone)
                                                                ).date()


def _context(offer: Offer, first_name: str, until) -> dict:
    return {"name": first_name, "points": offer.points or None, "date": until}


def estimate(offer: Offer) -> Estimate:
    merchant = offer.merchant
    program = programs.load(merchant)
    until = _last_day(_expiry(offer, program, clock.now()), merchant)
    fmt = render.formats(merchant, merchant.language)
    parts = recipients = 0
    for first_name in audience(offer).values_list("first_name", flat=True).iterator():
        text = render.render(offer.text, merchant, fmt, _context(offer, first_name, until))
        parts += sms.count_parts(text)
        recipients += 1
    row = billing.account(merchant)
    price = billing.price_of(row)
    free = min(parts, max(row.free_parts, 0)) if price else 0
    return Estimate(recipients=recipients, parts=parts, price=price, cost=parts * price,
                    free_parts=row.free_parts, payable=(parts - free) * price,
                    balance=row.balance)


def preview(offer: Offer) -> str:
    """The SMS as the first recipient gets it (or with a sample name when there is none)."""
    merchant = offer.merchant
    first_name = audience(offer).order_by("pk").values_list("first_name", flat=True).first()
    until = _last_day(_expiry(offer, programs.load(merchant), clock.now()), merchant)
    fmt = render.formats(merchant, merchant.language)
    sample = messaging.sample_context(merchant.language)["name"]
    return render.render(offer.text, merchant, fmt, _context(offer, first_name or sample, until))


def send(offer: Offer, *, actor: Actor) -> Estimate:
    """Start sending: refused when nobody would get it or the SMS balance cannot pay."""
    if offer.status != Offer.Status.DRAFT:
        raise Conflict(_("This offer has already been sent."), field=None)
    figures = estimate(offer)
    if not figures.recipients:
        raise InvalidInput(_("Nobody in this segment can get the offer: no member has "
                             "agreed to messages and has a phone."), field="segment")
    if not figures.affordable:
        raise Conflict(
            _("The SMS balance cannot pay for this offer: it costs %(payable)s and the "
              "balance is %(balance)s. Top up the SMS balance or choose a smaller segment.")
            % {"payable": billing.money(figures.payable), "balance": billing.money(
                figures.balance)}, field=None)
    with transaction.atomic():
        claimed = Offer.objects.filter(pk=offer.pk, status=Offer.Status.DRAFT).update(
            status=Offer.Status.SENDING, recipients=figures.recipients, parts=figures.parts,
            cost=figures.cost, started_at=clock.now())
        if not claimed:
            raise Conflict(_("This offer has already been sent."), field=None)
        offer.refresh_from_db()
        audit.record("campaigns.offer.sent", actor=actor, merchant=offer.merchant, obj=offer,
                     data={"recipients": figures.recipients, "parts": figures.parts,
                           "cost": figures.cost})
        outbox.enqueue_on_commit(send_batch, offer.pk)
    return figures


def _deliver(offer: Offer, member: Member, expires_at, until, now: datetime) -> bool:
    """One member: the row, the gift, the message. False when they had it already."""
    try:
        with transaction.atomic():
            row = OfferRecipient.objects.create(
                merchant=offer.merchant, offer=offer, member=member, points=offer.points,
                at=now, until=now + timedelta(days=offer.window_days))
            if offer.points:
                grants.grant_points(
                    offer.merchant, member, points=offer.points, cause_type=CAUSE,
                    cause_id=str(row.pk), lot_kind=Lot.Kind.GIFT, actor=Actor.system(),
                    validity_days=offer.validity_days)
            message = messaging.queue(offer.merchant, event=Event.OFFER, member=member,
                                      context=_context(offer, member.first_name, until),
                                      body=offer.text)
            if message is not None:
                row.message = message
                row.save(update_fields=["message"])
    except IntegrityError:  # another run gave it to this member a moment ago
        return False
    except DomainError:  # blocked or erased since the batch was read: leaves the audience
        return False
    return True


def run_batch(offer_id: int, size: int = BATCH) -> str:
    """Send to the next `size` members; "more" when some are left, else "done"."""
    def work(rows) -> str:
        offer = rows.select_related("merchant", "segment").first()
        if offer is None or offer.status != Offer.Status.SENDING:
            return outbox.SKIPPED
        program = programs.load(offer.merchant)
        now = clock.now()
        expires_at = _expiry(offer, program, now)
        until = _last_day(expires_at, offer.merchant)
        batch = list(audience(offer).select_related("person", "merchant").order_by("pk")
                     [:size])
        with messaging.templates_read_once(offer.merchant):
            for member in batch:
                _deliver(offer, member, expires_at, until, now)
        sent = OfferRecipient.objects.filter(offer=offer).count()
        left = len(batch) == size
        changes = {"sent": sent}
        if not left:
            changes.update(status=Offer.Status.SENT, finished_at=clock.now())
        rows.update(**changes)
        return "more" if left else "done"

    return outbox.in_scope(Offer, offer_id, work)


def resume_due(at: datetime) -> int:
    """A safety net for the tick: one batch of every offer still sending RESUME_AFTER after it
    started (its task was lost, or it is big). A batch beside a running task does no harm:
    each member's row is unique. Returns how many offers it moved on."""
    with scopes_disabled():
        stalled = list(Offer.objects.filter(status=Offer.Status.SENDING,
                                            started_at__lt=at - RESUME_AFTER)
                       .order_by("pk").values_list("pk", flat=True))
    return sum(run_batch(pk) != outbox.SKIPPED for pk in stalled)


@task()
def send_batch(offer_id: int) -> str:
    """The background step: one batch, then the next batch as a task of its own."""
    result = run_batch(offer_id)
    if result == "more":
        outbox.enqueue(send_batch, offer_id)
    return result


def results(offer: Offer) -> Results:
    rows = OfferRecipient.objects.filter(offer=offer)
    reached = rows.aggregate(
        recipients=Count("pk"), messages=Count("message"),
        delivered=Count("pk", filter=Q(message__status__in=(Message.Status.SENT,
                                                           Message.Status.DELIVERED))),
        gifts=Count("pk", filter=Q(points__gt=0)), gift_points=Coalesce(Sum("points"), 0))
    lots = Entry.objects.filter(
        merchant=offer.merchant, kind=Entry.Kind.GRANT, cause_type=CAUSE,
        cause_id__in=rows.annotate(key=Cast("pk", CharField())).values("key"),
    ).values("lot_id")
    spent = Entry.objects.filter(merchant=offer.merchant, lot_id__in=lots,
                                 kind=Entry.Kind.REDEEM).aggregate(
        n=Coalesce(Sum("available_delta"), 0))["n"]
    window = OfferRecipient.objects.filter(offer=offer, member=OuterRef("member_id"),
                                           at__lt=OuterRef("occurred_at"),
                                           until__gte=OuterRef("occurred_at"))
    net = F("total") - F("discount") - F("refunded_amount")
    sales = (Purchase.objects.filter(merchant=offer.merchant, occurred_at__gt=offer.started_at
                                     or clock.now())
             .filter(Exists(window))
             .aggregate(purchases=Count("pk"), buyers=Count("member", distinct=True),
                        revenue=Coalesce(Sum(net), 0)))
    return Results(gift_points_used=-spent, **reached, **sales)
