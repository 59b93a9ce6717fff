"""Benchmark: `kopilka tick` over many merchants — the first tick of a day, then a second one.

Not a test. Run:
    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/kopilka_tick \\
        .venv/bin/python bench/bench_tick.py --merchants 1000 --members 200 [--profile]
    .venv/bin/python bench/bench_tick.py --processes 2 ...   # (c): two ticks overlapping

It DROPS and recreates the database named by BENCH_DATABASE_URL (its name must contain "tick";
a sqlite:/// URL works too, for small runs), then creates `--merchants` merchants with
`tenancy.create_merchant` (one shared owner: no password hashing per merchant), each with a
program (birthday gift, relative's birthday gift, expiry reminders 7 days ahead, an inactivity
chain "all": a message after 30 days, a gift after 60), messaging settings sending
transactional messages to consented members, and `--members` members loaded with COPY
(bench/bulkload.py), each with an account, a lot of points with its hash-chained accrual
entry and, by the member's number i:
    i % 50 == 1   a lot that expired a minute ago          (materialise: expire)
    i % 50 == 2   a pending lot spendable since yesterday  (materialise: activate; then the
                                                            activation notice)
    i % 50 == 3   a lot expiring in 5 days                 (expiry reminder)
    i % 50 == 4   last purchase 45 days ago                (chain step 1: a message)
    i % 50 == 5   last purchase 90 days ago                (chain step 2: a gift)
    i % 100 == 7  born today                               (birthday gift)
    i % 200 == 11 a relative born today                    (relative's birthday gift)
    i % 3 != 0    consent to messages                      (marketing messages go only to them)
Everyone else bought 3 days ago and holds points for the next 300 days: with 200 members, 23
have something due, a busy day (birthdays alone would be about 1 in 365 a day). The merchants' time
zone is a fixed offset where it is now between 12:00 and 19:00, so every daily job is due and
no message waits for quiet hours.

Then `tick.run(now)` — the housekeeping jobs, then the 8 daily jobs of every merchant —
is timed (wall, CPU, statements through `connection.execute_wrapper`, per job), and again at
the same moment: nothing is left to do (the first tick's messages are queued after that
moment, so its outbox sweep leaves them to the workers; SMS go to the in-memory backend). With
`--processes N` the first tick runs in N processes at once instead. The result is checked
against what the population predicts, read from the database (effects, entries, lots,
messages, contacts, finished runs), the ledger re-proved with verify-ledger on
`--verify-merchants` merchants (0: all), printed as one JSON line, appended to
bench/results/tick.jsonl and tabled in bench/results/tick.md.
"""

import argparse
import cProfile
import io
import json
import multiprocessing
import os
import pstats
import re
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# Sibling scripts (their folder is on the path when run as a script), not a package.
from bench_commit import setup_django  # noqa: E402
from bench_expiry import import_ledger_tables  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/kopilka_tick"
RESULTS = ROOT / "bench" / "results"
MERCHANTS_PER_LOAD = 50  # merchants' members per load transaction
POINTS = 1_000
PROGRAM = {
    "type": "bonus", "expiry": {"mode": "after_accrual", "days": 365},
    "tiers": [{"code": "std", "name": "Standard", "accrual": {"kind": "percent", "percent": "5"}}],
    "birthday_gift": {"points": 50_000, "validity_days": 30},
    "relative_birthday_gift": {"points": 20_000, "validity_days": 30},
    "expiry_reminder_days": 7,
    "chains": [{"code": "back", "name": "Come back", "segment": {"kind": "all"}, "steps": [
        {"after_days": 30, "message": {"ru": "{name}, мы скучаем!"}},
        {"after_days": 60, "gift": {"points": 10_000, "validity_days": 30}},
    ]}],
}


def stderr(line: str, end: str = "\n") -> None:
    print(line, file=sys.stderr, end=end, flush=True)


# --- the population, by member number -----------------------------------------------------------

def special(i: int) -> int:
    return i % 50


def born_today(i: int) -> bool:
    return i % 100 == 7


def relative_today(i: int) -> bool:
    return i % 200 == 11


def consents(i: int) -> bool:
    return i % 3 != 0


def daily_jobs() -> int:
    from kopilka.automation import schedule

    return len(schedule.DAILY_JOBS)


def expected(merchants: int, members: int) -> dict[str, int]:
    """What the first tick must do, from the rules above."""
    def count(test) -> int:
        return merchants * sum(1 for i in range(members) if test(i))

    return {
        "expired": count(lambda i: special(i) == 1),
        "activated": count(lambda i: special(i) == 2),
        "activation_notices": count(lambda i: special(i) == 2),
        "activation_messages": count(lambda i: special(i) == 2 and consents(i)),
        "reminders": count(lambda i: special(i) == 3),
        "reminder_messages": count(lambda i: special(i) == 3 and consents(i)),
        "birthday_gifts": count(born_today),
        "birthday_messages": count(lambda i: born_today(i) and consents(i)),
        "relative_gifts": count(relative_today),
        "relative_messages": count(lambda i: relative_today(i) and consents(i)),
        "chain_contacts": count(lambda i: special(i) in (4, 5)),
        "chain_gifts": count(lambda i: special(i) == 5),
        "chain_messages": count(lambda i: special(i) in (4, 5) and consents(i)),
        "job_runs": merchants * daily_jobs(),
    }


def pick_zone(now: datetime) -> str:
    """A fixed-offset zone (Etc/GMT-N is UTC+N) where it is now between 12:00 and 19:00."""
    for offset in range(-12, 15):
        if 12 <= (now + timedelta(hours=offset)).hour < 19:
            return f"Etc/GMT{-offset:+d}" if offset else "Etc/UTC"
    raise AssertionError("some offset always fits")


def create_merchants(count: int, zone: str) -> list[int]:
    from datetime import time as clock_time

    from django_scopes import scope

    from kopilka.core.actor import Actor
    from kopilka.messaging import services as messaging
    from kopilka.programs import services as programs
    from kopilka.tenancy import services as tenancy

    actor, ids = Actor.cli(), []
    for n in range(count):
        merchant = tenancy.create_merchant(f"Tick {n}", owner_email="owner@tick.example",
                                           slug=f"tick-{n}", timezone=zone, actor=actor).merchant
        with scope(merchant=merchant):
            programs.save_program(merchant, PROGRAM, actor=actor)
            messaging.save_settings(merchant, transactional="consented",
                                    quiet_from=clock_time(21), quiet_to=clock_time(9),
                                    actor=actor)
        ids.append(merchant.pk)
        if (n + 1) % 50 == 0 or n + 1 == count:
            stderr(f"created {n + 1}/{count} merchants", end="\r" if n + 1 < count else "\n")
    return ids


def load_members(merchant_ids: list[int], members: int, now: datetime, day: date) -> None:
    """`members` members per merchant as the module docstring lays out, with COPY."""
    from bulkload import Table, reserve_ids
    from django.db import connection, transaction

    from kopilka.ledger.chain import entry_hash
    from kopilka.ledger.models import Account, Lot
    from kopilka.members.models import Consent, Member, Person, Relative

    def not_today(i: int) -> date:  # a birth date on any day but today
        return (day + timedelta(days=1 + i % 300)).replace(year=1985)

    keep = (now - timedelta(days=30), now + timedelta(days=300), True)
    lots_of = {  # special(i) -> (available_at, expires_at, activated) of its second lot
        1: (now - timedelta(days=365), now - timedelta(minutes=1), True),
        2: (now - timedelta(days=1), now + timedelta(days=300), False),
        3: (now - timedelta(days=30), now + timedelta(days=5), True),
    }
    last_purchase = {4: now - timedelta(days=45), 5: now - timedelta(days=90)}
    people = Table(Person, ["id", "phone", "created_at"])
    member_rows = Table(Member, ["id", "merchant_id", "person_id", "first_name", "birth_date",
                                 "registered_at", "registered_via"])
    consent_rows = Table(Consent, ["merchant_id", "member_id", "kind", "text_version", "channel",
                                   "granted_at"])
    relative_rows = Table(Relative, ["merchant_id", "member_id", "name", "relation",
                                     "birth_date"])
    accounts = Table(Account, ["id", "merchant_id", "member_id", "available", "pending",
                               "lifetime_spend", "purchase_count", "last_purchase_at",
                               "tier_code", "entry_seq", "last_hash", "updated_at"])
    lot_rows, entries, hashed = import_ledger_tables()
    registered, phone = now - timedelta(days=400), 0
    started = time.perf_counter()
    for start in range(0, len(merchant_ids), MERCHANTS_PER_LOAD):
        batch = merchant_ids[start:start + MERCHANTS_PER_LOAD]
        size = len(batch) * members
        layouts = [[keep, *([lots_of[special(i)]] if special(i) in lots_of else [])]
                   for _m in batch for i in range(members)]
        with transaction.atomic():
            person0, member0 = reserve_ids(Person, size), reserve_ids(Member, size)
            account0 = reserve_ids(Account, size)
            lot0 = reserve_ids(Lot, sum(map(len, layouts)))
            rows = {"people": [], "members": [], "consents": [], "relatives": [],
                    "accounts": [], "lots": [], "entries": []}
            lot_id = lot0
            for n in range(size):
                m, i = batch[n // members], n % members
                person, member, account = person0 + n, member0 + n, account0 + n
                phone += 1
                rows["people"].append((person, f"+7999{phone:07d}", registered))
                birth = day.replace(year=1990) if born_today(i) else not_today(i)
                rows["members"].append((member, m, person, f"Member {i}", birth, registered,
                                        Member.Channel.IMPORT))
                if consents(i):
                    rows["consents"].append((m, member, Consent.Kind.MESSAGES, "v1",
                                             Member.Channel.IMPORT, registered))
                if relative_today(i):
                    rows["relatives"].append((m, member, "Child", "child",
                                              day.replace(year=2015)))
                hashed.account_id, prev = account, ""
                available = pending = 0
                for seq, (available_at, expires_at, activated) in enumerate(layouts[n], 1):
                    rows["lots"].append((lot_id, m, account, Lot.Kind.ACCRUAL, POINTS, POINTS,
                                         available_at, expires_at, activated, available_at))
                    hashed.seq, hashed.lot_id, hashed.occurred_at = seq, lot_id, available_at
                    hashed.available_delta = POINTS if activated else 0
                    hashed.pending_delta = 0 if activated else POINTS
                    available += hashed.available_delta
                    pending += hashed.pending_delta
                    digest = entry_hash(prev, hashed)
                    rows["entries"].append((m, account, seq, hashed.kind, lot_id,
                                            hashed.available_delta, hashed.pending_delta,
                                            "import", available_at, prev, digest))
                    prev, lot_id = digest, lot_id + 1
                bought = last_purchase.get(special(i), now - timedelta(days=3))
                rows["accounts"].append((account, m, member, available, pending, 100_000, 1,
                                         bought, "std", len(layouts[n]), prev, now))
            people.insert(rows["people"])
            member_rows.insert(rows["members"])
            consent_rows.insert(rows["consents"])
            relative_rows.insert(rows["relatives"])
            accounts.insert(rows["accounts"])
            lot_rows.insert(rows["lots"])
            entries.insert(rows["entries"])
        done = start + len(batch)
        stderr(f"loaded members of {done}/{len(merchant_ids)} merchants "
               f"({done * members / (time.perf_counter() - started):.0f} members/s)",
               end="\r" if done < len(merchant_ids) else "\n")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # COPY leaves the planner without statistics
            cursor.execute("ANALYZE")


# --- measuring ----------------------------------------------------------------------------------

TABLE = re.compile(r'(?:FROM|INTO|UPDATE)\s+"(\w+)"')  # a statement's first table


class Counter:
    """`connection.execute_wrapper`: statements and their wall time, by the job in hand."""

    def __init__(self):
        self.label = "other"
        self.statements: dict[str, int] = {}
        self.seconds: dict[str, float] = {}
        self.by_sql: dict[str, list] = {}  # "SELECT table" -> [statements, seconds]

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            spent = time.perf_counter() - started
            self.statements[self.label] = self.statements.get(self.label, 0) + 1
            self.seconds[self.label] = self.seconds.get(self.label, 0.0) + spent
            table = TABLE.search(sql)
            kind = f"{sql.split(None, 1)[0]} {table.group(1) if table else ''}"
            tally = self.by_sql.setdefault(kind, [0, 0.0])
            tally[0] += 1
            tally[1] += spent


class JobClock:
    """Wall and CPU seconds by job; the daily jobs' own work apart from claiming and finishing
    their runs (what run_due does around them: "daily: claim+finish")."""

    def __init__(self, counter: Counter):
        self.counter = counter
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    def wrap(self, label: str, run):
        def timed(*args):
            outer = self.counter.label
            self.counter.label = label
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return run(*args)
            finally:
                self.wall[label] = self.wall.get(label, 0.0) + time.perf_counter() - wall
                self.cpu[label] = self.cpu.get(label, 0.0) + time.process_time() - cpu
                self.counter.label = outer
        return timed


_ORIGINAL: dict[str, tuple] = {}  # the jobs before the first instrument(), wrapped afresh each time


def instrument(counter: Counter) -> JobClock:
    """Route the tick's jobs (and the daily jobs inside run_due) through a JobClock."""
    from dataclasses import replace

    from kopilka.automation import schedule, tick

    clock = JobClock(counter)
    daily, housekeeping, merchant_jobs = _ORIGINAL.setdefault(
        "jobs", (schedule.DAILY_JOBS, list(tick._HOUSEKEEPING), tick._DAILY))
    schedule.DAILY_JOBS = tuple(replace(job, run=clock.wrap(f"daily: {job.name}", job.run))
                                for job in daily)
    tick._HOUSEKEEPING[:] = [replace(job, run=clock.wrap(job.name, job.run))
                             for job in housekeeping]
    tick._DAILY = replace(merchant_jobs, run=clock.wrap("daily: claim+finish", merchant_jobs.run))
    return clock


def timed_tick(at: datetime, profile: bool = False) -> dict:
    """One `tick.run(at)` in this process: its figures."""
    from django.db import connection

    from kopilka.automation import tick

    counter = Counter()
    clock = instrument(counter)
    profiler = cProfile.Profile() if profile else None
    with connection.execute_wrapper(counter):
        wall, cpu = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        done = tick.run(at)
        if profiler:
            profiler.disable()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    # Daily jobs' seconds are inside run_due's: the claim+finish share is what is left.
    outer = "daily: claim+finish"
    for label in list(clock.wall):
        if label.startswith("daily: ") and label != outer:
            clock.wall[outer] -= clock.wall[label]
            clock.cpu[outer] -= clock.cpu[label]
    figures = {
        "done": done, "seconds": wall, "cpu_seconds": cpu,
        "statements": sum(counter.statements.values()),
        "statement_seconds": sum(counter.seconds.values()),
        "jobs": {label: {"seconds": round(clock.wall.get(label, 0.0), 3),
                         "cpu_seconds": round(clock.cpu.get(label, 0.0), 3),
                         "statements": counter.statements.get(label, 0),
                         "statement_seconds": round(counter.seconds.get(label, 0.0), 3)}
                 for label in sorted(set(clock.wall) | set(counter.statements))},
    }
    figures["by_sql"] = {kind: [n, round(spent, 3)] for kind, (n, spent) in sorted(
        counter.by_sql.items(), key=lambda pair: -pair[1][1])}
    if profiler:
        text = io.StringIO()
        stats = pstats.Stats(profiler, stream=text)
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(40)
        figures["profile"] = text.getvalue()
    return figures


def _tick_process(url: str, at: datetime, results) -> None:
    os.environ.setdefault("KOPILKA_DEBUG", "0")
    setup_django(url)
    results.put(timed_tick(at))


def parallel_tick(url: str, at: datetime, processes: int) -> dict:
    """The first tick in `processes` processes started together; summed figures, the slowest
    process's wall time."""
    from django.db import connections

    connections.close_all()  # the children open their own
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    children = [context.Process(target=_tick_process, args=(url, at, results))
                for _ in range(processes)]
    wall = time.perf_counter()
    for child in children:
        child.start()
    runs = [results.get() for _ in children]
    for child in children:
        child.join()
    wall = time.perf_counter() - wall  # includes each child's start-up (Django setup)
    jobs: dict[str, dict] = {}
    for run in runs:
        for label, job in run["jobs"].items():
            total = jobs.setdefault(label, dict.fromkeys(job, 0))
            for key, value in job.items():
                total[key] = round(total[key] + value, 3)
    by_sql: dict[str, list] = {}
    for run in runs:
        for kind, (n, spent) in run["by_sql"].items():
            tally = by_sql.setdefault(kind, [0, 0.0])
            tally[0], tally[1] = tally[0] + n, round(tally[1] + spent, 3)
    return {
        "done": {name: sum(run["done"][name] for run in runs) for name in runs[0]["done"]},
        "seconds": max(run["seconds"] for run in runs), "wall_with_startup": wall,
        "cpu_seconds": sum(run["cpu_seconds"] for run in runs),
        "statements": sum(run["statements"] for run in runs),
        "statement_seconds": sum(run["statement_seconds"] for run in runs),
        "jobs": jobs, "per_process_runs": [run["done"]["merchant jobs run"] for run in runs],
        "by_sql": by_sql,
    }


def observed(day: date) -> dict[str, int]:
    """What the tick did, read back from the database across merchants."""
    from django.db.models import Count
    from django_scopes import scopes_disabled

    from kopilka.automation.models import Effect, JobRun, WinbackContact
    from kopilka.ledger.models import Entry, Lot
    from kopilka.messaging.models import Event, Message

    with scopes_disabled():
        effects = dict(Effect.objects.values_list("kind").annotate(n=Count("pk")))
        journal = dict(Entry.objects.filter(cause_type="time").values_list("kind")
                       .annotate(n=Count("pk")))
        causes = dict(Entry.objects.filter(kind=Entry.Kind.GRANT).values_list("cause_type")
                      .annotate(n=Count("pk")))
        messages = dict(Message.objects.values_list("event").annotate(n=Count("pk")))
        return {
            "expired": journal.get(Entry.Kind.EXPIRE, 0),
            "activated": journal.get(Entry.Kind.ACTIVATE, 0),
            "activation_notices": effects.get(Effect.Kind.ACTIVATION_NOTICE, 0),
            "activation_messages": messages.get(Event.ACTIVATION, 0),
            "reminders": effects.get(Effect.Kind.EXPIRY_REMINDER, 0),
            "reminder_messages": messages.get(Event.EXPIRY_SOON, 0),
            "birthday_gifts": effects.get(Effect.Kind.BIRTHDAY_GIFT, 0),
            "birthday_messages": messages.get(Event.BIRTHDAY, 0),
            "relative_gifts": effects.get(Effect.Kind.RELATIVE_BIRTHDAY_GIFT, 0),
            "relative_messages": messages.get(Event.RELATIVE_BIRTHDAY, 0),
            "chain_contacts": WinbackContact.objects.count(),
            "chain_gifts": causes.get("winback", 0),
            "chain_messages": messages.get(Event.GIFT, 0),
            "job_runs": JobRun.objects.filter(day=day, finished_at__isnull=False).count(),
            # Every gift is one lot and one grant entry: none doubled, none lost.
            "gift_lots": Lot.objects.filter(kind=Lot.Kind.GIFT).count(),
            "grants": sum(causes.values()),
        }


def round_trip_ms(count: int = 500) -> float:
    """The reference: milliseconds per `SELECT 1` through Django, here and now (what any
    statement costs at least)."""
    from django.db import connection

    with connection.cursor() as cursor:
        started = time.perf_counter()
        for _ in range(count):
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return round(1000 * (time.perf_counter() - started) / count, 3)


def commit_ms(count: int = 200) -> float:
    """The second reference: milliseconds per transaction writing one row (the WAL flush every
    claimed or finished run, effect chunk and outbox task pays), in a scratch table."""
    from django.db import connection, transaction

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_tick_commit (n integer)")
        started = time.perf_counter()
        for n in range(count):
            with transaction.atomic():
                cursor.execute("INSERT INTO bench_tick_commit (n) VALUES (%s)", [n])
        seconds = time.perf_counter() - started
        cursor.execute("DROP TABLE bench_tick_commit")
    return round(1000 * seconds / count, 3)


def fresh_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    if "tick" not in name:
        sys.exit(f"refusing to drop {name!r}: the benchmark's database name must contain 'tick'")
    if url.startswith("postgres"):
        import psycopg

        with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    else:
        path = Path(url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--merchants", type=int, default=1_000)
    parser.add_argument("--members", type=int, default=200, help="members per merchant")
    parser.add_argument("--processes", type=int, default=1,
                        help="processes running the first tick at once")
    parser.add_argument("--verify-merchants", type=int, default=20,
                        help="merchants whose ledger verify-ledger re-proves (0: all)")
    parser.add_argument("--profile", action="store_true", help="cProfile the first tick")
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    fresh_database(url)
    os.environ.setdefault("KOPILKA_DEBUG", "0")  # DEBUG wraps every statement to log it
    os.environ.setdefault("KOPILKA_SMS_BACKEND", "locmem")  # the console would flood stdout
    setup_django(url)

    from zoneinfo import ZoneInfo

    from django.core.management import call_command
    from django.db import connection

    from kopilka.core import clock
    from kopilka.ledger.verify import verify

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    now = clock.now()
    zone = pick_zone(now)
    day = now.astimezone(ZoneInfo(zone)).date()
    merchant_ids = create_merchants(args.merchants, zone)
    load_members(merchant_ids, args.members, now, day)
    setup_seconds = time.perf_counter() - started
    stderr(f"set up in {setup_seconds:.0f} s; ticking at {now:%H:%M} UTC, "
           f"{now.astimezone(ZoneInfo(zone)):%H:%M} in {zone}")

    round_trip, commit = round_trip_ms(), commit_ms()
    load_before = Path("/proc/loadavg").read_text().split()[:3]
    at = clock.now()
    if args.processes > 1:
        first = parallel_tick(url, at, args.processes)
    else:
        first = timed_tick(at, args.profile)
    stderr(f"first tick: {first['seconds']:.1f} s, {first['statements']} statements")
    second = timed_tick(at)
    stderr(f"second tick: {second['seconds']:.2f} s, {second['statements']} statements")
    load_after = Path("/proc/loadavg").read_text().split()[:3]

    want, got = expected(args.merchants, args.members), observed(day)
    gifts = want["birthday_gifts"] + want["relative_gifts"] + want["chain_gifts"]
    want.update(gift_lots=gifts, grants=gifts)
    # (observed, expected) of every figure that is off; reported, then the run fails.
    mismatches = {key: (got[key], want[key]) for key in want if got[key] != want[key]}
    if second["done"]["merchant jobs run"]:
        mismatches["second tick runs"] = (second["done"]["merchant jobs run"], 0)

    verify_started = time.perf_counter()
    chosen = merchant_ids if not args.verify_merchants else merchant_ids[
        ::max(1, len(merchant_ids) // args.verify_merchants)][:args.verify_merchants]
    checked = 0
    for merchant_id in chosen:
        accounts, breaches = verify(merchant_id)
        assert not breaches, breaches[:5]
        checked += accounts
    verify_seconds = time.perf_counter() - verify_started

    merchants = args.merchants
    daily = {label: job for label, job in first["jobs"].items() if label.startswith("daily: ")}
    figures = {
        "benchmark": "tick", "database": connection.vendor,
        "date": time.strftime("%Y-%m-%d %H:%M"), "merchants": merchants,
        "members_per_merchant": args.members, "processes": args.processes,
        "setup_seconds": round(setup_seconds, 1),
        "first_seconds": round(first["seconds"], 2), "first_cpu_seconds":
            round(first["cpu_seconds"], 2),
        "first_statements": first["statements"],
        "first_statement_seconds": round(first["statement_seconds"], 2),
        "select_1_ms": round_trip, "commit_ms": commit,
        "first_statements_per_merchant": round(first["statements"] / merchants, 1),
        "first_ms_per_merchant": round(1000 * first["seconds"] / merchants, 1),
        "daily_runs": first["done"]["merchant jobs run"],
        "second_seconds": round(second["seconds"], 3),
        "second_statements": second["statements"],
        "second_daily_seconds": second["jobs"]["daily: claim+finish"]["seconds"],
        "second_daily_statements": second["jobs"]["daily: claim+finish"]["statements"],
        "second_messages_sent": second["done"]["messages due"],
        "work": want, "first_jobs": first["jobs"], "second_jobs": second["jobs"],
        # The 15 costliest kinds of statement of the first tick: [statements, seconds].
        "first_by_sql": dict(sorted(first["by_sql"].items(), key=lambda p: -p[1][1])[:15]),
        "daily_statements_per_merchant": {label[7:]: round(job["statements"] / merchants, 2)
                                          for label, job in daily.items()},
        "verified_merchants": len(chosen), "verified_accounts": checked,
        "verify_seconds": round(verify_seconds, 1),
        "loadavg_before": " ".join(load_before), "loadavg_after": " ".join(load_after),
        "profiled": args.profile, "mismatches": mismatches,
    }
    if args.processes > 1:
        figures["first_wall_with_startup"] = round(first["wall_with_startup"], 2)
        figures["runs_per_process"] = first["per_process_runs"]
    print(json.dumps(figures), flush=True)
    if "profile" in first:
        stderr(first["profile"])
    RESULTS.mkdir(exist_ok=True)
    with (RESULTS / "tick.jsonl").open("a") as log:
        log.write(json.dumps(figures) + "\n")
    write_table()
    if mismatches:
        sys.exit(f"the tick's work does not match the population: {mismatches}")


def write_table() -> None:
    runs = [json.loads(line) for line in (RESULTS / "tick.jsonl").read_text().splitlines()
            if line.strip()]
    rows = [
        f"| {r['date']} | {r['database']} | {r['merchants']} | {r['members_per_merchant']} | "
        f"{r['processes']} | {r['setup_seconds']} | **{r['first_seconds']}** | "
        f"{r['first_cpu_seconds']} | {r['first_statement_seconds']} | {r['first_statements']} | "
        f"{r['first_statements_per_merchant']} | {r['first_ms_per_merchant']} | "
        f"{r['second_seconds']} | {r['second_statements']} | {r['second_daily_seconds']} | "
        f"{r['second_daily_statements']} | {r['select_1_ms']} | {r['commit_ms']} | "
        f"{r['verified_accounts']} | {r['loadavg_before']} | "
        + ("profiled " if r["profiled"] else "")
        + (f"MISMATCH {r['mismatches']} " if r["mismatches"] else "") + "|"
        for r in runs
    ]
    # The per-job table shows the biggest single-process run without the profiler.
    last = max(runs, key=lambda r: (r["processes"] == 1 and not r["profiled"], r["merchants"],
                                    r["date"]))
    jobs = [
        f"| {label} | {job['seconds']} | {job['cpu_seconds']} | {job['statements']} | "
        f"{round(job['statements'] / last['merchants'], 2)} | {job['statement_seconds']} |"
        for label, job in last["first_jobs"].items()
    ]
    (RESULTS / "tick.md").write_text("\n".join([
        "# Tick over many merchants",
        "",
        "`bench/bench_tick.py` (see its docstring and docs/benchmarks.md): the first "
        "`kopilka tick` of a day over every merchant (the 8 daily jobs each), then a second "
        "one at the same moment. Second tick: all of it, and its daily-jobs part alone. "
        "Load average: 1, 5, 15 min, before the first tick (2 cores shared with other work). "
        "`in statements s`: wall time inside ORM statements (round trips included, not the "
        "commits' on_commit work); `SELECT 1 ms`: one round trip, `commit ms`: one "
        "transaction writing one row, both measured just before the first tick.",
        "",
        "| date | db | merchants | members each | processes | setup s | first tick s | CPU s "
        "| in statements s | statements | per merchant | ms per merchant | second tick s "
        "| statements | daily part s | statements | SELECT 1 ms | commit ms | accounts verified "
        "| load | |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:"
        "|---:|---|---|",
        *rows,
        "",
        f"Per job, the run of {last['date']} ({last['database']}, {last['merchants']} "
        f"merchants, {last['processes']} process); daily jobs without claiming and "
        "finishing their runs, which is the `claim+finish` line:",
        "",
        "| job | wall s | CPU s | statements | per merchant | statement s |",
        "|---|---:|---:|---:|---:|---:|",
        *jobs,
        "",
        f"Work done by that first tick, checked against the population: {last['work']}.",
        "",
    ]))


if __name__ == "__main__":
    main()
