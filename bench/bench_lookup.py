"""Benchmark: the POS member look-up by phone and by card among a million members.

Not a test. Run on a database made by bench/generate.py:
    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/kopilka_gen \\
        .venv/bin/python bench/bench_lookup.py [--lookups 2000] [--http-seconds 15]

Random members of the generated merchants (a phone each; a plastic card for those who have
one), looked up the way GET /api/v1/pos/members/lookup does:
1. reference: `SELECT 1` through the same Django connection (one round trip);
2. members.find_member (the look-up queries alone: person by phone, or card by number, then
   the member with its person and account joined) — what member_from_ref calls for a sale;
3. processing.lookup (find_member + member_card: program, balances from the open lots, hints)
   — what the endpoint answers;
4. with --http-seconds > 0: the endpoint itself under gunicorn (4 sync workers) driven by wrk
   with a few connections, phones drawn from the same sample (needs `wrk`).
Latencies are per look-up (p50/p95/p99 µs), the database warmed by a first pass. EXPLAIN
(ANALYZE, BUFFERS) of each look-up query shows its plan; a sequential scan of a table that
grows with the members clears the `no_large_seq_scan` flag. Prints one JSON line and writes
bench/results/lookup.md.
"""

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# Sibling scripts (their folder is on the path when run as a script), not a package.
from bench_commit import setup_django  # noqa: E402
from bench_http import free_port, pos_key, wait_healthy  # noqa: E402
from generate import DEFAULT_URL  # noqa: E402

RESULTS = ROOT / "bench" / "results"
# Tables that grow with the members: a sequential scan of one of them is the problem looked
# for. (The planner rightly scans a table of a few rows, such as programs_program.)
LARGE = {"members_member", "members_person", "members_card", "ledger_account", "ledger_lot"}
LUA = """
local phones = {%(phones)s}
request = function()
  return wrk.format("GET", "/api/v1/pos/members/lookup?phone=" .. phones[math.random(#phones)])
end
"""


def percentiles(seconds: list[float]) -> dict:
    cuts = statistics.quantiles(seconds, n=100)
    return {"p50_us": round(cuts[49] * 1e6), "p95_us": round(cuts[94] * 1e6),
            "p99_us": round(cuts[98] * 1e6), "n": len(seconds)}


def sample_members(count: int, seed: int) -> list[tuple]:
    """(merchant id, member id, phone, active plastic card or None) of random members of the
    generated merchants, drawn by id (no scan of a million rows)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT min(m.id), max(m.id) FROM members_member m JOIN tenancy_merchant t"
                       " ON t.id = m.merchant_id WHERE t.slug LIKE 'gen-%%'")
        low, high = cursor.fetchone()
        ids = random.Random(seed).sample(range(low, high + 1), min(count, high - low + 1))
        cursor.execute(
            "SELECT m.merchant_id, m.id, p.phone, (SELECT c.number FROM members_card c WHERE "
            "c.member_id = m.id AND c.kind = 'plastic' AND c.status = 'active' LIMIT 1) "
            "FROM members_member m JOIN members_person p ON p.id = m.person_id "
            "WHERE m.id = ANY(%s)", [ids])
        return cursor.fetchall()


def timed(call, items) -> list[float]:
    spent = []
    for item in items:
        started = time.perf_counter()
        call(item)
        spent.append(time.perf_counter() - started)
    return spent


def explain(sql: str) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        return "\n".join(row[0] for row in cursor.fetchall())


def plans(merchant, phone: str, card: str) -> list[dict]:
    """Each query of one look-up by phone and one by card, with its EXPLAIN (ANALYZE)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from kopilka.processing import services

    out = []
    for way, value in (("phone", phone), ("card", card)):
        with CaptureQueriesContext(connection) as queries:
            services.lookup(merchant, **{way: value})
        for query in queries.captured_queries:
            plan = explain(query["sql"])
            out.append({"way": way, "sql": query["sql"], "plan": plan,
                        "seq_scans": re.findall(r"Seq Scan on (\w+)", plan)})
    return out


def http(merchant_id: int, phones: list[str], seconds: int, connections: int) -> dict:
    """GET /api/v1/pos/members/lookup under gunicorn (4 sync workers), driven by wrk."""
    from django.db import connections as django_connections

    key = pos_key(merchant_id)
    django_connections.close_all()
    port = free_port()
    env = {**os.environ, "KOPILKA_LOG_LEVEL": "WARNING", "KOPILKA_DEBUG": "0",
           "DJANGO_SETTINGS_MODULE": "kopilka.settings",
           # one terminal key drives the whole load: its rate limit would cap the figure
           "KOPILKA_RATE_LIMIT_POS": "0"}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "kopilka.wsgi:application", "--bind",
         f"127.0.0.1:{port}", "--workers", "4", "--worker-class", "sync"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_healthy(port)
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write(LUA % {"phones": ", ".join(f'"{quote(p)}"' for p in phones)})
        out = subprocess.run(
            ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script.name,
             "-H", f"Authorization: Bearer {key}", f"http://127.0.0.1:{port}"],
            check=True, capture_output=True, text=True,
        ).stdout
    finally:
        server.terminate()
        server.wait(timeout=30)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)

    def percentile(label):
        found = re.search(rf"\s{label}%\s+([\d.]+)(us|ms|s)\b", out)
        value, unit = float(found.group(1)), found.group(2)
        return round(value * {"us": 1, "ms": 1_000, "s": 1_000_000}[unit])

    return {"connections": connections, "seconds": seconds,
            "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50_us": percentile(50), "p99_us": percentile(99),
            "non_2xx": int(errors.group(1)) if errors else 0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lookups", type=int, default=2_000, help="members looked up")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--http-seconds", type=int, default=15, help="0: no HTTP part")
    parser.add_argument("--connections", type=int, default=4, help="wrk connections")
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    os.environ.setdefault("KOPILKA_DEBUG", "0")  # DEBUG logs every statement
    setup_django(url)

    from django.db import connection
    from django_scopes import scope

    from kopilka.members import services as members
    from kopilka.processing import services
    from kopilka.tenancy.models import Merchant

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM members_member")
        total_members = cursor.fetchone()[0]
    picked = sample_members(args.lookups, args.seed)
    merchants = {m.pk: m for m in Merchant.objects.filter(pk__in={row[0] for row in picked})}
    by_phone = [(merchants[m], {"phone": phone}) for m, _id, phone, _card in picked]
    by_card = [(merchants[m], {"card": card}) for m, _id, _phone, card in picked if card]

    def find(item):
        merchant, ref = item
        with scope(merchant=merchant):
            members.find_member(merchant, **ref)

    def lookup(item):
        merchant, ref = item
        with scope(merchant=merchant):
            services.lookup(merchant, **ref)

    def round_trip(_item):
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()

    loadavg = Path("/proc/loadavg").read_text().split()[:3]
    timed(lookup, by_phone + by_card)  # warm the caches the timed pass reads
    figures = {
        "benchmark": "member_lookup", "database": connection.vendor,
        "date": time.strftime("%Y-%m-%d %H:%M"), "members": total_members,
        "lookups_phone": len(by_phone), "lookups_card": len(by_card),
        "select_1": percentiles(timed(round_trip, by_phone)),
        "find_member_phone": percentiles(timed(find, by_phone)),
        "find_member_card": percentiles(timed(find, by_card)),
        "lookup_phone": percentiles(timed(lookup, by_phone)),
        "lookup_card": percentiles(timed(lookup, by_card)),
    }
    merchant, first_phone, first_card = by_card[0][0], None, by_card[0][1]["card"]
    first_phone = next(ref["phone"] for m, ref in by_phone if m == merchant)
    with scope(merchant=merchant):
        explained = plans(merchant, first_phone, first_card)
    figures["queries_per_lookup"] = {way: sum(p["way"] == way for p in explained)
                                     for way in ("phone", "card")}
    figures["seq_scans"] = sorted({t for p in explained for t in p["seq_scans"]})
    figures["no_large_seq_scan"] = not LARGE.intersection(figures["seq_scans"])
    figures["loadavg"] = loadavg
    if args.http_seconds:
        largest = max(merchants.values(), key=lambda m: sum(row[0] == m.pk for row in picked))
        phones = [phone for m, _id, phone, _card in picked if m == largest.pk]
        figures["http_phone"] = http(largest.pk, phones, args.http_seconds, args.connections)
    figures["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
    print(json.dumps(figures), flush=True)
    write_results(figures, explained)


def write_results(r: dict, explained: list[dict]) -> None:
    def row(label, key, what):
        f = r[key]
        return f"| {label} | {what} | {f['n']} | {f['p50_us']} | {f['p95_us']} | {f['p99_us']} |"

    verdict = "none of a table that grows with the members" if r["no_large_seq_scan"] \
        else "**of a large table**"
    lines = [
        "# POS member look-up among a million members (`bench/bench_lookup.py`)", "",
        f"Measured {r['date']} on {r['database']}, {r['members']} members (bench/generate.py), "
        f"random members of the generated merchants, caches warmed by a first pass. Load "
        f"average {' '.join(r['loadavg'])} at the start, {' '.join(r['loadavg_end'])} at the "
        f"end (2 cores shared with other work: figures are noisy). Queries per look-up: "
        f"{r['queries_per_lookup']['phone']} by phone, {r['queries_per_lookup']['card']} by "
        f"card (find_member is one of them). Sequential scans: "
        f"{', '.join(r['seq_scans']) or 'none'} — "
        f"{verdict}.", "",
        "| what | call | look-ups | p50 µs | p95 µs | p99 µs |", "|---|---|---:|---:|---:|---:|",
        row("reference: one round trip", "select_1", "`SELECT 1`"),
        row("find by phone", "find_member_phone", "`members.find_member(phone=)`"),
        row("find by card", "find_member_card", "`members.find_member(card=)`"),
        row("look-up by phone", "lookup_phone", "`processing.lookup(phone=)`"),
        row("look-up by card", "lookup_card", "`processing.lookup(card=)`"),
        "",
    ]
    if "http_phone" in r:
        h = r["http_phone"]
        lines += [
            f"GET /api/v1/pos/members/lookup?phone=… under gunicorn (4 sync workers), wrk "
            f"-c{h['connections']} for {h['seconds']} s: **{h['requests_per_s']:.0f} "
            f"requests/s**, p50 {h['p50_us']} µs, p99 {h['p99_us']} µs, {h['non_2xx']} "
            "non-2xx.", "",
        ]
    lines += ["## Plans (EXPLAIN (ANALYZE, BUFFERS), one look-up each way)", ""]
    for p in explained:
        lines += [f"By {p['way']}:", "", "```sql", p["sql"], "```", "", "```", p["plan"], "```",
                  ""]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "lookup.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
