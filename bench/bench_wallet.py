"""Benchmark: the member wallet's server time and page weight (#15's targets: p95 ≤ 50 ms for a
person with 10 merchants and 1 000 history entries at each, on PostgreSQL; ≤ 100 KB of CSS+JS
gzipped, scanner excluded).

Not a test. Run:
    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/kopilka_bench_wallet \\
        .venv/bin/python bench/bench_wallet.py [--merchants 10] [--entries 1000] [--requests 200]
(a sqlite:///path URL works too). The first run fills the database through the real services:
`--merchants` cafés, one person enrolled at each, `--entries` purchases per membership (each
one history entry; the welcome bonus adds one), so it takes a few minutes; later runs reuse it.

It then asks each wallet page `--requests` times through Django's test client in this process
(the whole request: middleware, the wallet's cookie, queries, templates; no network), after a
warm-up, and reports the median, p95 and the queries per page. Page weight: the CSS and JS a
card page links (and the JS catalogue), each gzipped at level 9, as a phone downloads them.
Prints a table and one JSON line, and writes bench/results/wallet.md.
"""

import argparse
import gzip
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench_commit import create_database, setup_django  # noqa: E402

RESULTS = ROOT / "bench" / "results"
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/kopilka_bench_wallet"
PHONE = "+79169990000"


def fill(merchants: int, entries: int) -> None:
    from django.core.management import call_command
    from django_scopes import scope, scopes_disabled

    from kopilka.core.actor import Actor
    from kopilka.members.models import Member
    from kopilka.processing import services
    from kopilka.programs import services as programs
    from kopilka.programs.engine import BasketLine
    from kopilka.tenancy import services as tenancy
    from kopilka.tenancy.models import Merchant

    call_command("migrate", verbosity=0)
    actor = Actor.cli()
    for n in range(merchants):
        slug = f"wallet-bench-{n}"
        merchant = Merchant.objects.filter(slug=slug).first()
        if merchant is None:
            merchant = tenancy.create_merchant(f"Café {n}", owner_email=f"owner{n}@bench.test",
                                               slug=slug, actor=actor).merchant
        with scope(merchant=merchant):
            if not hasattr(merchant, "program"):
                programs.save_program(merchant, {
                    "type": "bonus", "welcome_bonus": 10_000,
                    "expiry": {"mode": "after_accrual", "days": 365},
                    "tiers": [
                        {"code": "std", "name": "Standard",
                         "accrual": {"kind": "percent", "percent": "5"}},
                        {"code": "gold", "name": "Gold", "threshold": 50_000_000,
                         "accrual": {"kind": "percent", "percent": "7"}}]}, actor=actor)
            with scopes_disabled():
                member = Member.objects.filter(merchant=merchant, person__phone=PHONE).first()
            if member is None:
                member = services.enrol(merchant, phone=PHONE, actor=actor, channel="import")
            with scopes_disabled():
                done = member.account.entries.count() if hasattr(member, "account") else 0
            for k in range(done, entries + 1):
                sale = services.Sale(lines=(BasketLine("1", 10_000 + (k % 50) * 1_000),))
                services.commit_purchase(merchant, member, sale, receipt_id=f"w{n}-{k}",
                                         source="bench", actor=actor)
        print(f"merchant {n + 1}/{merchants} filled", file=sys.stderr, flush=True)


def timed(client, path: str, requests: int) -> dict:
    from django.db import connection, reset_queries

    for _ in range(5):
        assert client.get(path).status_code == 200, path
    runs, cpu = [], []
    for _ in range(requests):
        started, started_cpu = time.perf_counter(), time.process_time()
        response = client.get(path)
        runs.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
        assert response.status_code == 200
    reset_queries()
    connection.force_debug_cursor = True
    client.get(path)
    queries = len(connection.queries)
    connection.force_debug_cursor = False
    runs.sort()
    cpu.sort()
    return {"median_ms": round(statistics.median(runs) * 1000, 1),
            "p95_ms": round(runs[int(len(runs) * 0.95) - 1] * 1000, 1),
            "cpu_median_ms": round(statistics.median(cpu) * 1000, 1),
            "cpu_p95_ms": round(cpu[int(len(cpu) * 0.95) - 1] * 1000, 1), "queries": queries}


def profile(client, path: str, requests: int) -> str:
    """Where one page's time goes: each statement with its time, then the functions that
    take the most CPU over `requests` requests (cProfile, cumulative)."""
    import cProfile
    import io
    import pstats

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(path)
    with CaptureQueriesContext(connection) as captured:
        client.get(path)
    out = io.StringIO()
    print(f"## {path}: {len(captured)} statements", file=out)
    for query in captured.captured_queries:
        sql = " ".join(query["sql"].split())
        print(f"{float(query['time']) * 1000:7.2f} ms  {sql[:150]}", file=out)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(requests):
        client.get(path)
    profiler.disable()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(60)
    stats.sort_stats("tottime").print_stats(30)
    return out.getvalue()


def weight(client, path: str) -> dict:
    """The CSS and JS the page links, gzipped (level 9), by file and in all."""
    from django.contrib.staticfiles import finders

    html = client.get(path).content.decode()
    sizes = {}
    for url in re.findall(r'(?:href|src)="(/[^"]+\.(?:css|js))"', html):
        name = url.removeprefix("/static/")
        found = finders.find(name)
        body = Path(found).read_bytes() if found else client.get(url).content
        sizes[name] = len(gzip.compress(body, 9))
    for url in re.findall(r'src="(/jsi18n/[^"]+)"', html):  # the JS catalogue, a view
        sizes["jsi18n"] = len(gzip.compress(client.get(url).content, 9))
    return {"files": sizes, "total_kb": round(sum(sizes.values()) / 1024, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--merchants", type=int, default=10)
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--profile", action="store_true",
                        help="print each page's statements with their times and a cProfile "
                             "of its requests, instead of timing")
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    os.environ.setdefault("KOPILKA_DEBUG", "0")
    if url.startswith("postgres"):
        create_database(url)
    setup_django(url)
    fill(args.merchants, args.entries)
    if url.startswith("postgres"):
        # Statistics, as autovacuum would have them on a running database: without them the
        # planner guesses millions of rows for a join of ten and may spend a second on JIT.
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    from django.test import Client
    from django_scopes import scopes_disabled

    from kopilka.members.models import Member, Person
    from tests.wallet.tools import signed_in

    with scopes_disabled():
        person = Person.objects.get(phone=PHONE)
        member = Member.objects.filter(person=person).order_by("pk").first()
        entries = member.account.entries.count()
    client: Client = signed_in(person)
    pages = {
        "a shop's card": f"/my/cards/{member.pk}/",
        "my shops (all 10)": "/my/shops/",
        "a shop's history": f"/my/shops/{member.pk}/",
    }
    if args.profile:
        for path in pages.values():
            print(profile(client, path, args.requests))
        return
    rows = {name: timed(client, path, args.requests) for name, path in pages.items()}
    page_weight = weight(client, f"/my/cards/{member.pk}/")
    lines = [f"Wallet: {args.merchants} merchants, {entries} history entries at each, "
             f"{'PostgreSQL' if url.startswith('postgres') else 'SQLite'}, "
             f"{args.requests} requests per page", "",
             "| page | median ms | p95 ms | CPU median ms | CPU p95 ms | queries |",
             "|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {name} | {row['median_ms']} | {row['p95_ms']} | {row['cpu_median_ms']} | "
              f"{row['cpu_p95_ms']} | {row['queries']} |" for name, row in rows.items()]
    lines += ["", f"CSS + JS of a card page, gzipped: {page_weight['total_kb']} KB "
                  f"({', '.join(f'{k} {v} B' for k, v in page_weight['files'].items())})"]
    text = "\n".join(lines)
    print(text)
    print(json.dumps({"pages": rows, "weight": page_weight, "entries": entries,
                      "merchants": args.merchants}))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "wallet.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
