"""NPS and service quality (FBK-1, FBK-3), from the scores of reviews written in a period.

The scale is 1-5, not NPS's 0-10, so the groups are mapped (docs/feedback.md):
promoters score 5, passives 4, detractors 1-3. NPS = % promoters − % detractors, a whole
number from −100 to 100 (halves away from zero); none without reviews. Analytics figures
12-15 count the same groups: positive (5), neutral (4), negative (1-3).
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from django.db.models import Count, Q, Sum

from kopilka.feedback.models import Review
from kopilka.processing.models import Purchase
from kopilka.tenancy.models import Merchant

PROMOTER, PASSIVE = 5, 4  # detractors: 1-3


def nps(promoters: int, passives: int, detractors: int) -> int | None:
    total = promoters + passives + detractors
    if total == 0:
        return None
    difference = (promoters - detractors) * 100
    quotient = (abs(difference) * 2 + total) // (total * 2)
    return quotient if difference >= 0 else -quotient


@dataclass(frozen=True)
class Quality:
    """The reviews of one cashier, store, or all of them, in a period."""

    key: int | None  # the staff or store id; None: none named / the total
    label: str
    reviews: int
    score_sum: int
    promoters: int
    passives: int
    detractors: int
    sales: int  # purchases behind them in the period: small samples show as such

    @property
    def average(self) -> Decimal | None:
        if not self.reviews:
            return None
        return (Decimal(self.score_sum) / self.reviews).quantize(Decimal("0.1"), ROUND_HALF_UP)

    @property
    def nps(self) -> int | None:
        return nps(self.promoters, self.passives, self.detractors)


def bounds(merchant: Merchant, start: date, end: date) -> tuple[datetime, datetime]:
    """The merchant's local days start..end (both included) as [since, before)."""
    zone = ZoneInfo(merchant.timezone)
    return (datetime.combine(start, time(0), tzinfo=zone),
            datetime.combine(end + timedelta(days=1), time(0), tzinfo=zone))


def _groups() -> dict:
    return {
        "reviews": Count("pk"),
        "score_sum": Sum("score", default=0),
        "promoters": Count("pk", filter=Q(score=PROMOTER)),
        "passives": Count("pk", filter=Q(score=PASSIVE)),
        "detractors": Count("pk", filter=Q(score__lt=PASSIVE)),
    }


def reviews_in(merchant: Merchant, since: datetime, before: datetime, *,
               store_id: int | None = None, cashier_id: int | None = None):
    rows = Review.objects.filter(merchant=merchant, created_at__gte=since,
                                 created_at__lt=before)
    if store_id is not None:
        rows = rows.filter(store_id=store_id)
    if cashier_id is not None:
        rows = rows.filter(cashier_id=cashier_id)
    return rows


def _sales(merchant: Merchant, since: datetime, before: datetime, by: str | None,
           store_id: int | None, cashier_id: int | None) -> dict:
    rows = Purchase.objects.filter(merchant=merchant, occurred_at__gte=since,
                                   occurred_at__lt=before)
    if store_id is not None:
        rows = rows.filter(store_id=store_id)
    if cashier_id is not None:
        rows = rows.filter(cashier_id=cashier_id)
    if by is None:
        return {None: rows.count()}
    return {row[by]: row["n"] for row in rows.values(by).annotate(n=Count("pk")).order_by()}


def summary(merchant: Merchant, start: date, end: date, *, store_id: int | None = None,
            cashier_id: int | None = None) -> Quality:
    """All the period's reviews (at the store, by the cashier, when named)."""
    since, before = bounds(merchant, start, end)
    found = reviews_in(merchant, since, before, store_id=store_id,
                       cashier_id=cashier_id).aggregate(**_groups())
    sales = _sales(merchant, since, before, None, store_id, cashier_id)[None]
    return Quality(key=None, label="", sales=sales, **found)


def per(merchant: Merchant, start: date, end: date, by: str, *, store_id: int | None = None,
        cashier_id: int | None = None, labels: dict | None = None) -> list[Quality]:
    """One row per cashier (`by="cashier_id"`) or store (`by="store_id"`) with reviews or
    sales in the period, most reviews first; `labels` names them by id."""
    if by not in ("cashier_id", "store_id"):
        raise ValueError(by)  # a programming error
    since, before = bounds(merchant, start, end)
    found = {row[by]: row for row in reviews_in(merchant, since, before, store_id=store_id,
                                                 cashier_id=cashier_id)
             .values(by).annotate(**_groups()).order_by()}
    sales = _sales(merchant, since, before, by, store_id, cashier_id)
    labels = labels or {}
    rows = []
    for key in found.keys() | sales.keys():
        counts = found.get(key, {})
        rows.append(Quality(key=key, label=labels.get(key, ""), sales=sales.get(key, 0),
                            **{name: counts.get(name, 0) or 0 for name in _groups()}))
    return sorted(rows, key=lambda row: (-row.reviews, -row.sales, row.label, row.key or 0))


def figures(merchant: Merchant, since: datetime, before: datetime, *,
            store_id: int | None = None, cashier_id: int | None = None) -> dict[str, int]:
    """Analytics figures 12-15 for reviews written in [since, before): total, positive (5),
    negative (1-3), neutral (4), and each of them by status (`positive_new`, ...)."""
    rows = reviews_in(merchant, since, before, store_id=store_id, cashier_id=cashier_id)
    found = {"reviews_total": 0, "reviews_positive": 0, "reviews_negative": 0,
             "reviews_neutral": 0}
    by_status = {}
    groups = {"positive": Q(score=PROMOTER), "neutral": Q(score=PASSIVE),
              "negative": Q(score__lt=PASSIVE)}
    for status in Review.Status.values:
        for name, condition in groups.items():
            by_status[f"{name}_{status}"] = Count("pk", filter=condition & Q(status=status))
    counted = rows.aggregate(total=Count("pk"), **by_status)
    found["reviews_total"] = counted.pop("total")
    for key, value in counted.items():
        name = key.split("_", 1)[0]
        found[f"reviews_{name}"] += value
    found["by_status"] = counted
    return found
