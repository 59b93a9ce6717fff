"""The 17 figures (ANL-1) of a period, each beside the previous period of equal length.

Definitions in docs/analytics.md. Figures 1-7 come from the roll-up (rollup.py) and follow the
store and cashier asked for; 8-10 describe the member base at the end of the period, 11 the
SMS account, 16-17 win-back: those belong to the whole merchant and ignore the filter
(`scope` says which). Win-back lives on this floor's neighbour (automation), so the caller
passes its figures in as `winback` (the API does: kopilka/api/analytics.py).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import F, Q, Sum
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from kopilka.analytics.models import ALL_STORES, CELL, DayFigures, Settings
from kopilka.core import audit, clock
from kopilka.core.actor import Actor
from kopilka.core.errors import InvalidInput, NotFound
from kopilka.feedback import quality as reviews
from kopilka.messaging import billing
from kopilka.processing.models import Purchase
from kopilka.tenancy.models import Merchant, Staff, Store

DEFAULT_DAYS = 30
MAX_DAYS = 3 * 366 + 1  # three years: enough for any comparison an owner makes
# Days a period may name: far from the calendar's ends (the previous period, the moment after
# the last day must exist) and from what a loyalty program has data for.
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2199, 12, 31)
SELECTION, MERCHANT = "selection", "merchant"
# Reviews (figures 12-15): counted by feedback (its quality.figures; the scale's mapping is in
# docs/feedback.md), each group also by the reviews' status (`topic`).
REVIEWS_AVAILABLE = True
REVIEW_GROUPS = ((13, "positive"), (14, "negative"), (15, "neutral"))

WinbackFigures = Callable[[Merchant, date, date], Any]  # automation.winback.figures


@dataclass(frozen=True)
class Period:
    start: date  # the merchant's local days, both included
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def before(self) -> "Period":
        """The period of equal length that ends the day before this one starts."""
        end = self.start - timedelta(days=1)
        return Period(end - timedelta(days=self.days - 1), end)


@dataclass(frozen=True)
class Figure:
    number: int  # ANL-1's number, 1-17
    key: str
    unit: str  # money (minor units), points, count
    scope: str  # SELECTION: follows store and cashier; MERCHANT: the whole merchant
    value: int
    previous: int
    topic: str | None = None  # figure 11: the message's event

    @property
    def change(self) -> int:
        return self.value - self.previous

    @property
    def change_percent(self) -> float | None:
        """The change in per cent of the previous value, one decimal; None from zero."""
        if self.previous == 0:
            return None
        return round(self.change * 100 / abs(self.previous), 1)


@dataclass(frozen=True)
class Report:
    period: Period
    previous: Period
    store_id: int | None
    cashier_id: int | None
    lost_after_days: int
    reviews_available: bool
    figures: list[Figure]


def period(merchant: Merchant, start: date | None, end: date | None) -> Period:
    """The period asked for; by default the last DEFAULT_DAYS local days up to today."""
    if end is None:
        end = clock.now().astimezone(ZoneInfo(merchant.timezone)).date()
    _within_reason(end, "until")  # before the default start is counted back from it
    if start is None:
        start = end - timedelta(days=DEFAULT_DAYS - 1)
    _within_reason(start, "since")
    if end < start:
        raise InvalidInput(_("The period must not end before it starts."), field="until")
    if (end - start).days + 1 > MAX_DAYS:
        raise InvalidInput(_("A period may be at most %(days)s days long.") % {"days": MAX_DAYS},
                           field="since")
    return Period(start, end)


def _within_reason(day: date, field: str) -> None:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise InvalidInput(_("A day from %(first)s to %(last)s, please.")
                           % {"first": FIRST_DAY.isoformat(), "last": LAST_DAY.isoformat()},
                           field=field)


def lost_after_days(merchant: Merchant) -> int:
    found = Settings.objects.filter(merchant=merchant).values_list("lost_after_days", flat=True)
    return next(iter(found), Settings._meta.get_field("lost_after_days").default)


def save_settings(merchant: Merchant, *, lost_after_days: int, actor: Actor) -> Settings:
    if type(lost_after_days) is not int or not 1 <= lost_after_days <= 3650:
        raise InvalidInput(_("Lost after: a whole number of days from 1 to 3650."),
                           field="lost_after_days")
    row, _created = Settings.objects.update_or_create(
        merchant=merchant, defaults={"lost_after_days": lost_after_days})
    audit.record("analytics.settings.saved", actor=actor, merchant=merchant, obj=row,
                 data={"lost_after_days": lost_after_days})
    return row


def _store(merchant: Merchant, store_id: int | None) -> None:
    if store_id is not None and not Store.objects.filter(merchant=merchant,
                                                         pk=store_id).exists():
        raise NotFound(_("No store %(id)s.") % {"id": store_id}, field="store")


def _cashier(merchant: Merchant, cashier_id: int | None) -> None:
    if cashier_id is not None and not Staff.objects.filter(merchant=merchant,
                                                           pk=cashier_id).exists():
        raise NotFound(_("No cashier %(id)s.") % {"id": cashier_id}, field="cashier")


def _bounds(merchant: Merchant, span: Period) -> tuple[datetime, datetime]:
    zone = ZoneInfo(merchant.timezone)
    return (datetime.combine(span.start, time(0), tzinfo=zone),
            datetime.combine(span.end + timedelta(days=1), time(0), tzinfo=zone))


class _Reader:
    """The queries of one report: the merchant and the selection (store, cashier)."""

    def __init__(self, merchant: Merchant, store_id: int | None, cashier_id: int | None):
        self.merchant = merchant
        # Filters of both the roll-up's cells and the purchases (the same column names).
        self.selection = {name: value for name, value in (("store_id", store_id),
                                                          ("cashier_id", cashier_id))
                          if value is not None}

    def sums(self, span: Period) -> dict[str, int]:
        """Figures 1-7's sums over the selected cells of the period."""
        names = ("checks", "revenue", "discount", "points_accrued", "points_spent")
        return DayFigures.objects.filter(
            merchant=self.merchant, previous_day=CELL, day__gte=span.start, day__lte=span.end,
            **self.selection,
        ).aggregate(**{name: Coalesce(Sum(name), 0) for name in names})

    def base(self, end: date) -> dict[str, int]:
        """The member base at the end of `end`: members registered, and members whose 1st,
        2nd, 3rd purchase was made by then (every store and cashier)."""
        names = ("enrolled", "first_purchases", "second_purchases", "third_purchases")
        return DayFigures.objects.filter(merchant=self.merchant, previous_day=CELL,
                                         day__lte=end).aggregate(
            **{name: Coalesce(Sum(name), 0) for name in names})

    def enrolled(self, span: Period) -> int:
        """Members registered in the period."""
        return DayFigures.objects.filter(
            merchant=self.merchant, previous_day=CELL, day__gte=span.start, day__lte=span.end,
        ).aggregate(n=Coalesce(Sum("enrolled"), 0))["n"]

    def buyers(self, span: Period, *, counted_only: bool, selected: bool) -> int:
        """Members with a purchase in the period: with `counted_only`, a check (a purchase
        not refunded in full); with `selected`, at the selected store and cashier.

        From the roll-up's buyers rows (models.DayFigures): each member counts on the first
        day they bought in the period, the one whose previous purchase day (in the scope) is
        before the period: rows of the period's days, not its purchases. The rows keep the
        whole merchant's and each store's checks, and every purchase of the whole merchant;
        a cashier's buyers come from the purchases (a cashier's share of them)."""
        if selected and "cashier_id" in self.selection:
            return self._raw_buyers(span, counted_only=counted_only, selected=selected)
        store = self.selection.get("store_id", ALL_STORES) if selected else ALL_STORES
        if not counted_only and store != ALL_STORES:  # not kept: no figure asks for it
            return self._raw_buyers(span, counted_only=counted_only, selected=selected)
        counter = "customers" if counted_only else "buyers"
        return DayFigures.objects.filter(
            merchant=self.merchant, store_id=store, day__gte=span.start, day__lte=span.end,
            previous_day__lt=span.start,
        ).aggregate(n=Coalesce(Sum(counter), 0))["n"]

    def _raw_buyers(self, span: Period, *, counted_only: bool, selected: bool) -> int:
        since, before = _bounds(self.merchant, span)
        rows = Purchase.objects.filter(merchant=self.merchant, occurred_at__gte=since,
                                       occurred_at__lt=before,
                                       **(self.selection if selected else {}))
        if counted_only:
            rows = rows.filter(Q(refunded_amount=0)
                               | Q(refunded_amount__lt=F("total") - F("discount")))
        return rows.values("member_id").distinct().count()

    def sms(self, span: Period) -> dict[str, int]:
        since, before = _bounds(self.merchant, span)
        return {row.event: row.cost for row in billing.costs(self.merchant, since, before)}


def _ratio(amount: int, count: int) -> int:
    """amount / count in whole minor units, halves away from zero; 0 over nothing."""
    if count == 0:
        return 0
    quotient = (abs(amount) * 2 + count) // (count * 2)
    return quotient if amount >= 0 else -quotient


def report(merchant: Merchant, start: date | None = None, end: date | None = None, *,
           store_id: int | None = None, cashier_id: int | None = None,
           winback: WinbackFigures | None = None) -> Report:
    """All 17 figures of the period and of the one before it. Another merchant's store or
    staff id is NotFound. Without `winback`, figures 16-17 are left out."""
    now_span = period(merchant, start, end)
    before_span = now_span.before()
    _store(merchant, store_id)
    _cashier(merchant, cashier_id)
    reader = _Reader(merchant, store_id, cashier_id)
    lost_after = lost_after_days(merchant)

    def values(span: Period) -> dict[str, Any]:
        sums = reader.sums(span)
        base = reader.base(span.end)
        active = Period(span.end - timedelta(days=lost_after - 1), span.end)
        found = {
            "revenue": sums["revenue"],
            "checks": sums["checks"],
            "average_check": _ratio(sums["revenue"], sums["checks"]),
            "average_discount": _ratio(sums["discount"], sums["checks"]),
            "revenue_per_member": _ratio(
                sums["revenue"], reader.buyers(span, counted_only=True, selected=True)),
            "points_accrued": sums["points_accrued"],
            "points_spent": sums["points_spent"],
            "members_total": base["enrolled"],
            "members_new": reader.enrolled(span),
            "members_1_purchase": base["first_purchases"] - base["second_purchases"],
            "members_2_purchases": base["second_purchases"] - base["third_purchases"],
            "members_3_or_more_purchases": base["third_purchases"],
            # Everyone who ever bought, less those who bought in the last N days.
            "members_lost": base["first_purchases"]
            - reader.buyers(active, counted_only=False, selected=False),
            "sms": reader.sms(span),
            **reviews.figures(merchant, *_bounds(merchant, span)),
        }
        if winback is not None:
            won = winback(merchant, span.start, span.end)
            found |= {"winback_participants": won.participants,
                      "winback_sms_cost": won.sms_cost,
                      "winback_purchases": won.purchases, "winback_revenue": won.revenue}
        return found

    now, before = values(now_span), values(before_span)

    def figure(number: int, key: str, unit: str, scope: str = SELECTION) -> Figure:
        return Figure(number, key, unit, scope, now[key], before[key])

    figures = [
        figure(1, "revenue", "money"),
        figure(2, "checks", "count"),
        figure(3, "average_check", "money"),
        figure(4, "average_discount", "money"),
        figure(5, "revenue_per_member", "money"),
        figure(6, "points_accrued", "points"),
        figure(7, "points_spent", "points"),
        figure(8, "members_total", "count", MERCHANT),
        figure(8, "members_new", "count", MERCHANT),
        figure(9, "members_1_purchase", "count", MERCHANT),
        figure(9, "members_2_purchases", "count", MERCHANT),
        figure(9, "members_3_or_more_purchases", "count", MERCHANT),
        figure(10, "members_lost", "count", MERCHANT),
        Figure(11, "sms_cost", "money", MERCHANT, sum(now["sms"].values()),
               sum(before["sms"].values())),
        *(Figure(11, "sms_cost", "money", MERCHANT, now["sms"].get(topic, 0),
                 before["sms"].get(topic, 0), topic=topic)
          for topic in sorted(now["sms"].keys() | before["sms"].keys())),
        figure(12, "reviews_total", "count", MERCHANT),
        *(row for number, group in REVIEW_GROUPS for row in (
            figure(number, f"reviews_{group}", "count", MERCHANT),
            *(Figure(number, f"reviews_{group}", "count", MERCHANT,
                     now["by_status"][f"{group}_{status}"],
                     before["by_status"][f"{group}_{status}"], topic=status)
              for status in ("new", "in_progress", "processed")))),
    ]
    if winback is not None:
        figures += [
            figure(16, "winback_participants", "count", MERCHANT),
            figure(16, "winback_sms_cost", "money", MERCHANT),
            figure(17, "winback_purchases", "count", MERCHANT),
            figure(17, "winback_revenue", "money", MERCHANT),
        ]
    return Report(now_span, before_span, store_id, cashier_id, lost_after,
                  REVIEWS_AVAILABLE, figures)
