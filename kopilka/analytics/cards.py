"""One figure at a time, and the series the charts draw (ANL-1, ANL-2).

The cabinet loads each of the 17 figures on its own request (lazily, never all in the first
response), so each is computed here by itself, with only the queries it needs; the values are
the ones `figures.report` gives (tests/analytics/test_cards.py compares every one). Reviews
(12-15) are whatever `figures.report` makes of them (the reviews feature wires them there).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.db.models import Count, Sum
from django.db.models.functions import Coalesce

from kopilka.analytics import figures
from kopilka.analytics.figures import MERCHANT, SELECTION, Figure, Period, _ratio, _Reader
from kopilka.analytics.models import CELL, DayFigures
from kopilka.ledger.models import Account
from kopilka.members.models import Member
from kopilka.tenancy.models import Merchant

NUMBERS = tuple(range(1, 18))
# Figures that follow the store and cashier chosen; the others describe the whole merchant.
SELECTED = frozenset({1, 2, 3, 4, 5, 6, 7})


@dataclass(frozen=True)
class Selection:
    merchant: Merchant
    period: Period
    store_id: int | None = None
    cashier_id: int | None = None


def select(merchant: Merchant, start: date | None, end: date | None, *,
           store_id: int | None = None, cashier_id: int | None = None) -> Selection:
    """A checked selection: the period within reason, the store and cashier the merchant's
    (another merchant's id is NotFound)."""
    span = figures.period(merchant, start, end)
    figures._store(merchant, store_id)
    figures._cashier(merchant, cashier_id)
    return Selection(merchant, span, store_id, cashier_id)


def _pair(number: int, key: str, unit: str, scope: str, compute: Callable[[Period], int],
          span: Period) -> Figure:
    return Figure(number, key, unit, scope, compute(span), compute(span.before()))


def figure(selection: Selection, number: int, *, winback: Any = None) -> list[Figure]:
    """Figure `number` (1-17) of the selection beside the previous period: one Figure, or its
    parts (8: total and new; 9: 1, 2, 3+ purchases; 11: all and per topic; 16, 17: two each).
    16 and 17 need `winback` (automation.winback.figures)."""
    if number not in NUMBERS:
        raise ValueError(f"no figure {number}")
    merchant, span = selection.merchant, selection.period
    reader = _Reader(merchant, selection.store_id, selection.cashier_id)

    def sums(name: str) -> Callable[[Period], int]:
        return lambda period: reader.sums(period)[name]

    if number in (1, 2, 6, 7):
        key, unit = {1: ("revenue", "money"), 2: ("checks", "count"),
                     6: ("points_accrued", "points"), 7: ("points_spent", "points")}[number]
        return [_pair(number, key, unit, SELECTION, sums(key), span)]
    if number in (3, 4):
        name = "revenue" if number == 3 else "discount"

        def average(period: Period) -> int:
            found = reader.sums(period)
            return _ratio(found[name], found["checks"])
        key = "average_check" if number == 3 else "average_discount"
        return [_pair(number, key, "money", SELECTION, average, span)]
    if number == 5:
        def per_member(period: Period) -> int:
            return _ratio(reader.sums(period)["revenue"],
                          reader.buyers(period, counted_only=True, selected=True))
        return [_pair(5, "revenue_per_member", "money", SELECTION, per_member, span)]
    if number == 8:
        return [_pair(8, "members_total", "count", MERCHANT,
                      lambda period: reader.base(period.end)["enrolled"], span),
                _pair(8, "members_new", "count", MERCHANT, reader.enrolled, span)]
    if number == 9:
        def part(lower: str, upper: str | None) -> Callable[[Period], int]:
            def count(period: Period) -> int:
                base = reader.base(period.end)
                return base[lower] - (base[upper] if upper else 0)
            return count
        return [
            _pair(9, "members_1_purchase", "count", MERCHANT,
                  part("first_purchases", "second_purchases"), span),
            _pair(9, "members_2_purchases", "count", MERCHANT,
                  part("second_purchases", "third_purchases"), span),
            _pair(9, "members_3_or_more_purchases", "count", MERCHANT,
                  part("third_purchases", None), span),
        ]
    if number == 10:
        lost_after = figures.lost_after_days(merchant)

        def lost(period: Period) -> int:
            active = Period(period.end - timedelta(days=lost_after - 1), period.end)
            return (reader.base(period.end)["first_purchases"]
                    - reader.buyers(active, counted_only=False, selected=False))
        return [_pair(10, "members_lost", "count", MERCHANT, lost, span)]
    if number == 11:
        now, before = reader.sms(span), reader.sms(span.before())
        return [Figure(11, "sms_cost", "money", MERCHANT, sum(now.values()),
                       sum(before.values())),
                *(Figure(11, "sms_cost", "money", MERCHANT, now.get(topic, 0),
                         before.get(topic, 0), topic=topic)
                  for topic in sorted(now.keys() | before.keys()))]
    if number in (16, 17):
        if winback is None:
            return []
        now, before = winback(merchant, span.start, span.end), winback(
            merchant, span.before().start, span.before().end)
        keys = ((("participants", "count"), ("sms_cost", "money")) if number == 16
                else (("purchases", "count"), ("revenue", "money")))
        return [Figure(number, f"winback_{name}", unit, MERCHANT, getattr(now, name),
                       getattr(before, name)) for name, unit in keys]
    # 12-15: reviews, as the report counts them (zeros until the reviews feature says they are
    # available; then the report, whose other figures this recomputes: a seam to narrow when
    # reviews land).
    if not figures.REVIEWS_AVAILABLE:
        key = {12: "reviews_total", 13: "reviews_positive", 14: "reviews_negative",
               15: "reviews_neutral"}[number]
        return [Figure(number, key, "count", MERCHANT, 0, 0)]
    found = figures.report(merchant, span.start, span.end, store_id=selection.store_id,
                           cashier_id=selection.cashier_id)
    return [one for one in found.figures if one.number == number]


# ---- the charts' series (ANL-2) ----

def days(span: Period) -> list[date]:
    return [span.start + timedelta(days=n) for n in range(span.days)]


def by_day(selection: Selection) -> dict[str, list]:
    """Revenue, checks, points accrued and spent per local day of the period (every day,
    zeros included), at the selected store and cashier."""
    span = selection.period
    rows = (DayFigures.objects.filter(merchant=selection.merchant, previous_day=CELL,
                                      day__gte=span.start, day__lte=span.end,
                                      **_Reader(selection.merchant, selection.store_id,
                                                selection.cashier_id).selection)
            .values("day").order_by("day")
            .annotate(**{name: Coalesce(Sum(name), 0) for name in
                         ("revenue", "checks", "points_accrued", "points_spent")}))
    found = {row["day"]: row for row in rows}
    every = days(span)
    return {"days": every, **{name: [found[day][name] if day in found else 0 for day in every]
                              for name in ("revenue", "checks", "points_accrued",
                                           "points_spent")}}


def tiers(merchant: Merchant) -> list[tuple[str, int]]:
    """Active members per tier code, the most populous first (ties by code)."""
    rows = (Account.objects.filter(merchant=merchant, member__status=Member.Status.ACTIVE)
            .values("tier_code").annotate(members=Count("pk")).order_by("-members",
                                                                         "tier_code"))
    return [(row["tier_code"], row["members"]) for row in rows]
