"""The cabinet's sales list totals from the roll-up (#16): a period of whole local days at a
store and/or cashier adds up days × stores × cashiers cells, not the period's purchases.

The sums are the purchases' own columns, gross, as the list shows them (count, total,
discount, points spent, paid with points, points accrued, refunded): the cells keep the
figures net of refunds and beside them what refunds took (`refunded`, `points_reversed`,
`points_returned`), so the gross ones follow exactly; tests/cabinet/test_sales_totals.py
compares them with the purchases' sums. A refund counts in its purchase's cell, as the list
counts it on its purchase's row."""

from datetime import date

from django.db.models import Sum
from django.db.models.functions import Coalesce

from kopilka.analytics.models import CELL, DayFigures
from kopilka.tenancy.models import Merchant

NAMES = ("purchases", "total", "revenue", "refunded", "points_spent", "points_returned",
         "paid_with_points", "points_accrued", "points_reversed")


def sales_totals(merchant: Merchant, since: date, until: date, *, store_id: int | None = None,
                 cashier_id: int | None = None) -> dict[str, int]:
    """Totals of the purchases made from `since` to `until` (local days, both included),
    optionally at one store and by one cashier: the keys of the cabinet's sales list."""
    rows = DayFigures.objects.filter(merchant=merchant, previous_day=CELL, day__gte=since,
                                     day__lte=until)
    if store_id is not None:
        rows = rows.filter(store_id=store_id)
    if cashier_id is not None:
        rows = rows.filter(cashier_id=cashier_id)
    found = rows.aggregate(**{name: Coalesce(Sum(name), 0) for name in NAMES})
    return {
        "count": found["purchases"],
        "total": found["total"],
        # revenue = total - discount - refunded, purchase by purchase
        "discount": found["total"] - found["revenue"] - found["refunded"],
        "points_spent": found["points_spent"] + found["points_returned"],
        "paid_with_points": found["paid_with_points"],
        "accrued": found["points_accrued"] + found["points_reversed"],
        "refunded": found["refunded"],
    }
