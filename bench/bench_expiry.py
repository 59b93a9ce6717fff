"""Benchmark: the daily expiry sweep (automation.jobs.materialise) over up to a million members.

Not a test. Run:
    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/kopilka_bench_h1 \\
        .venv/bin/python bench/bench_expiry.py --members 1000000 --lots 5

It creates (or reuses) the database named by BENCH_DATABASE_URL (default `kopilka_bench`;
a sqlite:/// URL works too, for small runs), adds a fresh merchant whose members each hold
`--lots` lots of 10.00 points accrued a year ago, with their hash-chained accrual entries so
the ledger stays provable. Lot i of a member follows the pattern
    expire, activate, expire, keep, expire, expire, activate, ...
— "expire": spendable, expired a minute before the sweep; "activate": pending, spendable since
an hour before it; "keep": spendable until next year. Rows go in with COPY (bench/bulkload.py).

Then, at the same moment:
1. reference: the first `--reference` due accounts the old way — `Book.open` + `save()` per
   account, 500 accounts per transaction (five round trips per account);
2. the sweep of every other account (`jobs.materialise`, set-based chunks, ledger/sweep.py),
   timing what the database took (every statement, round trip included) apart from Python;
   `--path sql` (the default on PostgreSQL) has the database build the entries and their hash
   chain (ledger/sqlsweep.py) in `--streams` parallel streams, `--path python` builds them in
   Python; the CPU time of this process and of the PostgreSQL server processes serving it
   (read from /proc: the database must be on this machine) is reported per lot swept;
3. the sweep again: nothing is due, it journals nothing (the daily cost of a quiet day).

The result is checked (entry counts, balances, `verify-ledger` on a sample of accounts), printed
as one JSON line, appended to bench/results/expiry.jsonl and tabled in bench/results/expiry.md.
"""

import argparse
import cProfile
import json
import os
import pstats
import random
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# Sibling scripts (their folder is on the path when run as a script), not a package.
from bench_commit import DEFAULT_URL, create_database, setup_django  # noqa: E402

BATCH = 20_000  # members per load transaction: memory stays flat at a million
POINTS = 1_000
PATTERN = ("expire", "activate", "expire", "keep", "expire")
OLD_WAY_CHUNK = 500  # what jobs.materialise did before the sweep
RESULTS = ROOT / "bench" / "results"


def stderr(line: str, end: str = "\n") -> None:
    print(line, file=sys.stderr, end=end, flush=True)


class _Hashed:
    """The attributes `entry_hash` reads, without a model instance per row."""

    __slots__ = ("account_id", "seq", "kind", "lot_id", "available_delta", "pending_delta",
                 "cause_type", "cause_id", "occurred_at")


def import_ledger_tables():
    """The COPY tables for lots and their hash-chained entries, and the row the chain hashes,
    set up for accruals written by an import (shared with bench_tick.py)."""
    from bulkload import Table

    from kopilka.ledger.models import Entry, Lot

    lot_rows = Table(Lot, ["id", "merchant_id", "account_id", "kind", "amount", "remaining",
                           "available_at", "expires_at", "activated", "created_at"])
    entries = Table(Entry, ["merchant_id", "account_id", "seq", "kind", "lot_id",
                            "available_delta", "pending_delta", "cause_type", "occurred_at",
                            "prev_hash", "hash"])
    hashed = _Hashed()
    hashed.kind, hashed.cause_type, hashed.cause_id = Entry.Kind.ACCRUE, "import", ""
    return lot_rows, entries, hashed


def load(members: int, lots: int, now):
    """A new merchant with `members` members, each holding `lots` lots laid out by PATTERN."""
    from bulkload import Table, reserve_ids
    from django.db import connection, transaction
    from django_scopes import scope

    from kopilka.core.actor import Actor
    from kopilka.ledger.chain import entry_hash
    from kopilka.ledger.models import Account, Lot
    from kopilka.members.models import Member, Person
    from kopilka.programs import services as programs
    from kopilka.tenancy import services as tenancy

    actor = Actor.cli()
    slug = f"bench-expiry-{int(time.time())}"
    merchant = tenancy.create_merchant("Bench expiry", owner_email=f"{slug}@example.com",
                                       slug=slug, actor=actor).merchant
    with scope(merchant=merchant):
        programs.save_program(merchant, {
            "type": "bonus", "expiry": {"mode": "after_accrual", "days": 364},
            "tiers": [{"code": "std", "name": "Standard",
                       "accrual": {"kind": "percent", "percent": "5"}}],
        }, actor=actor)
    accrued = now - timedelta(days=365)
    shapes = {  # kind -> (available_at, expires_at, activated)
        "expire": (accrued, now - timedelta(minutes=1), True),
        "activate": (now - timedelta(hours=1), now + timedelta(days=300), False),
        "keep": (accrued, now + timedelta(days=300), True),
    }
    layout = [shapes[PATTERN[i % len(PATTERN)]] for i in range(lots)]
    available = POINTS * sum(activated for _a, _e, activated in layout)
    pending = POINTS * lots - available
    people = Table(Person, ["id", "created_at"])
    member_rows = Table(Member, ["id", "merchant_id", "person_id", "registered_at",
                                 "registered_via"])
    accounts = Table(Account, ["id", "merchant_id", "member_id", "available", "pending",
                               "tier_code", "entry_seq", "last_hash", "updated_at"])
    lot_rows, entries, hashed = import_ledger_tables()
    hashed.occurred_at = accrued
    m = merchant.pk
    started = time.perf_counter()
    for start in range(0, members, BATCH):
        size = min(BATCH, members - start)
        with transaction.atomic():
            person0, member0 = reserve_ids(Person, size), reserve_ids(Member, size)
            account0, lot0 = reserve_ids(Account, size), reserve_ids(Lot, size * lots)
            people.insert((person0 + n, accrued) for n in range(size))
            member_rows.insert((member0 + n, m, person0 + n, accrued, Member.Channel.IMPORT)
                               for n in range(size))
            lot_rows.insert(
                (lot0 + n * lots + i, m, account0 + n, Lot.Kind.ACCRUAL, POINTS, POINTS,
                 available_at, expires_at, activated, accrued)
                for n in range(size) for i, (available_at, expires_at, activated)
                in enumerate(layout)
            )
            heads, entry_rows = [], []
            for n in range(size):
                hashed.account_id, prev = account0 + n, ""
                for i, (_available_at, _expires_at, activated) in enumerate(layout):
                    hashed.seq, hashed.lot_id = i + 1, lot0 + n * lots + i
                    hashed.available_delta = POINTS if activated else 0
                    hashed.pending_delta = 0 if activated else POINTS
                    digest = entry_hash(prev, hashed)
                    entry_rows.append((m, hashed.account_id, hashed.seq, hashed.kind,
                                       hashed.lot_id, hashed.available_delta,
                                       hashed.pending_delta, "import", accrued, prev, digest))
                    prev = digest
                heads.append(prev)
            accounts.insert((account0 + n, m, member0 + n, available, pending, "std", lots,
                             heads[n], accrued) for n in range(size))
            entries.insert(entry_rows)
        done = start + size
        rate = done / (time.perf_counter() - started)
        stderr(f"loaded {done}/{members} members ({done * lots} lots), {rate:.0f} members/s",
               end="\r" if done < members else "\n")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # COPY leaves the planner without statistics
            cursor.execute("ANALYZE ledger_account, ledger_lot, ledger_entry")
    return merchant, time.perf_counter() - started


class StatementTimer:
    """`connection.execute_wrapper`: wall time spent in statements (server + round trip)."""

    def __init__(self):
        self.seconds, self.statements = 0.0, 0
        self.by_kind: dict[str, float] = {}

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            spent = time.perf_counter() - started
            self.seconds += spent
            self.statements += 1
            kind = " ".join(sql.split()[:2])[:40]
            for table in ("ledger_account", "ledger_lot", "ledger_entry"):
                if table in sql:
                    kind += f" {table}"
                    break
            self.by_kind[kind] = self.by_kind.get(kind, 0.0) + spent


def old_way(account_ids, now) -> int:
    """The reference: what jobs.materialise did before the sweep. Returns entries written."""
    from django.db import transaction

    from kopilka.ledger.models import Entry
    from kopilka.ledger.services import Book

    before = Entry.objects.count()
    for start in range(0, len(account_ids), OLD_WAY_CHUNK):
        with transaction.atomic():
            for account_id in account_ids[start:start + OLD_WAY_CHUNK]:
                Book.open(account_id=account_id, at=now).save()
    return Entry.objects.count() - before


def use_orm_bulk_update() -> None:
    """--update orm: Django's bulk_update (CASE WHEN) instead of UPDATE … FROM (VALUES …)."""
    from kopilka.ledger import services

    def update_rows(objs, fields):
        type(objs[0])._base_manager.bulk_update(objs, fields)

    services.update_rows = update_rows


def _proc_cpu(pid: int) -> float:
    """User + system CPU seconds of a process on this machine (0.0 if unreadable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _backend_cpu(connection) -> float:
    """CPU seconds the PostgreSQL process serving this connection has used so far."""
    if connection.vendor != "postgresql":
        return 0.0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return _proc_cpu(cursor.fetchone()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--lots", type=int, default=5, help="lots per member")
    parser.add_argument("--chunk", type=int, default=None, help="accounts per transaction")
    parser.add_argument("--reference", type=int, default=2_000,
                        help="accounts swept the old way first, for the ratio (0: none)")
    parser.add_argument("--update", choices=("values", "orm"), default="values")
    parser.add_argument("--verify", type=int, default=2_000,
                        help="accounts re-proved by verify-ledger afterwards (0: all)")
    parser.add_argument("--profile", action="store_true", help="cProfile the sweep")
    parser.add_argument("--path", choices=("sql", "python"), default="sql",
                        help="sql: entries and hash chain built by PostgreSQL (sqlsweep.py)")
    parser.add_argument("--streams", type=int, default=None,
                        help="parallel streams of chunks on the SQL path (default sweep.STREAMS)")
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    if url.startswith("postgres"):
        create_database(url)
    # DEBUG (the local default) wraps every statement to log it: not what production runs.
    os.environ.setdefault("KOPILKA_DEBUG", "0")
    setup_django(url)

    from zoneinfo import ZoneInfo

    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Count, Q, Sum
    from django_scopes import scope

    from kopilka.automation import jobs, progress
    from kopilka.core import clock
    from kopilka.ledger import sweep
    from kopilka.ledger.models import Account, Entry, Lot
    from kopilka.ledger.verify import verify, verify_account
    from kopilka.programs import services as programs

    call_command("migrate", verbosity=0)
    if args.chunk:
        sweep.CHUNK = args.chunk
    sweep.SQL = args.path == "sql"
    if args.streams:
        sweep.STREAMS = args.streams
    stream_cpu: list[float] = []  # the streams' server processes, read as each stream ends
    sweep.on_stream_end = lambda conn: stream_cpu.append(_backend_cpu(conn))
    if args.update == "orm":
        use_orm_bulk_update()
    now = clock.now()
    merchant, load_seconds = load(args.members, args.lots, now)
    expected = {kind: args.members * sum(PATTERN[i % len(PATTERN)] == kind
                                         for i in range(args.lots))
                for kind in ("expire", "activate", "keep")}
    with scope(merchant=merchant):
        program = programs.load(merchant)
        day = now.astimezone(ZoneInfo(merchant.timezone)).date()
        reference = {"accounts": 0, "entries": 0, "seconds": 0.0}
        if args.reference:
            ids = sweep.due_accounts(merchant, now)[:args.reference]
            started = time.perf_counter()
            reference["entries"] = old_way(ids, now)
            reference.update(accounts=len(ids), seconds=time.perf_counter() - started)
            stderr(f"reference (Book.open per account): {len(ids)} accounts, "
                   f"{reference['entries']} lots in {reference['seconds']:.1f} s")
        timer, profiler = StatementTimer(), cProfile.Profile() if args.profile else None
        with connection.execute_wrapper(timer), progress.shown_by(
            lambda line: stderr(f"sweep {line.strip()}", end="\r")
        ):
            server_cpu = _backend_cpu(connection)
            started, cpu = time.perf_counter(), time.process_time()
            if profiler:
                profiler.enable()
            counts = jobs.materialise(merchant, program, now, day)
            if profiler:
                profiler.disable()
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
            load_average = os.getloadavg()
            server_cpu = _backend_cpu(connection) - server_cpu + sum(stream_cpu)
        stderr("")
        started = time.perf_counter()
        again = jobs.materialise(merchant, program, now, day)
        quiet_seconds = time.perf_counter() - started

        made = dict(Entry.objects.filter(merchant=merchant, cause_type="time")
                    .values_list("kind").annotate(n=Count("pk")))
        sums = Account.objects.filter(merchant=merchant).aggregate(
            available=Sum("available"), pending=Sum("pending"))
        open_lots = Lot.objects.filter(merchant=merchant, remaining__gt=0).aggregate(
            n=Count("pk"), pending=Count("pk", filter=Q(activated=False)))
    assert made == {k: v for k, v in (("expire", expected["expire"]),
                                      ("activate", expected["activate"])) if v}, made
    assert counts["entries"] + reference["entries"] == sum(made.values()), counts
    assert again == {"accounts": 0, "entries": 0}, again
    assert sums == {"available": POINTS * (expected["activate"] + expected["keep"]),
                    "pending": 0}, sums
    assert open_lots == {"n": expected["activate"] + expected["keep"], "pending": 0}, open_lots
    if args.verify:
        with scope(merchant=merchant):
            ids = list(Account.objects.filter(merchant=merchant).values_list("pk", flat=True))
            sample = random.Random(0).sample(ids, min(args.verify, len(ids)))
            chosen = Account.objects.filter(merchant=merchant, pk__in=sample)
            breaches = [b for b in map(verify_account, chosen) if b is not None]
        checked = len(sample)
    else:
        checked, breaches = verify(merchant.pk)
    assert not breaches, breaches[:5]

    lots_swept = counts["entries"]
    figures = {
        "benchmark": "expiry_sweep", "database": connection.vendor,
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "members": args.members, "lots_per_member": args.lots,
        "lots": args.members * args.lots, "load_seconds": round(load_seconds, 1),
        "chunk": sweep.CHUNK, "update": args.update,
        "accounts": counts["accounts"], "lots_swept": lots_swept, "seconds": round(seconds, 1),
        "lots_per_s": round(lots_swept / seconds), "accounts_per_s":
            round(counts["accounts"] / seconds),
        # Wall time inside ORM statements (server + round trip; COPY and COMMIT not included)
        # and the CPU this process used: the rest of the wall time is waiting on the server.
        "statement_seconds": round(timer.seconds, 1), "cpu_seconds": round(cpu, 1),
        "statements": timer.statements, "quiet_day_seconds": round(quiet_seconds, 2),
        "reference_accounts": reference["accounts"],
        "reference_lots_per_s": round(reference["entries"] / reference["seconds"])
        if reference["accounts"] else None,
        "verified_accounts": checked, "profiled": args.profile,
        "path": args.path if sweep.sql_path() else "python",
        "streams": sweep.STREAMS if sweep.sql_path() else 1,
        # The server processes' CPU (the main connection's and each stream's) and the total
        # per lot swept: what the night costs the machine, whatever else runs on it.
        "server_cpu_seconds": round(server_cpu, 1),
        "cpu_us_per_lot": round((cpu + server_cpu) / max(lots_swept, 1) * 1e6),
        "load_average": [round(x, 1) for x in load_average],
    }
    if figures["reference_lots_per_s"]:
        figures["ratio_to_reference"] = round(figures["lots_per_s"]
                                              / figures["reference_lots_per_s"], 1)
    stderr(f"sweep: {counts['accounts']} accounts, {lots_swept} lots in {seconds:.1f} s — "
           f"{figures['lots_per_s']} lots/s, {figures['accounts_per_s']} accounts/s "
           f"(statements {timer.seconds:.1f} s, the rest {seconds - timer.seconds:.1f} s; "
           f"this process used {cpu:.1f} s CPU, PostgreSQL {server_cpu:.1f} s: "
           f"{figures['cpu_us_per_lot']} µs per lot; load {figures['load_average']})")
    print(json.dumps(figures), flush=True)
    if profiler:
        for kind, spent in sorted(timer.by_kind.items(), key=lambda pair: -pair[1]):
            stderr(f"  statements {kind}: {spent:.2f} s")
        stats = pstats.Stats(profiler, stream=sys.stderr)
        stats.sort_stats(os.environ.get("BENCH_PROFILE_SORT", "tottime")).print_stats(30)
    RESULTS.mkdir(exist_ok=True)
    with (RESULTS / "expiry.jsonl").open("a") as log:
        log.write(json.dumps(figures) + "\n")
    write_table()


def write_table() -> None:
    runs = [json.loads(line) for line in (RESULTS / "expiry.jsonl").read_text().splitlines()
            if line.strip()]
    rows = [
        f"| {r['date']} | {r['database']} | {r['members']} | {r['lots_per_member']} | "
        f"{r['chunk']} | {r['update']} | {r['load_seconds']} | {r['accounts']} | "
        f"{r['lots_swept']} | {r['seconds']} | **{r['lots_per_s']}** | {r['accounts_per_s']} | "
        f"{r['statement_seconds']} | {r['cpu_seconds']} | {r['quiet_day_seconds']} | "
        f"{r['reference_lots_per_s'] or ''} | {r.get('ratio_to_reference', '')} | "
        f"{r.get('path', 'python')} | {r.get('streams', 1)} | "
        f"{r.get('server_cpu_seconds', '')} | {r.get('cpu_us_per_lot', '')} | "
        f"{' '.join(map(str, r.get('load_average', [])))} |"
        + (" profiled |" if r.get("profiled") else " |")
        for r in runs
    ]
    (RESULTS / "expiry.md").write_text("\n".join([
        "# Expiry sweep",
        "",
        "`bench/bench_expiry.py` (see its docstring and docs/benchmarks.md): members with "
        "`lots` lots each (expire, activate, expire, keep, expire, …); the sweep journals every "
        "due lot, a chunk of accounts per transaction, one statement per table per chunk. "
        "The reference is the old way (`Book.open` + `save()` per account) on the first "
        "2 000 due accounts of the same data, same run. Before the sweep, the old way took "
        "215.1 s for 20 000 members with one lot each (93 lots/s, PostgreSQL).",
        "",
        "| date | db | members | lots each | chunk | update | load s | accounts swept "
        "| lots swept | sweep s | lots/s | accounts/s | ORM statements s | CPU s "
        "| quiet day s | reference lots/s | ratio | path | streams | server CPU s "
        "| CPU µs/lot | load | |",
        "|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:"
        "|---|---:|---:|---:|---|---|",
        *rows,
        "",
    ]))


if __name__ == "__main__":
    main()
