"""Win-back attribution (issue #5; ANL-1 figures 16-17): which purchases the inactivity chains
brought back, and the figures analytics reports.

A contact (`WinbackContact`, written by chains.py) that reached the member — a message queued
or a gift granted — opens a window of the program's `winback_window_days` (30 by default, the
value in force at the contact). A purchase by that member after the contact and within the
window is won back: the daily `winback_attribution` job records it once (`WinbackPurchase`,
unique per purchase), credited to the latest contact before it.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Count, Exists, F, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from kopilka.automation.jobs import _chunks
from kopilka.automation.models import WinbackContact, WinbackPurchase
from kopilka.core import clock
from kopilka.core.errors import InvalidInput
from kopilka.messaging.models import Channel
from kopilka.processing.models import Purchase
from kopilka.programs.engine import CompiledProgram
from kopilka.tenancy.models import Merchant

# How far back a run looks for purchases not yet attributed: a week of missed runs, or of a
# POS uploading offline sales late, is caught up.
LOOKBACK = timedelta(days=7)

REACHED = Q(sent=True) | Q(points__gt=0)


def attribute(merchant: Merchant, program: CompiledProgram, at: datetime,
              day: date) -> dict[str, int]:
    """Mark the purchases of the last `LOOKBACK` that followed a win-back contact within its
    window, each once, to the latest such contact. One query finds them all."""
    latest = (
        WinbackContact.objects.filter(REACHED, merchant=merchant, member=OuterRef("member_id"),
                                      at__lt=OuterRef("occurred_at"),
                                      attributable_until__gte=OuterRef("occurred_at"))
        .order_by("-at", "-pk").values("pk")[:1]
    )
    done = WinbackPurchase.objects.filter(purchase=OuterRef("pk"))
    found = list(
        Purchase.objects.filter(merchant=merchant, occurred_at__gte=at - LOOKBACK,
                                occurred_at__lte=at)
        .filter(~Exists(done))
        .annotate(won_by=Subquery(latest)).filter(won_by__isnull=False)
        .order_by("pk").values_list("pk", "member_id", "occurred_at", "won_by")
    )
    now = clock.now()
    for chunk in _chunks(found):
        with transaction.atomic():
            WinbackPurchase.objects.bulk_create([
                WinbackPurchase(merchant=merchant, purchase_id=pk, member_id=member_id,
                                occurred_at=occurred_at, contact_id=contact_id,
                                attributed_at=now)
                for pk, member_id, occurred_at, contact_id in chunk
            ])
    return {"purchases": len(found)}


@dataclass(frozen=True)
class Figures:
    """What win-back did in a period (the merchant's local days, both included)."""

    participants: int  # members a contact in the period reached (a message or a gift)
    contacts: int  # contacts that reached the member
    messages: int  # of them with a message
    sms_parts: int
    sms_cost: int  # money minor units, as the outbox charged them
    gifts: int  # of them with a gift
    gift_points: int
    purchases: int  # won-back purchases made in the period
    buyers: int
    revenue: int  # those checks after discount, less what was refunded of them


def figures(merchant: Merchant, start: date, end: date) -> Figures:
    """The win-back figures of the local days `start`..`end`: contacts made and purchases
    made in the period (a purchase counts in the period it was made, wherever its contact)."""
    if end < start:
        raise InvalidInput(_("The period must not end before it starts."), field="end")
    zone = ZoneInfo(merchant.timezone)
    since = datetime.combine(start, time(0), tzinfo=zone)
    before = datetime.combine(end + timedelta(days=1), time(0), tzinfo=zone)
    sms = Q(message__channel=Channel.SMS)
    contacts = (
        WinbackContact.objects.filter(REACHED, merchant=merchant, at__gte=since, at__lt=before)
        .aggregate(
            contacts=Count("pk"), participants=Count("member", distinct=True),
            messages=Count("pk", filter=Q(sent=True)),
            sms_parts=Coalesce(Sum("message__parts", filter=sms), 0),
            sms_cost=Coalesce(Sum("message__cost", filter=sms), 0),
            gifts=Count("pk", filter=Q(points__gt=0)), gift_points=Coalesce(Sum("points"), 0),
        )
    )
    net = F("purchase__total") - F("purchase__discount") - F("purchase__refunded_amount")
    sales = (
        WinbackPurchase.objects.filter(merchant=merchant, occurred_at__gte=since,
                                       occurred_at__lt=before)
        .aggregate(purchases=Count("pk"), buyers=Count("member", distinct=True),
                   revenue=Coalesce(Sum(net), 0))
    )
    return Figures(**contacts, **sales)
