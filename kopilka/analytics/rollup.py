"""Keeping the roll-up (models.DayFigures) and re-deriving it from the raw rows.

Each sale, refund and enrolment adds its part to one cell — merchant × local day × store ×
cashier — with one statement, `INSERT ... ON CONFLICT DO UPDATE SET column = column + ...`
(the same SQL on SQLite and PostgreSQL), inside the operation's transaction: the cell changes
exactly when the purchase does, and two counters adding to one cell at once cannot lose an
update (the database serialises the row). `rebuild` computes every cell again from purchases,
refunds and members; tests/analytics/test_rollup.py checks the two agree cell by cell.
"""

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from functools import cache
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import Sum

from kopilka.analytics.models import NONE, DayFigures
from kopilka.core import events
from kopilka.members.models import Member
from kopilka.processing.models import Purchase, Refund
from kopilka.tenancy.models import Merchant

COUNTERS = ("checks", "revenue", "discount", "points_accrued", "points_spent",
            "first_purchases", "second_purchases", "third_purchases", "enrolled")
KEY = ("merchant_id", "day", "store_id", "cashier_id")
NTH = {1: "first_purchases", 2: "second_purchases", 3: "third_purchases"}


def local_day(moment: datetime, timezone: str) -> date:
    return moment.astimezone(ZoneInfo(timezone)).date()


@cache
def _upsert_sql(vendor: str) -> str:
    """The upsert, built once per database vendor (every sale runs it)."""
    quote = connection.ops.quote_name
    table = quote(DayFigures._meta.db_table)
    columns = (*KEY, *COUNTERS)
    additions = ", ".join(f"{quote(name)} = {table}.{quote(name)} + EXCLUDED.{quote(name)}"
                          for name in COUNTERS)
    return (f"INSERT INTO {table} ({', '.join(quote(name) for name in columns)}) "
            f"VALUES ({', '.join(['%s'] * len(columns))}) "
            f"ON CONFLICT ({', '.join(quote(name) for name in KEY)}) DO UPDATE SET {additions}")


def add(merchant_id: int, day: date, store_id: int | None, cashier_id: int | None,
        **deltas: int) -> None:
    """Add `deltas` (counter name -> amount) to one cell, creating it if it is new."""
    values = [merchant_id, connection.ops.adapt_datefield_value(day),
              store_id or NONE, cashier_id or NONE,
              *(deltas.pop(name, 0) for name in COUNTERS)]
    if deltas:
        raise ValueError(f"not counters: {sorted(deltas)}")  # a programming error
    with connection.cursor() as cursor:
        cursor.execute(_upsert_sql(connection.vendor), values)


def _purchase_cell(purchase, timezone: str) -> tuple:
    return (local_day(purchase.occurred_at, timezone), purchase.store_id, purchase.cashier_id)


def _nth(count: int) -> dict[str, int]:
    return {NTH[count]: 1} if count in NTH else {}


@events.subscribe(events.PurchaseCommitted)
def purchase_committed(event: events.PurchaseCommitted) -> None:
    purchase = event.purchase
    # The account the sale just updated (the same instance): its count includes this one.
    count = purchase.account.purchase_count
    add(event.merchant.pk, *_purchase_cell(purchase, event.merchant.timezone),
        checks=1, revenue=purchase.total - purchase.discount, discount=purchase.discount,
        points_accrued=purchase.points_accrued, points_spent=purchase.points_spent,
        **_nth(count))


def fully_refunded(total: int, discount: int, refunded: int) -> bool:
    """A purchase refunded in full stops counting as a check (a sale of nothing to pay,
    which cannot be refunded, counts)."""
    return refunded > 0 and refunded >= total - discount


@events.subscribe(events.PurchaseRefunded)
def purchase_refunded(event: events.PurchaseRefunded) -> None:
    purchase, refund = event.purchase, event.refund  # the purchase's totals after the refund
    uncounted = {}
    if fully_refunded(purchase.total, purchase.discount, purchase.refunded_amount):
        # Refunds take at most what is left, so before this one the check still counted.
        uncounted = {"checks": -1, "discount": -purchase.discount}
    add(event.merchant.pk, *_purchase_cell(purchase, event.merchant.timezone),
        revenue=-refund.amount, points_accrued=-refund.points_reversed,
        points_spent=-refund.points_returned, **uncounted)


@events.subscribe(events.MemberEnrolled)
def member_enrolled(event: events.MemberEnrolled) -> None:
    add(event.merchant.pk, local_day(event.member.registered_at, event.merchant.timezone),
        NONE, NONE, enrolled=1)


def derive(merchant: Merchant) -> dict[tuple, dict[str, int]]:
    """Every cell of the merchant computed from the raw rows: (day, store_id, cashier_id) ->
    counters (only the non-zero ones)."""
    timezone = merchant.timezone
    cells: dict[tuple, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    taken_back = {
        row["purchase_id"]: (row["reversed"], row["returned"])
        for row in Refund.objects.filter(merchant=merchant).values("purchase_id").annotate(
            reversed=Sum("points_reversed"), returned=Sum("points_returned")).order_by()
    }
    purchases_so_far: dict[int, int] = defaultdict(int)
    rows = (Purchase.objects.filter(merchant=merchant).order_by("pk")
            .values_list("pk", "member_id", "occurred_at", "store_id", "cashier_id", "total",
                         "discount", "refunded_amount", "points_accrued", "points_spent"))
    for (pk, member_id, occurred_at, store_id, cashier_id, total, discount, refunded,
         accrued, spent) in rows.iterator(chunk_size=10_000):
        cell = cells[local_day(occurred_at, timezone), store_id or NONE, cashier_id or NONE]
        reversed_, returned = taken_back.get(pk, (0, 0))
        cell["revenue"] += total - discount - refunded
        cell["points_accrued"] += accrued - reversed_
        cell["points_spent"] += spent - returned
        if not fully_refunded(total, discount, refunded):
            cell["checks"] += 1
            cell["discount"] += discount
        purchases_so_far[member_id] += 1
        if (nth := NTH.get(purchases_so_far[member_id])) is not None:
            cell[nth] += 1
    registered = Member.objects.filter(merchant=merchant).values_list("registered_at",
                                                                      flat=True)
    for moment in registered.iterator(chunk_size=10_000):
        cells[local_day(moment, timezone), NONE, NONE]["enrolled"] += 1
    return {key: {name: value for name, value in counters.items() if value}
            for key, counters in cells.items()}


def stored(merchant: Merchant) -> dict[tuple, dict[str, int]]:
    """The merchant's cells as kept, in the shape of `derive` (cells of all zeros left out:
    a purchase refunded in full leaves one behind)."""
    found = {}
    for row in DayFigures.objects.filter(merchant=merchant).values("day", "store_id",
                                                                    "cashier_id", *COUNTERS):
        counters = {name: row[name] for name in COUNTERS if row[name]}
        if counters:
            found[row["day"], row["store_id"], row["cashier_id"]] = counters
    return found


def rebuild(merchants: Iterable[Merchant]) -> dict[str, int]:
    """Replace each merchant's cells with the ones derived from the raw rows; cells written
    per merchant in one transaction. Returns cells written per merchant slug."""
    written = {}
    for merchant in merchants:
        cells = derive(merchant)
        with transaction.atomic():
            DayFigures.objects.filter(merchant=merchant).delete()
            DayFigures.objects.bulk_create(
                (DayFigures(merchant=merchant, day=day, store_id=store_id,
                            cashier_id=cashier_id, **counters)
                 for (day, store_id, cashier_id), counters in cells.items()),
                batch_size=2_000,
            )
        written[merchant.slug] = len(cells)
    return written
