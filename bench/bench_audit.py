"""Benchmark: the cabinet's audit log (OPS-3) at a million entries.

Not a test. Needs PostgreSQL; it creates (or reuses) the database named by BENCH_AUDIT_URL
(default postgres://postgres@127.0.0.1:5432/kopilka_bench_audit), migrates it, and fills
`core_auditentry` with --entries rows for one merchant (plus a tenth as many for a second
one) in one INSERT ... SELECT generate_series: four people and the CLI as actors, twelve
actions, one entry every 30 seconds going back in time.

    .venv/bin/python bench/bench_audit.py [--entries 1000000] [--pages 200]

Measures the view's query (kopilka.web.cabinet.views.settings_audit.entries) for:
first page, a page deep in the log (keyset cursor at the middle), one person, an action prefix,
an object, a week's period — p50/p95 in ms over --pages runs each, and EXPLAIN's plan of each.
Prints one JSON line.
"""

import argparse
import json
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench_commit import create_database, setup_django  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/kopilka_bench_audit"
ACTIONS = ["tenancy.store.updated", "tenancy.staff.updated", "tenancy.terminal.revoked",
           "members.member.tagged", "members.card.issued", "messaging.template.saved",
           "messaging.settings.saved", "processing.allowance.set", "processing.shift.opened",
           "processing.shift.closed", "webhooks.endpoint.updated", "codes.code.sent"]


def fill(entries: int) -> tuple:
    from django.db import connection
    from django_scopes import scopes_disabled

    from kopilka.core.actor import Actor
    from kopilka.core.models import AuditEntry
    from kopilka.tenancy import services as tenancy
    from kopilka.tenancy.models import Merchant, Staff

    with scopes_disabled():
        merchants = list(Merchant.objects.filter(slug__startswith="bench-audit").order_by("pk"))
        while len(merchants) < 2:
            made = tenancy.create_merchant(f"Bench audit {len(merchants)}",
                                           owner_email=f"owner{len(merchants)}@bench-audit.test",
                                           actor=Actor.cli())
            merchants.append(made.merchant)
        owner = Staff.objects.select_related("user").get(merchant=merchants[0],
                                                         role=Staff.Role.OWNER)
        have = AuditEntry.objects.filter(merchant=merchants[0]).count()
    if have < entries:
        actions = "ARRAY[" + ",".join(f"'{action}'" for action in ACTIONS) + "]"
        with connection.cursor() as cursor:
            for merchant, count in ((merchants[0], entries - have),
                                    (merchants[1], (entries - have) // 10)):
                cursor.execute(f"""
                    INSERT INTO core_auditentry (merchant_id, actor_kind, actor_label,
                        actor_user_id, action, object_type, object_id, data, ip, created_at)
                    SELECT %s, 'staff', 'person' || (n %% 5) || '@bench-audit.test',
                           CASE WHEN n %% 5 = 0 THEN %s END,
                           ({actions})[1 + n %% {len(ACTIONS)}],
                           'tenancy.store', (n %% 50)::text, '{{"n": 1}}'::jsonb, '10.0.0.1',
                           now() - n * interval '30 seconds'
                    FROM generate_series(1, %s) AS n""", [merchant.pk, owner.user_id, count])
            cursor.execute("ANALYZE core_auditentry")
    return merchants[0], owner


def timed(call, runs: int) -> dict:
    call()  # warm
    seconds = []
    for _run in range(runs):
        start = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - start)
    cuts = statistics.quantiles(seconds, n=100)
    return {"p50_ms": round(cuts[49] * 1000, 2), "p95_ms": round(cuts[94] * 1000, 2)}


def plan(merchant, **filters) -> str:
    from kopilka.web.cabinet.views.settings_audit import PAGE, rows_of

    lines = rows_of(merchant, **filters)[:PAGE + 1].explain().splitlines()
    return " | ".join(line.strip() for line in lines[:4])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--pages", type=int, default=200)
    args = parser.parse_args()
    url = os.environ.get("BENCH_AUDIT_URL", DEFAULT_URL)
    create_database(url)
    setup_django(url)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.utils import timezone
    from django_scopes import scope

    from kopilka.core.models import AuditEntry
    from kopilka.web.cabinet.views.settings_audit import entries

    started = time.perf_counter()
    merchant, owner = fill(args.entries)
    filled = time.perf_counter() - started
    with scope(merchant=merchant), timezone.override("Europe/Moscow"):
        middle = (AuditEntry.objects.filter(merchant=merchant).order_by("-created_at", "-pk")
                  .values_list("created_at", "pk")[args.entries // 2])
        newest = AuditEntry.objects.filter(merchant=merchant).order_by("-created_at").first()
        week = (newest.created_at - timedelta(days=30)).date()
        cases = {
            "first page": {},
            "page at the middle (keyset)": {"after": tuple(middle)},
            "one person (a fifth)": {"actor": owner.user_id},
            "action prefix (a twelfth)": {"action": "processing.shift"},
            "one object (1 in 50)": {"object_type": "tenancy.store", "object_id": "7"},
            "a week a month ago": {"start": week, "end": week + timedelta(days=6)},
            "person + rare action (1 in 60)": {"actor": owner.user_id,
                                               "action": "members.card"},
            "nothing matches (the worst case)": {"action": "no.such.action"},
        }
        results = {}
        for name, filters in cases.items():
            found, _more = entries(merchant, **filters)
            results[name] = {**timed(lambda f=filters: entries(merchant, **f), args.pages),
                             "rows": len(found), "plan": plan(merchant, **filters)}
    print(json.dumps({"bench": "audit_log", "entries": args.entries,
                      "fill_s": round(filled, 1), "cases": results}, ensure_ascii=False))


if __name__ == "__main__":
    main()
