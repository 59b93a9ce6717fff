"""Generate a realistic Kopilka database at scale: merchants, members, purchase history, ledger.

Not a test. Run:
    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/kopilka_gen \\
        .venv/bin/python bench/generate.py --members 1000000 --purchases 10000000
(a sqlite:///path URL works too, for smaller N: executemany instead of COPY).

Each run makes `--merchants` merchants (the first the largest: sizes go as 1, 1/2, 1/3, …)
with a bonus program (3/5/7 % by tier, up to 30 % of a check payable with points, points expire
365 days after accrual), five stores with a terminal each, and `--members` members:
- people with unique Russian mobile numbers in E.164; one in ten members of the smaller
  merchants is a person already a member of the first (one person, many merchants);
- names and gender, birthdays spread over the year, some e-mails, tags and relatives;
- a phone card each (the number without "+", as registration makes it), a plastic card for
  three in ten, one in ten of those with an older lost or replaced card;
- consents to personal data processing and to messages, a few messages consents revoked.
`--purchases` purchases are shared among the members unevenly (a few buy often, many once or
never), spread over the last two years after the member registered, at opening hours, with
realistic totals and one to four lines. Each is replayed on the member's points the way
processing.commit_purchase does: lots past their expiry expire first (an `expire` entry at the
moment of expiry, as the sweep journals it), one purchase in four of a member with 100.00 points
or more spends points (oldest lots first, a `redeem` entry per lot), the rest of the check
accrues at the tier's percent (an `accrual` lot and its `accrue` entry), the tier follows the
lifetime spend. Entries are hash-chained per account (kopilka/ledger/chain.py) and accounts
cache balances equal to the sums of their lots: `kopilka verify-ledger` proves them.

The database named by BENCH_DATABASE_URL is DROPPED and created afresh (a sqlite file is
deleted). Rows go in with COPY (bench/bulkload.py), `--batch` members per transaction, by
`--workers` forked processes. On PostgreSQL the loading transactions set
session_replication_role = replica: foreign keys (triggers) are not checked row by row — the
rows are consistent by construction and verify-ledger re-proves a sample at the end; primary
keys, unique and check constraints are. The plain (non-unique) indexes of the loaded tables are
dropped before the load and built after it (--keep-indexes: not), as pg_restore does: one
sorted build instead of millions of random inserts. Prints one JSON line and appends a section
to bench/results/generate.md.
"""

import argparse
import json
import math
import multiprocessing
import os
import random
import sys
import time
from array import array
from bisect import bisect_right
from collections import deque
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# Sibling scripts (their folder is on the path when run as a script), not a package.
from bench_commit import create_database, setup_django  # noqa: E402
from bench_expiry import _Hashed  # noqa: E402

from kopilka.ledger.chain import entry_hash  # noqa: E402  (plain hashlib: no Django needed)

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/kopilka_gen"
RESULTS = ROOT / "bench" / "results"
DAY = 86_400.0
HISTORY_DAYS = 730  # purchases over the last two years
MEMBERS_SINCE_DAYS = 1_095  # members registered over the last three years
EXPIRY_DAYS = 365
# Mobile codes libphonenumber accepts for Russia (930 is not a mobile range).
MOBILE_CODES = [code for code in range(900, 1000) if code != 930]
TIERS = [("std", "Standard", 0, 3), ("silver", "Silver", 3_000_000, 5),
         ("gold", "Gold", 10_000_000, 7)]  # code, name, lifetime spend threshold, accrual %
THRESHOLDS = [threshold for _code, _name, threshold, _percent in TIERS]
MEDIAN_CHECK = math.log(80_000)  # 800.00: check totals are log-normal around it
BORN_FROM = date(1950, 1, 1)
BORN_DAYS = (date(2008, 1, 1) - BORN_FROM).days  # birthdays spread over every day of a year
MAX_REDEEM_PERCENT = 30
SHARED_PEOPLE = 0.1  # share of a smaller merchant's members who are members of the first
FEMALE_FIRST = ["Анна", "Мария", "Елена", "Ольга", "Наталья", "Татьяна", "Ирина", "Светлана",
                "Екатерина", "Юлия", "Анастасия", "Дарья", "Полина", "Ксения", "Виктория"]
MALE_FIRST = ["Александр", "Сергей", "Дмитрий", "Андрей", "Алексей", "Иван", "Михаил",
              "Николай", "Евгений", "Максим", "Артём", "Владимир", "Павел", "Игорь", "Роман"]
# Masculine surnames; the feminine form adds "а" (Иванов -> Иванова).
SURNAMES = ["Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов",
            "Михайлов", "Новиков", "Фёдоров", "Морозов", "Волков", "Алексеев", "Лебедев",
            "Семёнов", "Егоров", "Павлов", "Козлов", "Степанов", "Николаев", "Орлов", "Андреев",
            "Макаров", "Никитин", "Захаров", "Зайцев", "Соловьёв", "Борисов", "Яковлев"]
RELATIONS = ["son", "daughter", "wife", "husband", "mother", "father"]
TAGS = ["vip", "employee", "wholesale", "student", "pensioner", "blogger"]
GROUPS = ["groceries", "dairy", "bakery", "meat", "drinks", "household", "cosmetics", "kids"]
CHANNELS = ["cashier"] * 7 + ["self"] * 2 + ["import"]
PAYMENT = ["card"] * 6 + ["cash"] * 3 + ["sbp"]
LINES = [1, 1, 1, 2, 2, 3, 4]
QUANTITIES = [1, 1, 1, 2, 3]
# Filled by main() before the workers fork: they inherit them.
PLAN = None
TARGETS = None


def stderr(line: str, end: str = "\n") -> None:
    print(line, file=sys.stderr, end=end, flush=True)


class Progress:
    """One stderr line, rewritten in place: done/total, rate, time left."""

    def __init__(self, label: str, total: int, unit: str):
        self.label, self.total, self.unit = label, total, unit
        self.started = time.perf_counter()

    def show(self, done: int, extra: str = "") -> None:
        spent = time.perf_counter() - self.started
        rate = done / spent if spent else 0.0
        left = (self.total - done) / rate if rate else 0.0
        stderr(f"{self.label} {done}/{self.total} {self.unit} ({100 * done / self.total:.0f} %), "
               f"{rate:,.0f} {self.unit}/s, {left:.0f} s left{extra}   ",
               end="\r" if done < self.total else "\n")


def luhn(digits: str) -> str:
    """`digits` with its Luhn check digit appended, as printed loyalty cards carry."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return digits + str(-total % 10)


def at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def share(rng: random.Random, total: int, weights: list[float]) -> list[int]:
    """`total` split in proportion to `weights`, rounded down, the rest spread at random."""
    scale = total / sum(weights)
    parts = [int(w * scale) for w in weights]
    for i in rng.choices(range(len(parts)), weights=weights, k=total - sum(parts)):
        parts[i] += 1
    return parts


def pick(rnd, items: list):
    """A random item: random.choice without its per-call rejection sampling (hot loop)."""
    return items[int(rnd() * len(items))]


def split(rnd, amount: int, n: int) -> list[int]:
    """`amount` in `n` random parts (some may be 0) that add up to it."""
    if n == 1 or not amount:
        return [amount] + [0] * (n - 1)
    cuts = sorted(int(rnd() * (amount + 1)) for _ in range(n - 1))
    return [b - a for a, b in zip([0, *cuts], [*cuts, amount], strict=True)]


def card_number(m: int, card_id: int) -> str:
    """A 16-digit plastic card number of merchant index `m`, with its Luhn digit."""
    return luhn(f"27{m:02d}{card_id:011d}")


def setup_merchants(count: int, seed: int):
    """`count` merchants with the program, five stores and a terminal in each store."""
    from django_scopes import scope

    from kopilka.core.actor import Actor
    from kopilka.programs import services as programs
    from kopilka.tenancy import services as tenancy

    actor = Actor.cli()
    stamp = int(time.time())
    merchants = []
    for i in range(count):
        slug = f"gen-{seed}-{stamp}-{i}"
        merchant = tenancy.create_merchant(f"Generated {i + 1}", owner_email=f"{slug}@example.com",
                                           slug=slug, actor=actor).merchant
        with scope(merchant=merchant):
            programs.save_program(merchant, {
                "type": "bonus", "max_redeem_percent": str(MAX_REDEEM_PERCENT),
                "expiry": {"mode": "after_accrual", "days": EXPIRY_DAYS},
                "tiers": [{"code": code, "name": name, "threshold": threshold,
                           "accrual": {"kind": "percent", "percent": str(percent)}}
                          for code, name, threshold, percent in TIERS],
            }, actor=actor)
            terminals = [tenancy.create_terminal(merchant, store_name=f"Store {n + 1}",
                                                 actor=actor)[0] for n in range(5)]
        merchants.append((merchant.pk, [(t.pk, t.store_id) for t in terminals]))
    return merchants


class Plan:
    """Who is who, decided up front: merchant, person, phone and purchase count of every
    member, and the first id of every table for every batch. Batches are then independent
    (their own random stream, their own id ranges): forked workers load them in any order,
    the same seed gives the same database."""

    def __init__(self, args, merchants, now: float):
        self.seed, self.now, self.merchants, self.batch = args.seed, now, merchants, args.batch
        rng = random.Random(args.seed)
        # Members are laid out merchant by merchant: 0..n0-1 the first, and so on.
        sizes = share(rng, args.members, [1 / (i + 1) for i in range(len(merchants))])
        self.merchant_of = array("b")
        for i, size in enumerate(sizes):
            self.merchant_of.extend([i] * size)
        # member index -> index of a first-merchant member whose person it shares
        self.shared = {}
        start = sizes[0]
        for size in sizes[1:]:
            picks = rng.sample(range(sizes[0]), min(sizes[0], int(size * SHARED_PEOPLE)))
            for offset, first in zip(rng.sample(range(size), len(picks)), picks, strict=True):
                self.shared[start + offset] = first
            start += size
        # Unique numbers: a sample of the (code, 7 digits) space, no retries needed.
        phones = iter(rng.sample(range(len(MOBILE_CODES) * 10**7),
                                 args.members - len(self.shared)))
        self.person_of = array("q", bytes(8 * args.members))  # 0-based, + the id base
        self.phone_of = array("q", bytes(8 * args.members))  # index into that space
        people = 0
        for i in range(args.members):
            if i in self.shared:  # first-merchant members come first: already known
                self.person_of[i] = self.person_of[self.shared[i]]
                self.phone_of[i] = self.phone_of[self.shared[i]]
            else:
                self.person_of[i], self.phone_of[i] = people, next(phones)
                people += 1
        # Purchases per member: log-normal weights, so a few buy often and many rarely.
        self.purchases_of = array("l", share(rng, args.purchases,
                                             [rng.lognormvariate(0, 1.3)
                                              for _ in range(args.members)]))
        self.counts = {"people": people, "members": args.members,
                       "cards": 3 * args.members,  # the most a member can have
                       "purchases": args.purchases}
        # Purchases (and lots: one id per purchase) before each batch.
        self.bought_before = [0]
        for first in range(0, args.members, args.batch):
            self.bought_before.append(self.bought_before[-1]
                                      + sum(self.purchases_of[first:first + args.batch]))

    def reserve(self) -> None:
        """The first id of each table's block for the whole run (bulkload.reserve_ids)."""
        from bulkload import reserve_ids

        from kopilka.ledger.models import Account, Lot
        from kopilka.members.models import Card, Member, Person
        from kopilka.processing.models import Purchase

        c = self.counts
        self.base = {"person": reserve_ids(Person, c["people"]),
                     "member": reserve_ids(Member, c["members"]),
                     "account": reserve_ids(Account, c["members"]),
                     "card": reserve_ids(Card, c["cards"]),
                     "purchase": reserve_ids(Purchase, c["purchases"]),
                     "lot": reserve_ids(Lot, c["purchases"])}


class Batch:
    """The rows of one batch of members: people, members, cards, relatives, consents, then
    each member's purchases replayed on their points (accounts, purchases, lines, lots,
    entries)."""

    def __init__(self, plan: Plan, number: int):
        from django.db import connection

        from kopilka.members.models import Member

        self.plan, self.now = plan, plan.now
        self.first = number * plan.batch
        self.size = min(plan.batch, len(plan.merchant_of) - self.first)
        self.rng = random.Random(f"{plan.seed}-{number}")
        self.purchase_id = plan.base["purchase"] + plan.bought_before[number]
        self.lot_id = plan.base["lot"] + plan.bought_before[number]
        self.rows = {name: [] for name in TARGETS}
        # COPY takes given values as they are: JSON needs psycopg's wrapper (Table prepares
        # given values itself on SQLite).
        tags = Member._meta.get_field("tags")
        self.json = (lambda value: tags.get_db_prep_save(value, connection)) \
            if connection.vendor == "postgresql" else (lambda value: value)
        self.hashed = _Hashed()
        self.hashed.pending_delta = 0

    def make(self) -> dict:
        for index in range(self.first, self.first + self.size):
            self.member(index)
        self.rows["lots"] = [tuple(row) for row in self.rows["lots"]]  # lists while replayed
        return self.rows

    def member(self, index: int) -> None:
        """A member with their person, cards, relatives and consents, then their purchases."""
        rng, now, plan, rows = self.rng, self.now, self.plan, self.rows
        rnd = rng.random
        m = plan.merchant_of[index]
        merchant_id = plan.merchants[m][0]
        member_id = plan.base["member"] + index
        person_id = plan.base["person"] + plan.person_of[index]
        registered = now - (1 + rnd() * (MEMBERS_SINCE_DAYS - 1)) * DAY
        registered_at = at(registered)
        code, rest = divmod(plan.phone_of[index], 10**7)
        phone = f"+7{MOBILE_CODES[code]}{rest:07d}"
        if index not in plan.shared:
            rows["people"].append((person_id, phone, registered_at if rnd() < 0.6 else None,
                                   registered_at))
        female = rnd() < 0.55
        named = rnd() < 0.9
        birth = BORN_FROM + timedelta(days=int(rnd() * BORN_DAYS)) if rnd() < 0.8 else None
        tags = rng.sample(TAGS, 1 + (rnd() < 0.3)) if rnd() < 0.15 else []
        via = pick(rnd, CHANNELS)
        rows["members"].append((
            member_id, merchant_id, person_id,
            pick(rnd, FEMALE_FIRST if female else MALE_FIRST) if named else "",
            pick(rnd, SURNAMES) + ("а" if female else "") if named else "",
            ("female" if female else "male") if named else "", birth,
            f"member{member_id}@example.ru" if rnd() < 0.4 else "", self.json(tags),
            registered_at, via,
        ))
        card = plan.base["card"] + 3 * index  # three ids per member: the most one has
        rows["cards"].append((card, merchant_id, member_id, phone[1:], "phone", "active", None,
                              registered_at))
        if rnd() < 0.3:
            rows["cards"].append((card + 1, merchant_id, member_id, card_number(m, card + 1),
                                  "plastic", "active", None,
                                  at(registered + rnd() * (now - registered))))
            if rnd() < 0.1:  # an older card, lost or worn out, replaced by that one
                rows["cards"].append((card + 2, merchant_id, member_id,
                                      card_number(m, card + 2), "plastic",
                                      "lost" if rnd() < 0.5 else "replaced", card + 1,
                                      registered_at))
        if rnd() < 0.2:
            for _ in range(1 + (rnd() < 0.3)):
                rows["relatives"].append((
                    merchant_id, member_id, pick(rnd, FEMALE_FIRST + MALE_FIRST),
                    pick(rnd, RELATIONS), BORN_FROM + timedelta(days=int(rnd() * BORN_DAYS))))
        if rnd() < 0.9:
            rows["consents"].append((merchant_id, member_id, "personal_data", "2024-01", via,
                                     registered_at, None))
        if rnd() < 0.6:
            revoked = at(registered + rnd() * (now - registered)) if rnd() < 0.05 else None
            rows["consents"].append((merchant_id, member_id, "messages", "2024-01", via,
                                     registered_at, revoked))
        self.purchases(index, member_id, m, registered)

    def purchases(self, index: int, member_id: int, m: int, registered: float) -> None:
        """One member's purchases replayed on their points, as processing.commit_purchase
        would have: expiry first, then spending (oldest lots first), accrual, tier."""
        rng, now, rows = self.rng, self.now, self.rows
        rnd = rng.random
        merchant_id, terminals = self.plan.merchants[m]
        account_id = self.plan.base["account"] + index
        count = self.plan.purchases_of[index]
        since = max(registered, now - HISTORY_DAYS * DAY)
        times = []
        for _ in range(count):
            # A day in the window, a moment in opening hours: 8:00-22:00 in the merchant's
            # zone (UTC+3), i.e. 5:00-19:00 UTC.
            t = since + rnd() * (now - since)
            t = t - t % DAY + (5 + 14 * rnd()) * 3600
            times.append(t if since <= t <= now else since + rnd() * (now - since))
        times.sort()
        lots = deque()  # open lots, oldest first: (lot row as a list, expires at)
        events = []  # (kind, lot row, delta, cause type, cause id, moment) in journal order
        available = lifetime = tier = 0
        last = at(registered)

        def expire_until(moment: float) -> int:
            gone = 0
            while lots and lots[0][1] <= moment:
                row, expires = lots.popleft()
                events.append(("expire", row, -row[5], "time", "", at(expires)))
                gone += row[5]
                row[5] = 0
            return gone

        for t in times:
            available -= expire_until(t)
            occurred = last = at(t)
            terminal_id, store_id = pick(rnd, terminals)
            total = min(5_000_000, max(5_000, int(rng.lognormvariate(MEDIAN_CHECK, 0.9))))
            total -= total % 10
            spent = 0
            if available >= 10_000 and rnd() < 0.25:
                spent = min(available, total * MAX_REDEEM_PERCENT // 100)
            code, _name, _threshold, percent = TIERS[tier]
            accrual = (total - spent) * percent // 100
            lifetime += total
            after = bisect_right(THRESHOLDS, lifetime) - 1
            purchase_id = self.purchase_id
            rows["purchases"].append((
                purchase_id, merchant_id, member_id, account_id, f"terminal:{terminal_id}",
                f"{terminal_id}-{purchase_id}", terminal_id, store_id, pick(rnd, PAYMENT),
                occurred, occurred, total, spent, spent, accrual, code, TIERS[after][0],
            ))
            parts = pick(rnd, LINES)
            amounts = split(rnd, total, parts)
            money = split(rnd, spent, parts)
            points = split(rnd, accrual, parts)
            for n in range(parts):
                rows["lines"].append((merchant_id, purchase_id, str(n + 1),
                                      f"SKU{int(rnd() * 5000):05d}", pick(rnd, GROUPS),
                                      pick(rnd, QUANTITIES), amounts[n], money[n], points[n]))
            cause = str(purchase_id)
            left = spent
            while left:  # redeem from the oldest lots, as Book.debit does
                row = lots[0][0]
                take = min(left, row[5])
                events.append(("redeem", row, -take, "purchase", cause, occurred))
                row[5] -= take
                left -= take
                if not row[5]:
                    lots.popleft()
            available -= spent
            if accrual:
                expires = t + EXPIRY_DAYS * DAY
                row = [self.lot_id, merchant_id, account_id, "accrual", accrual, accrual,
                       occurred, at(expires), True, occurred]
                rows["lots"].append(row)
                lots.append((row, expires))
                events.append(("accrue", row, accrual, "purchase", cause, occurred))
                available += accrual
            tier = after
            self.purchase_id += 1
            self.lot_id += 1  # one lot id per purchase, reserved with the purchases
        available -= expire_until(now)
        prev, hashed = "", self.hashed
        hashed.account_id = account_id
        for seq, (kind, row, delta, cause_type, cause_id, moment) in enumerate(events, 1):
            hashed.seq, hashed.kind, hashed.lot_id, hashed.available_delta = \
                seq, kind, row[0], delta
            hashed.cause_type, hashed.cause_id, hashed.occurred_at = cause_type, cause_id, moment
            digest = entry_hash(prev, hashed)
            rows["entries"].append((merchant_id, account_id, seq, kind, row[0], delta,
                                    cause_type, cause_id, moment, prev, digest))
            prev = digest
        rows["accounts"].append((
            account_id, merchant_id, member_id, available, 0, lifetime, count,
            last if count else None, TIERS[tier][0], len(events), prev, last,
        ))


def tables() -> dict:
    """A bulkload.Table per kind of row, in load order (references before the rows)."""
    from bulkload import Table

    from kopilka.ledger.models import Account, Entry, Lot
    from kopilka.members.models import Card, Consent, Member, Person, Relative
    from kopilka.processing.models import Purchase, PurchaseLine

    return {
        "people": Table(Person, ["id", "phone", "verified_at", "created_at"]),
        "members": Table(Member, ["id", "merchant_id", "person_id", "first_name", "last_name",
                                  "gender", "birth_date", "email", "tags", "registered_at",
                                  "registered_via"]),
        "cards": Table(Card, ["id", "merchant_id", "member_id", "number", "kind", "status",
                              "replaced_by_id", "issued_at"]),
        "relatives": Table(Relative, ["merchant_id", "member_id", "name", "relation",
                                      "birth_date"]),
        "consents": Table(Consent, ["merchant_id", "member_id", "kind", "text_version",
                                    "channel", "granted_at", "revoked_at"]),
        "accounts": Table(Account, ["id", "merchant_id", "member_id", "available", "pending",
                                    "lifetime_spend", "purchase_count", "last_purchase_at",
                                    "tier_code", "entry_seq", "last_hash", "updated_at"]),
        "purchases": Table(Purchase, ["id", "merchant_id", "member_id", "account_id", "source",
                                      "receipt_id", "terminal_id", "store_id", "payment_method",
                                      "occurred_at", "recorded_at", "total", "points_spent",
                                      "points_spent_money", "points_accrued", "tier_before",
                                      "tier_after"]),
        "lines": Table(PurchaseLine, ["merchant_id", "purchase_id", "line_id", "sku",
                                      "product_group", "quantity", "amount", "points_money",
                                      "accrual"]),
        "lots": Table(Lot, ["id", "merchant_id", "account_id", "kind", "amount", "remaining",
                            "available_at", "expires_at", "activated", "created_at"]),
        "entries": Table(Entry, ["merchant_id", "account_id", "seq", "kind", "lot_id",
                                 "available_delta", "cause_type", "cause_id", "occurred_at",
                                 "prev_hash", "hash"]),
    }


def fresh_database(url: str) -> None:
    """Drop and create the database: phone numbers are unique platform-wide, so a second run
    of the same seed into the same database would collide. Only a database (or file) whose
    name says it is the generator's ("gen") is dropped: a mistyped URL must not cost data."""
    if "gen" not in url.rsplit("/", 1)[1]:
        sys.exit(f"refusing to drop {url!r}: the generator's database name must contain 'gen'")
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
        return
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    create_database(url)


def plain_indexes(tables: list[str]) -> list[tuple[str, str]]:
    """(name, CREATE INDEX statement) of the indexes of `tables` that back no constraint."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = ANY(%s) "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = "
            "(quote_ident(i.schemaname) || '.' || quote_ident(i.indexname))::regclass)",
            [tables])
        return cursor.fetchall()


def load_batch(number: int) -> tuple[dict, dict]:
    """Generate and load one batch in one transaction: (rows per table, seconds per phase)."""
    from django.db import connection, transaction

    started, cpu = time.perf_counter(), time.process_time()
    rows = Batch(PLAN, number).make()
    seconds = {"generate": time.perf_counter() - started}
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                # Foreign keys are triggers: off for this transaction (see the docstring).
                cursor.execute("SET LOCAL session_replication_role = replica")
        for name, table in TARGETS.items():
            started = time.perf_counter()
            table.insert(rows[name])
            seconds[f"copy {name}"] = time.perf_counter() - started
        started = time.perf_counter()  # the commit, on leaving the block
    seconds["commit"] = time.perf_counter() - started
    seconds["client cpu"] = time.process_time() - cpu
    return {name: len(batch) for name, batch in rows.items()}, seconds


def load(args) -> tuple[dict, dict]:
    """Every batch, by --workers forked processes (one connection each) on PostgreSQL."""
    from django.db import connection, connections

    batches = range(math.ceil(args.members / args.batch))
    counts, seconds = dict.fromkeys(TARGETS, 0), {}
    progress = Progress("loaded", args.members, "members")
    done = bought = 0
    if args.workers > 1 and connection.vendor == "postgresql":
        connections.close_all()  # a forked child must not share the parent's socket
        pool = multiprocessing.get_context("fork").Pool(args.workers)
        results = pool.imap_unordered(load_batch, batches)
    else:
        pool, results = None, map(load_batch, batches)
    for batch_counts, batch_seconds in results:
        for name, n in batch_counts.items():
            counts[name] += n
        for name, value in batch_seconds.items():
            seconds[name] = seconds.get(name, 0.0) + value
        done, bought = done + batch_counts["members"], bought + batch_counts["purchases"]
        progress.show(done, f", {bought} purchases")
    if pool is not None:
        pool.close()
        pool.join()
    return counts, seconds


def main() -> None:
    global PLAN, TARGETS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--purchases", type=int, default=1_000_000)
    parser.add_argument("--merchants", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch", type=int, default=10_000, help="members per transaction")
    parser.add_argument("--workers", type=int, default=2,
                        help="loading processes (PostgreSQL; SQLite loads in one)")
    parser.add_argument("--keep-indexes", action="store_true",
                        help="keep the plain indexes during the load (PostgreSQL)")
    parser.add_argument("--verify", type=int, default=2_000,
                        help="accounts re-proved by verify-ledger at the end (0: all)")
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    fresh_database(url)
    os.environ.setdefault("KOPILKA_DEBUG", "0")  # DEBUG logs every statement
    setup_django(url)

    from django.core.management import call_command
    from django.db import connection
    from django_scopes import scopes_disabled

    from kopilka.core import clock
    from kopilka.ledger.models import Account
    from kopilka.ledger.verify import verify, verify_account

    wall = time.perf_counter()
    phase = {}
    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    phase["migrate"] = time.perf_counter() - started
    started = time.perf_counter()
    merchants = setup_merchants(args.merchants, args.seed)
    phase["setup"] = time.perf_counter() - started
    started = time.perf_counter()
    PLAN = Plan(args, merchants, clock.now().timestamp())
    PLAN.reserve()
    TARGETS = tables()
    phase["plan"] = time.perf_counter() - started
    indexes = []
    if connection.vendor == "postgresql" and not args.keep_indexes:
        indexes = plain_indexes([table.model._meta.db_table for table in TARGETS.values()])
        with connection.cursor() as cursor:
            for name, _definition in indexes:
                cursor.execute(f'DROP INDEX "{name}"')
    loadavg_before = Path("/proc/loadavg").read_text().split()[:3]
    started = time.perf_counter()
    counts, work = load(args)
    phase["load"] = time.perf_counter() - started
    loadavg_after = Path("/proc/loadavg").read_text().split()[:3]
    if connection.vendor == "postgresql":
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("SET maintenance_work_mem = '512MB'")  # sorts in memory
            for _name, definition in indexes:
                cursor.execute(definition)
        phase["indexes"] = time.perf_counter() - started
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # COPY leaves the planner without statistics
        phase["analyze"] = time.perf_counter() - started
    started = time.perf_counter()
    with scopes_disabled():
        if args.verify:
            first = PLAN.base["account"]
            sample = random.Random(args.seed).sample(range(first, first + args.members),
                                                     min(args.verify, args.members))
            breaches = [b for b in map(verify_account, Account.objects.filter(pk__in=sample))
                        if b is not None]
            checked = len(sample)
        else:
            checked, breaches = 0, []
            for merchant_id, _terminals in merchants:
                n, found = verify(merchant_id)
                checked, breaches = checked + n, breaches + found
    phase["verify"] = time.perf_counter() - started
    assert not breaches, [str(b) for b in breaches[:5]]
    rows = sum(counts.values())
    figures = {
        "benchmark": "generate", "database": connection.vendor,
        "date": time.strftime("%Y-%m-%d %H:%M"), "seed": args.seed,
        "merchants": args.merchants, "members": args.members, "purchases": args.purchases,
        "batch": args.batch, "workers": args.workers if connection.vendor == "postgresql" else 1,
        "indexes_rebuilt": len(indexes), "rows": counts, "rows_total": rows,
        "seconds": {name: round(value, 1) for name, value in phase.items()},
        "total_seconds": round(time.perf_counter() - wall, 1),
        "load_rows_per_s": round(rows / phase["load"]),
        "purchases_per_s": round(args.purchases / phase["load"]),
        # With the indexes built: what the database costs to have ready.
        "ready_rows_per_s": round(rows / (phase["load"] + phase.get("indexes", 0))),
        # Summed over the workers' batches: where a worker's time went.
        "worker_seconds": {name: round(value, 1) for name, value in work.items()},
        "insert_rows_per_s": {name: round(counts[name] / work[f"copy {name}"])
                              for name in counts if work.get(f"copy {name}")},
        "verified_accounts": checked, "breaches": len(breaches),
        "loadavg_before": loadavg_before, "loadavg_after": loadavg_after,
    }
    stderr(f"{rows} rows in {phase['load']:.1f} s ({figures['load_rows_per_s']} rows/s); "
           f"verify-ledger: {checked} accounts, no breach")
    print(json.dumps(figures), flush=True)
    write_section(figures)


def write_section(r: dict) -> None:
    """Append the run to bench/results/generate.md."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "generate.md"
    text = path.read_text() if path.exists() else (
        "# Generated database (`bench/generate.py`)\n\n"
        "One section per run. `load s` is wall time; the per-table figures are summed over "
        "the workers' batches (a worker generates a batch of members in Python, then COPYs "
        "it table by table in one transaction), so they add up to workers × load s.\n")
    w, s = r["worker_seconds"], r["seconds"]
    lines = [
        "", f"## {r['date']}, {r['database']}: {r['members']} members, {r['purchases']} "
        f"purchases, {r['merchants']} merchants (seed {r['seed']}, batch {r['batch']}, "
        f"{r['workers']} workers)", "",
        f"Load {s['load']} s for {r['rows_total']} rows: **{r['load_rows_per_s']} rows/s, "
        f"{r['purchases_per_s']} purchases/s**; {r['indexes_rebuilt']} plain indexes built "
        f"after it in {s.get('indexes', 0)} s ({r['ready_rows_per_s']} rows/s with them); "
        f"total {r['total_seconds']} s (migrate "
        f"{s['migrate']}, merchants {s['setup']}, plan {s['plan']}, ANALYZE "
        f"{s.get('analyze', '–')}, verify-ledger on {r['verified_accounts']} accounts "
        f"{s['verify']} s: {r['breaches']} breaches). Workers: Python generating rows "
        f"{w['generate']} s, COPY {sum(v for k, v in w.items() if k.startswith('copy '))} s, "
        f"commits {w['commit']} s, their CPU {w['client cpu']} s. Load average "
        f"{' '.join(r['loadavg_before'])} before the load, {' '.join(r['loadavg_after'])} "
        "after.", "",
        "| table | rows | insert s (workers) | rows/s per worker |", "|---|---:|---:|---:|",
        *(f"| {name} | {n} | {w.get(f'copy {name}', 0):.1f} | "
          f"{r['insert_rows_per_s'].get(name, '')} |" for name, n in r["rows"].items()),
        "",
    ]
    path.write_text(text + "\n".join(lines))


if __name__ == "__main__":
    main()
