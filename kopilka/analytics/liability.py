"""The owner's money view: what the points members hold are worth (the points liability),
what of them expires soon, and breakage (expired ÷ issued). Read-only queries over the
ledger's rows (entries and lots); nothing here writes.

- Outstanding at the end of a local day: the sum of every entry's available and pending
  deltas up to that moment, valued at the program's point value (money minor units, halves
  up). Expiries count once the daily job has journalled them (at 00:00 local).
- Expiring in the next 30 and 90 days: the open lots' remaining points whose own expiry falls
  in that window, counted from now (lots carry what is left today, not what was left then).
- Breakage: points expired ÷ points issued (accruals, welcome, gifts, referrals, codes,
  manual grants; not the points that moved between members or came back by a refund), up to
  the end of the day, in per cent with one decimal.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Sum
from django.db.models.functions import Coalesce

from kopilka.core import clock
from kopilka.core.errors import Conflict
from kopilka.ledger.models import Entry, Lot
from kopilka.programs import services as programs
from kopilka.tenancy.models import Merchant

ISSUED = (Lot.Kind.ACCRUAL, Lot.Kind.WELCOME, Lot.Kind.GIFT, Lot.Kind.REFERRAL, Lot.Kind.CODE,
          Lot.Kind.ADJUSTMENT)
WINDOWS = (30, 90)


@dataclass(frozen=True)
class Liability:
    day: date
    available: int  # points (minor units)
    pending: int
    available_money: int  # money minor units
    pending_money: int
    expiring: dict[int, tuple[int, int]]  # days -> (points, money)
    issued: int
    expired: int
    breakage_percent: float | None  # None before any point was issued

    @property
    def points(self) -> int:
        return self.available + self.pending

    @property
    def money(self) -> int:
        return self.available_money + self.pending_money


def value(merchant: Merchant):
    """points -> money minor units at the program's point value (1:1 without a program)."""
    try:
        rate = programs.load(merchant).config.point_value
        money, per = rate.money, rate.points
    except Conflict:
        money, per = 1, 1

    def worth(points: int) -> int:
        return (points * money * 2 + per) // (per * 2) if points >= 0 else -worth(-points)
    return worth


def liability(merchant: Merchant, day: date | None = None) -> Liability:
    zone = ZoneInfo(merchant.timezone)
    now = clock.now()
    day = day or now.astimezone(zone).date()
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    sums = Entry.objects.filter(merchant=merchant, occurred_at__lt=end).aggregate(
        available=Coalesce(Sum("available_delta"), 0), pending=Coalesce(Sum("pending_delta"), 0))
    expired = Entry.objects.filter(merchant=merchant, occurred_at__lt=end,
                                   kind=Entry.Kind.EXPIRE).aggregate(
        points=Coalesce(Sum("available_delta"), 0) + Coalesce(Sum("pending_delta"), 0))
    issued = Lot.objects.filter(merchant=merchant, created_at__lt=end, kind__in=ISSUED
                                ).aggregate(points=Coalesce(Sum("amount"), 0))["points"]
    worth = value(merchant)
    expiring = {}
    for days in WINDOWS:
        points = Lot.objects.filter(merchant=merchant, remaining__gt=0, expires_at__gt=now,
                                    expires_at__lte=now + timedelta(days=days)
                                    ).aggregate(points=Coalesce(Sum("remaining"), 0))["points"]
        expiring[days] = (points, worth(points))
    gone = -expired["points"]
    return Liability(
        day=day, available=sums["available"], pending=sums["pending"],
        available_money=worth(sums["available"]), pending_money=worth(sums["pending"]),
        expiring=expiring, issued=issued, expired=gone,
        breakage_percent=round(gone * 100 / issued, 1) if issued else None)
