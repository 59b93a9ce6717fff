"""Benchmark: purchase commits per second through the service layer, next to pgbench TPC-B.

Not a test. Run:  .venv/bin/python bench/bench_commit.py [--seconds 15] [--processes 4]
It creates (or reuses) the PostgreSQL database `kopilka_bench` (override with
BENCH_DATABASE_URL), loads a merchant with --members members, then:
  1. pgbench TPC-B (-c 8 -j 2, scale 10) on a scratch database: the machine's reference rate
     for a durable account-update transaction;
  2. N processes committing purchases (lock account, materialise, quote, spend points on
     every third purchase, accrue, hash-chained entries, audit) on random members.
Prints one JSON line and writes bench/results/commit.md.
"""

import argparse
import contextlib
import json
import multiprocessing
import os
import random
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/kopilka_bench"


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("KOPILKA_DATA_DIR", str(ROOT / "var" / "bench"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "kopilka.settings"
    os.environ["KOPILKA_LOG_LEVEL"] = "WARNING"
    import django

    django.setup()


def create_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname=%s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def load(members: int) -> tuple[int, list[int]]:
    from django.core.management import call_command
    from django_scopes import scope, scopes_disabled

    from kopilka.core.actor import Actor
    from kopilka.members.models import Member
    from kopilka.processing import services
    from kopilka.programs import services as programs
    from kopilka.tenancy import services as tenancy
    from kopilka.tenancy.models import Merchant

    call_command("migrate", verbosity=0)
    actor = Actor.cli()
    merchant = Merchant.objects.filter(slug="bench").first()
    if merchant is None:
        merchant = tenancy.create_merchant("Bench", owner_email="bench@example.com",
                                           slug="bench", actor=actor).merchant
    with scope(merchant=merchant):
        programs.save_program(merchant, {
            "type": "bonus", "welcome_bonus": 10_000, "max_redeem_percent": "50",
            "expiry": {"mode": "after_accrual", "days": 365},
            "tiers": [
                {"code": "std", "name": "Standard",
                 "accrual": {"kind": "progressive", "brackets": [
                     {"from": 0, "percent": "3"}, {"from": 100_000, "percent": "10"}]}},
                {"code": "gold", "name": "Gold", "threshold": 5_000_000,
                 "accrual": {"kind": "percent", "percent": "7"}},
            ],
            "rules": [{"code": "morning", "name": "9-12 double",
                       "conditions": {"time_from": "09:00", "time_to": "12:00"},
                       "effects": {"multiply_accrual": "2"}}],
        }, actor=actor)
        have = Member.objects.filter(merchant=merchant).count()
        for n in range(have, members):
            services.enrol(merchant, phone=f"+7916{n:07d}", actor=actor, channel="import")
    with scopes_disabled():
        ids = list(Member.objects.filter(merchant=merchant).values_list("pk", flat=True))
    return merchant.pk, ids


def worker(args) -> list[float]:
    url, merchant_id, member_ids, seconds, seed = args
    setup_django(url)
    from django_scopes import scope

    from kopilka.core.actor import Actor
    from kopilka.core.errors import Conflict
    from kopilka.members.models import Member
    from kopilka.processing import services
    from kopilka.programs.engine import BasketLine
    from kopilka.tenancy.models import Merchant

    rng = random.Random(seed)
    merchant = Merchant.objects.get(pk=merchant_id)
    actor = Actor(kind="terminal", label="bench")
    latencies = []
    end = time.perf_counter() + seconds
    n = 0
    with scope(merchant=merchant):
        while time.perf_counter() < end:
            member = Member.objects.get(pk=rng.choice(member_ids))
            sale = services.Sale(
                lines=(BasketLine("1", rng.randint(10_000, 200_000), product_group="food"),
                       BasketLine("2", rng.randint(1_000, 50_000), product_group="drinks")),
                points_to_spend=100 if n % 3 == 0 else 0,
            )
            started = time.perf_counter()
            # A refused spend (not enough points) still costs a round trip: it counts.
            with contextlib.suppress(Conflict):
                services.commit_purchase(merchant, member, sale, receipt_id=f"{seed}-{n}",
                                         source="bench", actor=actor)
            latencies.append(time.perf_counter() - started)
            n += 1
    return latencies


def pgbench(url: str, seconds: int) -> float:
    base = url.rsplit("/", 1)[0]
    create_database(base + "/kopilka_pgbench")
    host = re.search(r"@([^:/]+)", url).group(1)
    common = ["-h", host, "-U", "postgres"]
    subprocess.run(["pgbench", *common, "-i", "-q", "-s", "10", "kopilka_pgbench"], check=True,
                   capture_output=True)
    out = subprocess.run(
        ["pgbench", *common, "-c", "8", "-j", "2", "-T", str(seconds), "kopilka_pgbench"],
        check=True, capture_output=True, text=True,
    ).stdout
    return float(re.search(r"tps = ([\d.]+)", out).group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--members", type=int, default=2_000)
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    create_database(url)
    setup_django(url)
    merchant_id, member_ids = load(args.members)
    from django.db import connections

    connections.close_all()
    tps = pgbench(url, args.seconds)
    jobs = [(url, merchant_id, member_ids, args.seconds, seed + int(time.time()) * 100)
            for seed in range(args.processes)]
    with multiprocessing.get_context("spawn").Pool(args.processes) as pool:
        started = time.perf_counter()
        results = pool.map(worker, jobs)
        elapsed = time.perf_counter() - started
    latencies = sorted(latency for result in results for latency in result)
    commits = len(latencies)
    rate = commits / args.seconds
    figures = {
        "bench": "commit_purchase_service", "processes": args.processes,
        "seconds": args.seconds, "commits": commits, "commits_per_s": round(rate, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p95_ms": round(latencies[int(len(latencies) * 0.95)] * 1000, 1),
        "pgbench_tps": round(tps, 1), "ratio_to_pgbench": round(rate / tps, 3),
        "wall_s": round(elapsed, 1),
    }
    print(json.dumps(figures))
    table = "\n".join([
        "# Purchase commit through the service layer vs pgbench TPC-B",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M')} on PostgreSQL, {args.processes} processes, "
        f"{args.seconds} s, {len(member_ids)} members.",
        "",
        "| what | per second | p50 ms | p95 ms | ratio to pgbench |",
        "|---|---|---|---|---|",
        f"| pgbench TPC-B (-c 8 -j 2, scale 10) | {tps:.0f} | | | 1.00 |",
        f"| commit_purchase (service layer) | {rate:.0f} | {figures['p50_ms']} | "
        f"{figures['p95_ms']} | {rate / tps:.3f} |",
        "",
    ])
    (ROOT / "bench" / "results" / "commit.md").write_text(table)


if __name__ == "__main__":
    main()
