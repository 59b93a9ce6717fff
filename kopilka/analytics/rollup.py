"""Keeping the roll-up (models.DayFigures) and re-deriving it from the raw rows.

Each sale, refund and enrolment adds its part to the roll-up with one statement, `INSERT ...
ON CONFLICT DO UPDATE SET column = column + ...` (the same SQL on SQLite and PostgreSQL but
for a cast), inside the operation's transaction: the rows change exactly when the purchase
does, and two counters adding to one row at once cannot lose an update (the database
serialises the row). A sale's statement writes its cell (merchant × local day × store ×
cashier) and, in the same statement, the buyers rows of figures 5 and 10: it reads the
member's other purchases (a CTE over the purchases' (merchant, member) index) for the
previous and next day the member bought, so no extra statement and no change to the event.
`rebuild` computes every row again from purchases, refunds and members;
tests/analytics/test_rollup.py checks the two agree row by row.
"""

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from functools import cache
from itertools import islice
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import Sum

from kopilka.analytics.models import ALL_STORES, CELL, NEVER, NONE, DayFigures
from kopilka.core import events
from kopilka.members.models import Member
from kopilka.processing.models import Purchase, Refund
from kopilka.tenancy.models import Merchant

# The sums' counters (a cell's), then the buyers rows' (models.DayFigures).
SUMS = ("checks", "revenue", "discount", "points_accrued", "points_spent",
        "first_purchases", "second_purchases", "third_purchases", "enrolled",
        "purchases", "total", "refunded", "points_reversed", "points_returned",
        "paid_with_points")
BUYERS = ("buyers", "customers")
COUNTERS = SUMS + BUYERS
KEY = ("merchant_id", "previous_day", "day", "store_id", "cashier_id")
NTH = {1: "first_purchases", 2: "second_purchases", 3: "third_purchases"}
# A purchase that still counts as a check (rollup.fully_refunded's negation, in SQL).
IS_CHECK = "(refunded_amount <= 0 OR refunded_amount < total - discount)"


def local_day(moment: datetime, timezone: str) -> date:
    return moment.astimezone(ZoneInfo(timezone)).date()


def _table() -> str:
    return connection.ops.quote_name(DayFigures._meta.db_table)


def _conflict() -> str:
    quote, table = connection.ops.quote_name, _table()
    additions = ", ".join(f"{quote(name)} = {table}.{quote(name)} + EXCLUDED.{quote(name)}"
                          for name in COUNTERS)
    return f"ON CONFLICT ({', '.join(quote(name) for name in KEY)}) DO UPDATE SET {additions}"


@cache
def _upsert_sql(vendor: str) -> str:
    """The plain upsert of one cell, built once per database vendor."""
    quote = connection.ops.quote_name
    columns = (*KEY, *COUNTERS)
    return (f"INSERT INTO {_table()} ({', '.join(quote(name) for name in columns)}) "
            f"VALUES ({', '.join(['%s'] * len(columns))}) {_conflict()}")


def add(merchant_id: int, day: date, store_id: int | None, cashier_id: int | None,
        **deltas: int) -> None:
    """Add `deltas` (counter name -> amount) to one cell, creating it if it is new."""
    values = [merchant_id, connection.ops.adapt_datefield_value(CELL),
              connection.ops.adapt_datefield_value(day), store_id or NONE, cashier_id or NONE,
              *(deltas.pop(name, 0) for name in COUNTERS)]
    if deltas:
        raise ValueError(f"not counters: {sorted(deltas)}")  # a programming error
    with connection.cursor() as cursor:
        cursor.execute(_upsert_sql(connection.vendor), values)


# ---- buyers rows ----------------------------------------------------------------------------
#
# A "visit" is a member's first purchase of a local day in a scope (the whole merchant, or one
# store), in a chain: `buyers` counts every purchase, `customers` only checks. Adding a visit
# on day d whose member last bought on day p (NEVER if not before) and next on day n (if an
# upload recorded it before this one): +1 at (d, p); and if n exists, -1 at (n, p), +1 at
# (n, d): n's previous day is now d. A day the member already bought on adds nothing. A full
# refund removes the purchase from the checks' chains: the same with the signs turned.

# (counter, store expression, which purchases): the chains a sale adds to. The store's own
# chain only when the purchase has a store (%(store)s is 0 otherwise).
_CHAINS = {
    "a": ("buyers", str(ALL_STORES), "1 = 1"),
    "b": ("customers", str(ALL_STORES), IS_CHECK),
    "c": ("customers", "%(store)s", f"{IS_CHECK} AND store_id = %(store)s"),
}


def _local_date(expression: str) -> str:
    """SQL for the merchant's local day of a UTC moment (%(tz)s: the merchant's zone)."""
    sql, params = connection.ops.datetime_cast_date_sql(expression, (), "%(tz)s")
    names = iter(params)
    # Django's placeholders in order: the zone we passed, then (SQLite) the connection's.
    return sql.replace("%s", "{}").format(
        *("%(tz)s" if name == "%(tz)s" else "%(connection_tz)s" for name in names))


def _as_date(placeholder: str) -> str:
    # PostgreSQL types the literals of a UNION from the first; SQLite keeps dates as text
    # (a CAST there would make a number of it).
    return f"CAST({placeholder} AS date)" if connection.vendor == "postgresql" else placeholder


@cache
def _visits_sql(vendor: str, chains: str) -> str:
    """The upsert of a sale (chains "abc", sign +1) or of a full refund (chains "bc", sign -1):
    the purchase's cell and, from the member's other purchases, the buyers rows."""
    quote = connection.ops.quote_name
    purchases = quote(Purchase._meta.db_table)
    aggregates = []
    for name in chains:
        _counter, _store, which = _CHAINS[name]
        aggregates += [
            f"MAX(CASE WHEN {which} AND occurred_at >= %(start)s AND occurred_at < %(end)s "
            f"THEN 1 ELSE 0 END) AS {name}_same",
            f"MAX(CASE WHEN {which} AND occurred_at < %(start)s THEN occurred_at END) "
            f"AS {name}_prev",
            f"MIN(CASE WHEN {which} AND occurred_at >= %(end)s THEN occurred_at END) "
            f"AS {name}_next",
        ]
    mine = (f"SELECT {', '.join(aggregates)} FROM {purchases} "
            f"WHERE merchant_id = %(merchant)s AND member_id = %(member)s "
            f"AND id <> %(purchase)s")
    day = _as_date("%(day)s")
    zeros = ", ".join("0" for _name in SUMS)

    def row(day_sql: str, previous_sql: str, store_sql: str, counter: str, delta: str,
            condition: str) -> str:
        buyers = ", ".join(delta if name == counter else "0" for name in BUYERS)
        return (f"SELECT {day_sql}, {previous_sql}, {store_sql}, {NONE}, {zeros}, {buyers} "
                f"FROM mine WHERE {condition}")

    cell = ", ".join(f"%({name})s" for name in SUMS)
    rows = [f"SELECT {day}, {_as_date('%(cell)s')}, %(store)s, %(cashier)s, {cell}, 0, 0"]
    for name in chains:
        counter, store, _which = _CHAINS[name]
        previous = f"COALESCE({_local_date(f'{name}_prev')}, {_as_date('%(never)s')})"
        following = _local_date(f"{name}_next")
        new_day = f"COALESCE({name}_same, 0) = 0"
        if name == "c":
            new_day += " AND %(store)s <> 0"
        later = f"{new_day} AND {name}_next IS NOT NULL"
        rows += [row(day, previous, store, counter, "%(sign)s", new_day),
                 row(following, previous, store, counter, "(0 - %(sign)s)", later),
                 row(following, day, store, counter, "%(sign)s", later)]
    columns = ("day", "previous_day", "store_id", "cashier_id", *COUNTERS)
    union = " UNION ALL ".join(rows)
    key = "previous_day, day, store_id, cashier_id"
    return (f"WITH mine AS ({mine}), "
            f"changes ({', '.join(columns)}) AS ({union}) "
            f"INSERT INTO {_table()} ({', '.join(quote(name) for name in (*KEY, *COUNTERS))}) "
            f"SELECT %(merchant)s, {key}, "
            f"{', '.join(f'SUM({quote(name)})' for name in COUNTERS)} "
            # Rows in the key's order: two sales locking rows in one order cannot deadlock.
            f"FROM changes WHERE 1 = 1 GROUP BY {key} ORDER BY {key} {_conflict()}")


def _add_visits(merchant: Merchant, purchase, chains: str, sign: int, **deltas: int) -> None:
    zone = ZoneInfo(merchant.timezone)
    day = local_day(purchase.occurred_at, merchant.timezone)
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    ops = connection.ops
    params = {
        "merchant": merchant.pk, "member": purchase.member_id, "purchase": purchase.pk,
        "store": purchase.store_id or NONE, "cashier": purchase.cashier_id or NONE,
        "day": ops.adapt_datefield_value(day), "cell": ops.adapt_datefield_value(CELL),
        "never": ops.adapt_datefield_value(NEVER),
        "start": ops.adapt_datetimefield_value(start),
        "end": ops.adapt_datetimefield_value(end),
        "tz": merchant.timezone, "sign": sign,
        **{name: deltas.pop(name, 0) for name in SUMS},
    }
    if deltas:
        raise ValueError(f"not counters: {sorted(deltas)}")  # a programming error
    if connection.vendor == "sqlite":
        params["connection_tz"] = connection.timezone_name
    with connection.cursor() as cursor:
        cursor.execute(_visits_sql(connection.vendor, chains), params)


def _nth(count: int) -> dict[str, int]:
    return {NTH[count]: 1} if count in NTH else {}


@events.subscribe(events.PurchaseCommitted)
def purchase_committed(event: events.PurchaseCommitted) -> None:
    purchase = event.purchase
    # The account the sale just updated (the same instance): its count includes this one.
    count = purchase.account.purchase_count
    _add_visits(event.merchant, purchase, "abc", 1,
                checks=1, revenue=purchase.total - purchase.discount,
                discount=purchase.discount, points_accrued=purchase.points_accrued,
                points_spent=purchase.points_spent, purchases=1, total=purchase.total,
                paid_with_points=purchase.points_spent_money, **_nth(count))


def fully_refunded(total: int, discount: int, refunded: int) -> bool:
    """A purchase refunded in full stops counting as a check (a sale of nothing to pay,
    which cannot be refunded, counts)."""
    return refunded > 0 and refunded >= total - discount


@events.subscribe(events.PurchaseRefunded)
def purchase_refunded(event: events.PurchaseRefunded) -> None:
    purchase, refund = event.purchase, event.refund  # the purchase's totals after the refund
    deltas = {"revenue": -refund.amount, "refunded": refund.amount,
              "points_accrued": -refund.points_reversed,
              "points_reversed": refund.points_reversed,
              "points_spent": -refund.points_returned,
              "points_returned": refund.points_returned}
    if fully_refunded(purchase.total, purchase.discount, purchase.refunded_amount):
        # Refunds take at most what is left, so before this one the check still counted:
        # it leaves the checks, and the checks' chains of the buyers rows.
        _add_visits(event.merchant, purchase, "bc", -1, checks=-1,
                    discount=-purchase.discount, **deltas)
        return
    add(event.merchant.pk, local_day(purchase.occurred_at, event.merchant.timezone),
        purchase.store_id, purchase.cashier_id, **deltas)


@events.subscribe(events.MemberEnrolled)
def member_enrolled(event: events.MemberEnrolled) -> None:
    add(event.merchant.pk, local_day(event.member.registered_at, event.merchant.timezone),
        NONE, NONE, enrolled=1)


def derive(merchant: Merchant) -> dict[tuple, dict[str, int]]:
    """Every row of the merchant computed from the raw rows: (day, store_id, cashier_id,
    previous_day) -> counters (only the non-zero ones); previous_day is CELL for the cells of
    sums, and the buyers rows come from a second pass over each member's purchases in time
    order."""
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
                         "discount", "refunded_amount", "points_accrued", "points_spent",
                         "points_spent_money"))
    for (pk, member_id, occurred_at, store_id, cashier_id, total, discount, refunded,
         accrued, spent, spent_money) in rows.iterator(chunk_size=10_000):
        cell = cells[local_day(occurred_at, timezone), store_id or NONE, cashier_id or NONE,
                     CELL]
        reversed_, returned = taken_back.get(pk, (0, 0))
        cell["revenue"] += total - discount - refunded
        cell["points_accrued"] += accrued - reversed_
        cell["points_spent"] += spent - returned
        cell["purchases"] += 1
        cell["total"] += total
        cell["refunded"] += refunded
        cell["points_reversed"] += reversed_
        cell["points_returned"] += returned
        cell["paid_with_points"] += spent_money
        if not fully_refunded(total, discount, refunded):
            cell["checks"] += 1
            cell["discount"] += discount
        purchases_so_far[member_id] += 1
        if (nth := NTH.get(purchases_so_far[member_id])) is not None:
            cell[nth] += 1
    registered = Member.objects.filter(merchant=merchant).values_list("registered_at",
                                                                      flat=True)
    for moment in registered.iterator(chunk_size=10_000):
        cells[local_day(moment, timezone), NONE, NONE, CELL]["enrolled"] += 1
    _derive_visits(merchant, cells)
    return {key: {name: value for name, value in counters.items() if value}
            for key, counters in cells.items()}


def _derive_visits(merchant: Merchant, cells) -> None:
    """The buyers rows: each member's purchases in time order; a new day in a chain is a
    visit counted at (day, its previous day in that chain)."""
    timezone = merchant.timezone
    rows = (Purchase.objects.filter(merchant=merchant).order_by("member_id", "occurred_at")
            .values_list("member_id", "occurred_at", "store_id", "total", "discount",
                         "refunded_amount"))
    member = None
    last: dict = {}  # chain -> the last day the member bought in it
    for (member_id, occurred_at, store_id, total, discount, refunded) in rows.iterator(
            chunk_size=10_000):
        if member_id != member:
            member, last = member_id, {}
        day = local_day(occurred_at, timezone)
        chains = [("buyers", ALL_STORES)]
        if not fully_refunded(total, discount, refunded):
            chains.append(("customers", ALL_STORES))
            if store_id is not None:
                chains.append(("customers", store_id))
        for chain in chains:
            previous = last.get(chain, NEVER)
            if previous != day:  # in time order, a day already counted is the last one
                cells[day, chain[1], NONE, previous][chain[0]] += 1
                last[chain] = day


def stored(merchant: Merchant) -> dict[tuple, dict[str, int]]:
    """The merchant's rows as kept, in the shape of `derive` (rows of all zeros left out:
    a buyers row whose visits moved to another leaves one behind)."""
    found = {}
    for row in DayFigures.objects.filter(merchant=merchant).values(
            "day", "store_id", "cashier_id", "previous_day", *COUNTERS):
        counters = {name: row[name] for name in COUNTERS if row[name]}
        if counters:
            found[row["day"], row["store_id"], row["cashier_id"], row["previous_day"]] = counters
    return found


def rebuild(merchants: Iterable[Merchant]) -> dict[str, int]:
    """Replace each merchant's cells with the ones derived from the raw rows; cells written
    per merchant in one transaction. Returns cells written per merchant slug."""
    written = {}
    for merchant in merchants:
        cells = derive(merchant)
        rows = iter(cells.items())
        with transaction.atomic():
            DayFigures.objects.filter(merchant=merchant).delete()
            # In batches: bulk_create makes a list of what it is given, and a merchant with
            # years of history has a million buyers rows.
            while batch := [DayFigures(merchant=merchant, day=day, store_id=store_id,
                                       cashier_id=cashier_id, previous_day=previous_day,
                                       **counters)
                            for (day, store_id, cashier_id, previous_day), counters
                            in islice(rows, 2_000)]:
                DayFigures.objects.bulk_create(batch)
        written[merchant.slug] = len(cells)
    return written
