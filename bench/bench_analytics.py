"""Benchmark: the 17 figures (ANL-1) for a year, over a database made by bench/generate.py.

Not a test. Run (the generator first; its database name must contain "gen"):
    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/kopilka_gen_analytics \\
        .venv/bin/python bench/generate.py --members 20000 --purchases 100000 --merchants 2
    BENCH_DATABASE_URL=... .venv/bin/python bench/bench_analytics.py [--repeat 5]
(a sqlite:///path URL works for both).

The generator writes rows in bulk and publishes no events, so the roll-up starts empty:
1. `rebuild`: `kopilka analytics rebuild`'s work for the largest merchant (rows read, cells
   written, seconds);
2. the report for the last 365 local days (and the 365 before it, which every report reads
   too), for the whole merchant, by one store and by one store and cashier: median of
   `--repeat` runs, warmed by a first one;
3. each figure's own queries alone, same period: the roll-up sums (1-7), the member base at the
   period's end (8-9), the distinct buyers of the year (5) and of the last N days (10), SMS by
   topic (11), win-back (16-17);
4. what keeping the roll-up costs a commit: the one upsert a sale adds (its cell and its
   buyers rows, reading the member's other purchases: `rollup._add_visits`) timed
   `--upserts` times in one transaction, wall and CPU per call; and `--commits` whole
   `commit_purchase` calls, alternately with and without the roll-up's subscriber (medians of
   wall and of this process's CPU per commit, statements per commit). Both run inside one
   transaction rolled back at the end (each sale a savepoint: two statements more per sale
   in both columns), so the database is left as it was.
`--skip-rebuild` uses the roll-up already there (e.g. the one the migration built) when the
merchant has one.
Prints one JSON line and writes bench/results/analytics.md.
"""

import argparse
import json
import os
import statistics
import sys
import time
from datetime import datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# Sibling scripts (their folder is on the path when run as a script), not a package.
from bench_commit import setup_django  # noqa: E402
from generate import DEFAULT_URL  # noqa: E402

RESULTS = ROOT / "bench" / "results"


def median_ms(call, repeat: int) -> float:
    call()  # warm the caches the timed runs read
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        runs.append(time.perf_counter() - start)
    return round(statistics.median(runs) * 1000, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each read")
    parser.add_argument("--upserts", type=int, default=2_000, help="roll-up upserts timed")
    parser.add_argument("--commits", type=int, default=400,
                        help="sales committed, half of them without the roll-up")
    parser.add_argument("--skip-rebuild", action="store_true",
                        help="keep the merchant's roll-up if it has one")
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    os.environ.setdefault("KOPILKA_DEBUG", "0")  # DEBUG logs every statement
    setup_django(url)

    from django.db import connection, transaction
    from django.db.models import Count
    from django_scopes import scope, scopes_disabled

    from kopilka.analytics import figures, rollup
    from kopilka.analytics.figures import Period, _Reader
    from kopilka.analytics.models import CELL, DayFigures
    from kopilka.automation import winback
    from kopilka.core import clock
    from kopilka.processing.models import Purchase
    from kopilka.tenancy.models import Merchant

    with scopes_disabled():
        largest = (Purchase.objects.values("merchant_id").annotate(n=Count("pk"))
                   .order_by("-n").first())
        total = Purchase.objects.count()
    merchant = Merchant.objects.get(pk=largest["merchant_id"])
    result = {"benchmark": "analytics", "database": connection.vendor,
              "date": time.strftime("%Y-%m-%d %H:%M"),
              "loadavg": Path("/proc/loadavg").read_text().split()[:3],
              "merchant_purchases": largest["n"], "purchases": total}

    with scope(merchant=merchant):
        kept = DayFigures.objects.filter(merchant=merchant)
        if args.skip_rebuild and kept.exists():
            result["rebuild_s"], result["cells"] = None, kept.count()
        else:
            start = time.perf_counter()
            result["cells"] = rollup.rebuild([merchant])[merchant.slug]
            result["rebuild_s"] = round(time.perf_counter() - start, 2)
        result["buyers_rows"] = kept.exclude(previous_day=CELL).count()
        if connection.vendor == "postgresql":
            # What autovacuum does after a bulk write: statistics, and the visibility map
            # that lets the buyers' index answer alone (no heap fetch per row).
            with connection.cursor() as cursor:
                cursor.execute(f"VACUUM ANALYZE {DayFigures._meta.db_table}")

        today = clock.now().astimezone(ZoneInfo(merchant.timezone)).date()
        year = Period(today - timedelta(days=364), today)
        store, cashier = (Purchase.objects.filter(merchant=merchant, store__isnull=False)
                          .values_list("store_id", "cashier_id").first())
        result["year_purchases"] = Purchase.objects.filter(
            merchant=merchant, occurred_at__gte=clock.now() - timedelta(days=365)).count()

        def report(**selection):
            return lambda: figures.report(merchant, year.start, year.end,
                                          winback=winback.figures, **selection)

        result["report_ms"] = {
            "merchant": median_ms(report(), args.repeat),
            "store": median_ms(report(store_id=store), args.repeat),
        }
        if cashier is not None:
            result["report_ms"]["store_cashier"] = median_ms(
                report(store_id=store, cashier_id=cashier), args.repeat)
        reader, whole = _Reader(merchant, store, None), _Reader(merchant, None, None)
        lost_after = figures.lost_after_days(merchant)
        active = Period(year.end - timedelta(days=lost_after - 1), year.end)
        result["figure_ms"] = {
            "1-7 sums by store": median_ms(lambda: reader.sums(year), args.repeat),
            "8-9 member base": median_ms(lambda: reader.base(year.end), args.repeat),
            "5 buyers of the year, store": median_ms(
                lambda: reader.buyers(year, counted_only=True, selected=True), args.repeat),
            "5 buyers of the year, whole merchant": median_ms(
                lambda: whole.buyers(year, counted_only=True, selected=True), args.repeat),
            f"10 buyers of the last {lost_after} days": median_ms(
                lambda: reader.buyers(active, counted_only=False, selected=False),
                args.repeat),
            "11 SMS by topic": median_ms(lambda: reader.sms(year), args.repeat),
            "16-17 win-back": median_ms(
                lambda: winback.figures(merchant, year.start, year.end), args.repeat),
        }
        sample = figures.report(merchant, year.start, year.end, winback=winback.figures)
        result["year_figures"] = {
            (f"{f.key}/{f.topic}" if f.topic else f.key): f.value for f in sample.figures}

        # The upsert a sale adds, into one fresh cell per call (the worst case: inserts) and
        # then into the same cells again (the usual one: updates). Each "sale" is a real
        # member's, a day after their last purchase: the statement reads their purchases.
        day = today + timedelta(days=1_000)
        zone = ZoneInfo(merchant.timezone)
        buyers = list(Purchase.objects.filter(merchant=merchant).order_by("-pk")
                      .values_list("member_id", flat=True)[:args.upserts])
        with transaction.atomic():  # rolled back: the made-up rows out again
            for label in ("insert", "update"):
                wall, cpu = time.perf_counter(), time.process_time()
                for n in range(args.upserts):
                    sale = SimpleNamespace(
                        pk=0, member_id=buyers[n % len(buyers)], store_id=store,
                        cashier_id=cashier,
                        occurred_at=datetime.combine(day + timedelta(days=n), dtime(12),
                                                     tzinfo=zone))
                    rollup._add_visits(merchant, sale, "abc", 1, checks=1, revenue=1_000,
                                       discount=10, points_accrued=50, purchases=1,
                                       total=1_010, first_purchases=1)
                result[f"upsert_{label}_us"] = {
                    "wall": round((time.perf_counter() - wall) / args.upserts * 1e6, 1),
                    "cpu": round((time.process_time() - cpu) / args.upserts * 1e6, 1)}
            transaction.set_rollback(True)
        with transaction.atomic():
            result["commit"] = commits(merchant, args.commits)
            transaction.set_rollback(True)  # the sales out again
    result["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
    print(json.dumps(result), flush=True)
    write_results(result)


def commits(merchant, count: int) -> dict:
    """Median wall and CPU ms of a sale with and without the roll-up's subscriber."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from kopilka.analytics import rollup
    from kopilka.core import events
    from kopilka.core.actor import Actor
    from kopilka.members.models import Member
    from kopilka.processing import services
    from kopilka.programs.engine import BasketLine

    members = list(Member.objects.filter(merchant=merchant).order_by("pk")[:count])
    actor = Actor(kind="terminal", label="bench")
    stamp = time.strftime("%H%M%S")
    timings = {"with": ([], [], []), "without": ([], [], [])}
    for n, member in enumerate(members * (count // max(len(members), 1) or 1)):
        label = "with" if n % 2 else "without"
        if label == "without":
            events.unsubscribe(events.PurchaseCommitted, rollup.purchase_committed)
        sale = services.Sale(lines=(BasketLine("1", 10_000 + n), BasketLine("2", 2_500)))
        wall, cpu = time.perf_counter(), time.process_time()
        with CaptureQueriesContext(connection) as queries:
            services.commit_purchase(merchant, member, sale, receipt_id=f"anl-{stamp}-{n}",
                                     source="bench", actor=actor)
        spent_wall, spent_cpu = time.perf_counter() - wall, time.process_time() - cpu
        events.subscribe(events.PurchaseCommitted)(rollup.purchase_committed)
        timings[label][0].append(spent_wall)
        timings[label][1].append(spent_cpu)
        timings[label][2].append(len(queries.captured_queries))
    return {label: {"n": len(wall), "wall_ms": round(statistics.median(wall) * 1000, 2),
                    "cpu_ms": round(statistics.median(cpu) * 1000, 2),
                    "statements": statistics.median(statements)}
            for label, (wall, cpu, statements) in timings.items()}


def write_results(r: dict) -> None:
    lines = [
        f"# Analytics: the 17 figures for a year ({r['database']}, {r['date']})", "",
        f"Largest merchant: {r['merchant_purchases']:,} purchases ({r['year_purchases']:,} in "
        f"the last 365 days) of {r['purchases']:,}; roll-up rebuilt in {r['rebuild_s']} s "
        f"({r['cells']:,} rows, {r['buyers_rows']:,} of them buyers rows). "
        f"Load average {' '.join(r['loadavg'])} → "
        f"{' '.join(r['loadavg_end'])}.", "",
        "| report for 365 days (with the previous 365) | median ms |", "|---|---|",
        *(f"| {name} | {ms} |" for name, ms in r["report_ms"].items()), "",
        "| one figure's queries, 365 days | median ms |", "|---|---|",
        *(f"| {name} | {ms} |" for name, ms in r["figure_ms"].items()), "",
        "| the roll-up upsert a commit adds | wall µs | CPU µs |", "|---|---|---|",
        *(f"| {label} | {r[f'upsert_{label}_us']['wall']} | {r[f'upsert_{label}_us']['cpu']} |"
          for label in ("insert", "update")), "",
        "| a whole sale (commit_purchase) | n | median wall ms | median CPU ms | statements |",
        "|---|---|---|---|---|",
        *(f"| {label} the roll-up | {c['n']} | {c['wall_ms']} | {c['cpu_ms']} | "
          f"{c['statements']} |" for label, c in r["commit"].items()), "",
        "Figures of the year: " + ", ".join(f"{k} {v:,}" for k, v in r["year_figures"].items()),
        "",
    ]
    RESULTS.mkdir(exist_ok=True)
    name = "analytics.md" if r["database"] == "postgresql" else f"analytics-{r['database']}.md"
    (RESULTS / name).write_text("\n".join(lines))


if __name__ == "__main__":
    main()
