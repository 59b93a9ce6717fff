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

# name -> (counter, store expression, which of the member's purchases): the chains. The
# store's own chain only when the purchase has a store (p.st is 0 otherwise).
_CHAINS = {
    "a": ("buyers", str(ALL_STORES), ""),
    "b": ("customers", str(ALL_STORES), "k = 1 AND "),
    "c": ("customers", "p.st", "k = 1 AND so = p.st AND "),
}
# The statement's parameters, each used once (in the CTE `p`): psycopg parses a query of up
# to 4 KiB once and caches it, so the statement is kept short and its placeholders few.
_PARAMS = ("m", "mb", "pu", "st", "ca", "d", "cl", "nv", "s", "e", "sg", "tz")
_DATES, _MOMENTS = {"d", "cl", "nv"}, {"s", "e"}


def _local_date(expression: str) -> str:
    """SQL for the merchant's local day of a UTC moment (p.tz: the merchant's zone)."""
    sql, params = connection.ops.datetime_cast_date_sql(expression, (), "p.tz")
    # Django's placeholders in order: the zone we passed, then (SQLite) the connection's.
    return sql.replace("%s", "{}").format(
        *("p.tz" if name == "p.tz" else "p.ctz" for name in params))


@cache
def _visits_sql(vendor: str, chains: str) -> str:
    """The upsert of a sale (chains "abc", sign +1) or of a full refund (chains "bc", sign -1):
    the purchase's cell and, from the member's other purchases, the buyers rows."""
    postgres = vendor == "postgresql"

    def param(name: str) -> str:
        # PostgreSQL types the CTE's columns from the parameters; SQLite keeps dates and
        # moments as text (a CAST there would make a number of them).
        if postgres and name in _DATES:
            return f"CAST(%s AS date) AS {name}"
        if postgres and name in _MOMENTS:
            return f"CAST(%s AS timestamptz) AS {name}"
        return f"%s AS {name}"

    given = [param(name) for name in _PARAMS]
    if not postgres:
        given.append("%s AS ctz")
    purchases = connection.ops.quote_name(Purchase._meta.db_table)
    aggregates, visits = [], []
    for name in chains:
        counter, store, which = _CHAINS[name]
        aggregates += [
            f"MAX(CASE WHEN {which}o >= p.s AND o < p.e THEN 1 ELSE 0 END) s{name}",
            f"MAX(CASE WHEN {which}o < p.s THEN o END) p{name}",
            f"MIN(CASE WHEN {which}o >= p.e THEN o END) n{name}",
        ]
        previous = f"COALESCE({_local_date(f'p{name}')}, p.nv)"
        following = _local_date(f"n{name}")
        new_day = f"COALESCE(s{name}, 0) = 0" + (" AND p.st <> 0" if name == "c" else "")
        later = f"{new_day} AND n{name} IS NOT NULL"

        def deltas(sign: str, counter: str = counter) -> str:
            return f"{sign}, 0" if counter == "buyers" else f"0, {sign}"
        visits += [
            f"SELECT p.d, {previous}, {store}, {deltas('p.sg')} FROM mine, p WHERE {new_day}",
            f"SELECT {following}, {previous}, {store}, {deltas('-p.sg')} FROM mine, p "
            f"WHERE {later}",
            f"SELECT {following}, p.d, {store}, {deltas('p.sg')} FROM mine, p WHERE {later}",
        ]
    columns = ", ".join((*KEY, *COUNTERS))
    sums = ", ".join("%s" for _name in SUMS)
    zeros = ", ".join("0" for _name in SUMS)
    additions = ", ".join(f"{name} = t.{name} + EXCLUDED.{name}" for name in COUNTERS)
    return (
        f"WITH p AS (SELECT {', '.join(given)}), "
        f"x AS (SELECT occurred_at o, store_id so, CASE WHEN {IS_CHECK} THEN 1 ELSE 0 END k "
        f"FROM {purchases}, p WHERE merchant_id = p.m AND member_id = p.mb AND id <> p.pu), "
        f"mine AS (SELECT {', '.join(aggregates)} FROM x, p), "
        f"v (d, pd, st, b, c) AS ({' UNION ALL '.join(visits)}) "
        f"INSERT INTO {_table()} AS t ({columns}) "
        f"SELECT p.m, p.cl, p.d, p.st, p.ca, {sums}, 0, 0 FROM p UNION ALL "
        f"SELECT p.m, v.pd, v.d, v.st, {NONE}, {zeros}, SUM(v.b), SUM(v.c) FROM v, p "
        f"GROUP BY p.m, v.pd, v.d, v.st "
        # Rows in the key's order: two sales locking rows in one order cannot deadlock.
        f"ORDER BY 2, 3, 4, 5 "
        f"ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET {additions}")


def _add_visits(merchant: Merchant, purchase, chains: str, sign: int, **deltas: int) -> None:
    zone = ZoneInfo(merchant.timezone)
    day = local_day(purchase.occurred_at, merchant.timezone)
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    ops = connection.ops
    params = [merchant.pk, purchase.member_id, purchase.pk, purchase.store_id or NONE,
              purchase.cashier_id or NONE, ops.adapt_datefield_value(day),
              ops.adapt_datefield_value(CELL), ops.adapt_datefield_value(NEVER),
              ops.adapt_datetimefield_value(start), ops.adapt_datetimefield_value(end),
              sign, merchant.timezone]
    if connection.vendor != "postgresql":
        params.append(connection.timezone_name)
    params += [deltas.pop(name, 0) for name in SUMS]
    if deltas:
        raise ValueError(f"not counters: {sorted(deltas)}")  # a programming error
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
