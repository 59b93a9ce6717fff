"""Benchmark: the daily expiry sweep (automation.jobs.materialise) over many members.

Not a test. Run:  .venv/bin/python bench/bench_expiry.py [--members 1000000]
It creates (or reuses) the PostgreSQL database `kopilka_bench` (override with
BENCH_DATABASE_URL), adds a fresh merchant whose N members each hold one lot of 10.00 points
accrued a year ago and expiring a minute before the sweep (bulk-created, with their hash-chained
accrual entries so the ledger stays provable), then times the job that finds the due accounts
with one query and journals their expiry in chunks. Prints one JSON line and writes
bench/results/expiry.md.
"""

import argparse
import json
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# A sibling script (its folder is on the path when run as a script), not a package.
from bench_commit import DEFAULT_URL, create_database, setup_django  # noqa: E402

BATCH = 10_000  # rows per bulk_create round, to keep memory flat at a million members
POINTS = 1_000


def load(members: int, now):
    """A new merchant with `members` members, each with one lot due to expire at `now`."""
    from django.core.management import call_command
    from django.db import transaction
    from django_scopes import scope

    from kopilka.core.actor import Actor
    from kopilka.ledger.chain import entry_hash
    from kopilka.ledger.models import Account, Entry, Lot
    from kopilka.members.models import Member, Person
    from kopilka.programs import services as programs
    from kopilka.tenancy import services as tenancy

    call_command("migrate", verbosity=0)
    actor = Actor.cli()
    slug = f"bench-expiry-{int(time.time())}"
    merchant = tenancy.create_merchant("Bench expiry", owner_email=f"{slug}@example.com",
                                       slug=slug, actor=actor).merchant
    accrued, expires = now - timedelta(days=365), now - timedelta(minutes=1)
    with scope(merchant=merchant):
        programs.save_program(merchant, {
            "type": "bonus", "expiry": {"mode": "after_accrual", "days": 364},
            "tiers": [{"code": "std", "name": "Standard",
                       "accrual": {"kind": "percent", "percent": "5"}}],
        }, actor=actor)
        for start in range(0, members, BATCH):
            size = min(BATCH, members - start)
            with transaction.atomic():
                people = Person.objects.bulk_create(
                    [Person(phone=None, created_at=accrued) for _ in range(size)])
                member_rows = Member.objects.bulk_create([
                    Member(merchant=merchant, person=person, registered_at=accrued,
                           registered_via=Member.Channel.IMPORT) for person in people])
                accounts = Account.objects.bulk_create([
                    Account(merchant=merchant, member=member, available=POINTS, tier_code="std",
                            updated_at=accrued) for member in member_rows])
                lots = Lot.objects.bulk_create([
                    Lot(merchant=merchant, account=account, kind=Lot.Kind.ACCRUAL,
                        amount=POINTS, remaining=POINTS, available_at=accrued,
                        expires_at=expires, activated=True, created_at=accrued)
                    for account in accounts])
                entries = []
                for account, lot in zip(accounts, lots, strict=True):
                    entry = Entry(merchant=merchant, account=account, seq=1,
                                  kind=Entry.Kind.ACCRUE, lot=lot, available_delta=POINTS,
                                  cause_type="import", occurred_at=accrued, prev_hash="")
                    entry.hash = entry_hash("", entry)
                    account.entry_seq, account.last_hash = 1, entry.hash
                    entries.append(entry)
                Entry.objects.bulk_create(entries)
                Account.objects.bulk_update(accounts, ["entry_seq", "last_hash"])
            print(f"loaded {start + size}/{members}", file=sys.stderr, end="\r")
    print(file=sys.stderr)
    return merchant


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100_000)
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    if url.startswith("postgres"):
        create_database(url)
    setup_django(url)

    from zoneinfo import ZoneInfo

    from django_scopes import scope

    from kopilka.automation import jobs
    from kopilka.core import clock
    from kopilka.ledger.models import Entry, Lot
    from kopilka.programs import services as programs

    now = clock.now()
    merchant = load(args.members, now)
    with scope(merchant=merchant):
        program = programs.load(merchant)
        day = now.astimezone(ZoneInfo(merchant.timezone)).date()
        started = time.perf_counter()
        counts = jobs.materialise(merchant, program, now, day)
        seconds = time.perf_counter() - started
        expired = Entry.objects.filter(merchant=merchant, kind=Entry.Kind.EXPIRE).count()
        left = Lot.objects.filter(merchant=merchant, remaining__gt=0).count()
    assert counts["accounts"] == expired == args.members and left == 0, (counts, expired, left)
    figures = {
        "benchmark": "expiry_sweep", "database": url.split(":", 1)[0],
        "members": args.members, "lots": expired, "seconds": round(seconds, 2),
        "lots_per_s": round(expired / seconds), "chunk": jobs.CHUNK,
    }
    print(json.dumps(figures))
    table = (
        "# Expiry sweep\n\n`bench/bench_expiry.py`: one lot per member, all due; the "
        "`materialise` job finds the accounts with one query and journals each expiry under "
        f"the account lock, {jobs.CHUNK} accounts per transaction.\n\n"
        "| members | lots expired | seconds | lots/s |\n| ---: | ---: | ---: | ---: |\n"
        f"| {args.members} | {expired} | {figures['seconds']} | {figures['lots_per_s']} |\n"
    )
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    (ROOT / "bench" / "results" / "expiry.md").write_text(table)


if __name__ == "__main__":
    main()
