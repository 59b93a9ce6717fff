"""Benchmark: the cabinet's member list and sales book, server time per page (#16).

Not a test. Run on a database made by bench/generate.py:
    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/kopilka_gen \\
        .venv/bin/python bench/bench_cabinet_lists.py [--repeat 30]

The largest generated merchant's owner opens the pages through Django's test client in this
process — the whole view: session, permission, the merchant's scope, the form, the queries, the
template — so the time is the server's, without a network or a browser. Each scenario (a page
of the member list with a filter, a page deeper down, the sales book over a period with its
totals, ...) is requested `--repeat` times after two warm-up requests; p50/p95/max in ms and the
number of SQL queries per page. EXPLAIN (ANALYZE) of the list's query for the slowest member
scenario is kept too. Prints one JSON line and writes bench/results/cabinet_lists.md.

The sales' totals read the analytics roll-up, which the generator (publishing no events) leaves
empty: the merchant's is rebuilt first when it has no cells (`kopilka analytics rebuild`'s
work). `--only sales` runs the scenarios whose name starts so.
"""

import argparse
import json
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# Sibling scripts (their folder is on the path when run as a script), not a package.
from bench_commit import setup_django  # noqa: E402
from generate import DEFAULT_URL  # noqa: E402

RESULTS = ROOT / "bench" / "results"


def largest_merchant():
    from django.db.models import Count
    from django_scopes import scopes_disabled

    from kopilka.members.models import Member
    from kopilka.tenancy.models import Merchant, Staff

    with scopes_disabled():
        row = (Member.objects.filter(merchant__slug__startswith="gen-").values("merchant")
               .annotate(n=Count("pk")).order_by("-n").first())
        merchant = Merchant.objects.get(pk=row["merchant"])
        owner = Staff.objects.select_related("user").get(merchant=merchant, role="owner")
    return merchant, owner, row["n"]


def samples(merchant) -> dict:
    """Values the scenarios use: a member's phone and name, a middle id, a store, a tag."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id), max(id) FROM members_member WHERE merchant_id = %s",
                       [merchant.pk])
        low, high = cursor.fetchone()
        cursor.execute(
            "SELECT m.id, p.phone, m.first_name FROM members_member m JOIN members_person p "
            "ON p.id = m.person_id WHERE m.merchant_id = %s AND m.id >= %s AND "
            "p.phone IS NOT NULL AND m.first_name <> '' ORDER BY m.id LIMIT 1",
            [merchant.pk, (low + high) // 2])
        member_id, phone, name = cursor.fetchone()
        cursor.execute("SELECT id FROM tenancy_store WHERE merchant_id = %s ORDER BY id LIMIT 1",
                       [merchant.pk])
        store = cursor.fetchone()[0]
        cursor.execute("SELECT tags FROM members_member WHERE merchant_id = %s AND tags <> "
                       "'[]'::jsonb LIMIT 1", [merchant.pk])
        found = cursor.fetchone()
        tags = found[0] if found else []
        tag = (json.loads(tags) if isinstance(tags, str) else tags or ["vip"])[0]
        cursor.execute("SELECT tier_code FROM ledger_account WHERE merchant_id = %s "
                       "AND tier_code <> '' ORDER BY tier_code DESC LIMIT 1", [merchant.pk])
        tier = cursor.fetchone()[0]
    return {"middle": (low + high) // 2, "member": member_id, "phone": phone, "name": name,
            "store": store, "tag": tag, "tier": tier}


def scenarios(s: dict, today) -> list[tuple[str, str, dict]]:
    members, sales = "/cabinet/members/", "/cabinet/sales/"
    year_ago = (today - timedelta(days=365)).isoformat()
    month_ago = (today - timedelta(days=30)).isoformat()
    return [
        ("members: first page", members, {}),
        ("members: a page in the middle", members, {"before": s["middle"]}),
        ("members: women", members, {"gender": "female"}),
        ("members: a tier", members, {"tier": s["tier"]}),
        ("members: aged 25-35", members, {"age_min": 25, "age_max": 35}),
        ("members: spent 10 000+", members, {"spend_min": "10000"}),
        ("members: average check 1 000+", members, {"average_min": "1000"}),
        ("members: no purchase for 90+ days", members, {"idle_days_min": 90}),
        ("members: balance 100+", members, {"balance_min": "100"}),
        ("members: a tag", members, {"tag": s["tag"]}),
        ("members: 30+ purchases (rare)", members, {"purchases_min": 30}),
        ("members: search by phone", members, {"find": s["phone"]}),
        ("members: search by name", members, {"find": s["name"]}),
        ("members: joined in the last 30 days", members, {"registered_from": month_ago}),
        ("sales: last 7 days (default)", sales, {}),
        ("sales: last 30 days", sales, {"since": month_ago}),
        ("sales: a store, 30 days", sales, {"since": month_ago, "store": s["store"]}),
        ("sales: amount 1 000+, 30 days", sales, {"since": month_ago, "amount_min": "1000"}),
        ("sales: a member, a year", sales, {"since": year_ago, "member": s["member"]}),
        ("sales: a year (totals of ~half the book)", sales, {"since": year_ago}),
        ("sales: a store, a year", sales, {"since": year_ago, "store": s["store"]}),
        ("sales: two years", sales, {"since": (today - timedelta(days=730)).isoformat()}),
        ("refunds: last 30 days", "/cabinet/sales/refunds/", {"since": month_ago}),
    ]


def measure(client, path: str, query: dict, repeat: int) -> dict:
    from django.db import connection, reset_queries

    for _warm in range(2):
        response = client.get(path, query)
        assert response.status_code == 200, (path, query, response.status_code)
    spent, sql, queries = [], [], 0
    for _n in range(repeat):
        reset_queries()
        started = time.perf_counter()
        response = client.get(path, query)
        spent.append(time.perf_counter() - started)
        queries = len(connection.queries)
        sql.append(sum(float(q["time"]) for q in connection.queries))
    spent.sort()
    cuts = statistics.quantiles(spent, n=100, method="inclusive") if len(spent) > 1 \
        else spent * 99
    return {"p50_ms": round(cuts[49] * 1000, 1), "p95_ms": round(cuts[94] * 1000, 1),
            "max_ms": round(spent[-1] * 1000, 1), "queries": queries,
            "sql_p50_ms": round(statistics.median(sql) * 1000, 1), "n": repeat}


def explain_members(merchant, query: dict) -> str:
    from django.db import connection
    from django_scopes import scope

    from kopilka.members import segments
    from kopilka.web.cabinet.views.members import PAGE

    with scope(merchant=merchant):
        rows = segments.search(merchant, query).order_by("-pk")[: PAGE + 1]
        sql, params = rows.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            return "\n".join(line for (line,) in cursor.fetchall())


def ensure_rollup(merchant) -> None:
    from django_scopes import scopes_disabled

    from kopilka.analytics import rollup
    from kopilka.analytics.models import DayFigures

    with scopes_disabled():
        if not DayFigures.objects.filter(merchant=merchant).exists():
            started = time.perf_counter()
            rollup.rebuild([merchant])
            print(f"roll-up rebuilt in {time.perf_counter() - started:.1f} s", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--only", default="", help="scenarios whose name starts with this")
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    setup_django(url)
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment
    from django.utils import timezone as django_timezone
    from django_scopes import scope

    from kopilka.tenancy import access
    from kopilka.web.cabinet.views.members import MemberFilterForm, program_of

    setup_test_environment()  # the test client's response.context and hosts
    settings.ALLOWED_HOSTS = ["*"]
    settings.DEBUG = False
    merchant, owner, size = largest_merchant()
    today = django_timezone.now().astimezone(ZoneInfo(merchant.timezone)).date()
    values = samples(merchant)
    client = Client(headers={"Accept-Language": "ru"})
    client.force_login(owner.user)
    connection.force_debug_cursor = True  # count queries with DEBUG off
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM processing_purchase WHERE merchant_id = %s",
                       [merchant.pk])
        purchases = cursor.fetchone()[0]
    ensure_rollup(merchant)
    figures = {}
    for name, path, query in scenarios(values, today):
        if not name.startswith(args.only):
            continue
        figures[name] = measure(client, path, query, args.repeat)
        print(f"{name:45} {figures[name]}", file=sys.stderr)
    connection.force_debug_cursor = False
    slowest = max((name for name in figures if name.startswith("members")),
                  key=lambda name: figures[name]["p95_ms"], default=None)
    slow_query = dict(next((query for name, _path, query in scenarios(values, today)
                            if name == slowest), {}))
    with scope(merchant=merchant), \
            access.enter(access.Principal.for_staff(owner, joined=True)):
        form = MemberFilterForm({k: str(v) for k, v in slow_query.items() if k != "before"},
                                merchant=merchant, program=program_of(merchant))
        assert form.is_valid() or not slow_query, form.errors
        plan = explain_members(merchant, form.filters() if slow_query else {})
    result = {"bench": "cabinet_lists", "database": connection.vendor, "members": size,
              "purchases": purchases, "repeat": args.repeat, "scenarios": figures,
              "worst_p95_ms": max(f["p95_ms"] for f in figures.values())}
    print(json.dumps(result))
    write(result, slowest, plan)


def write(result: dict, slowest: str, plan: str) -> None:
    RESULTS.mkdir(exist_ok=True)
    lines = [
        "# The cabinet's member list and sales book (`bench/bench_cabinet_lists.py`)", "",
        f"{result['database']}, the largest generated merchant: {result['members']} members, "
        f"{result['purchases']} purchases; server time per page through Django's test client "
        f"(the whole view, no network), {result['repeat']} requests each after two warm-up "
        "ones. Load average: " + " ".join(f"{x:.2f}" for x in os.getloadavg()) + ".", "",
        "| page | p50 ms | p95 ms | max ms | SQL queries | their time, p50 ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, f in result["scenarios"].items():
        lines.append(f"| {name} | {f['p50_ms']} | {f['p95_ms']} | {f['max_ms']} | "
                     f"{f['queries']} | {f['sql_p50_ms']} |")
    lines += ["", f"The slowest member page ({slowest}), its list query:", "", "```", plan,
              "```", ""]
    (RESULTS / "cabinet_lists.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
