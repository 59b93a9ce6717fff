"""Benchmark: POST /api/v1/pos/purchases end to end (gunicorn + Django + PostgreSQL), next to
pgbench TPC-B on the same PostgreSQL.

Not a test. Needs `wrk` (apt-get install wrk) and the local PostgreSQL.
Run:  .venv/bin/python bench/bench_http.py [--seconds 15] [--workers 4] [--connections 16]
Loads the same merchant as bench_commit.py (database `kopilka_bench`), creates a terminal,
starts gunicorn the way `kopilka up` does, and drives it with wrk: every request commits a new
purchase for a random member (one in three spends 100 points). Prints one JSON line and writes
bench/results/http.md.
"""

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_commit  # noqa: E402  (a sibling script, not a package)

LUA = """
local counter = 0
local thread_id = 0
function setup(thread) thread:set("tid", tostring(math.random(1, 1e9))) end
function init(args) thread_id = tid end
request = function()
  counter = counter + 1
  local member = math.random(0, %(members)d - 1)
  local spend = (counter %% 3 == 0) and 100 or 0
  local body = string.format(
    '{"member": {"phone": "+7916%%07d"}, "receipt_id": "%%s-%%d", "points_to_spend": %%d, ' ..
    '"lines": [{"line_id": "1", "amount": %%d, "product_group": "food"}, ' ..
    '{"line_id": "2", "amount": %%d, "product_group": "drinks"}]}',
    member, thread_id, counter, spend, math.random(10000, 200000), math.random(1000, 50000))
  return wrk.format("POST", "/api/v1/pos/purchases", nil, body)
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pos_key(merchant_id: int) -> str:
    from django_scopes import scope

    from kopilka.core.actor import Actor
    from kopilka.tenancy import services
    from kopilka.tenancy.models import Merchant

    merchant = Merchant.objects.get(pk=merchant_id)
    with scope(merchant=merchant):
        _, key = services.create_terminal(merchant, store_name="Bench store", actor=Actor.cli())
    return key


def wait_healthy(port: int) -> None:
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).read()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not come up")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--members", type=int, default=2_000)
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL", bench_commit.DEFAULT_URL)
    bench_commit.create_database(url)
    bench_commit.setup_django(url)
    merchant_id, member_ids = bench_commit.load(args.members)
    key = pos_key(merchant_id)
    from django.db import connections

    connections.close_all()
    tps = bench_commit.pgbench(url, args.seconds)
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "KOPILKA_LOG_LEVEL": "WARNING",
           "KOPILKA_DEBUG": "0", "DJANGO_SETTINGS_MODULE": "kopilka.settings",
           # one terminal key drives the whole load: its rate limit would cap the figure
           "KOPILKA_RATE_LIMIT_POS": "0"}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "kopilka.wsgi:application", "--bind",
         f"127.0.0.1:{port}", "--workers", str(args.workers), "--worker-class", "sync"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_healthy(port)
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write(LUA % {"members": len(member_ids)})
        out = subprocess.run(
            ["wrk", "-t2", f"-c{args.connections}", f"-d{args.seconds}s", "--latency",
             "-s", script.name, "-H", f"Authorization: Bearer {key}",
             "-H", "Content-Type: application/json", f"http://127.0.0.1:{port}"],
            check=True, capture_output=True, text=True,
        ).stdout
    finally:
        server.terminate()
        server.wait(timeout=30)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)

    def percentile(label):
        found = re.search(rf"\s{label}%\s+([\d.]+)(us|ms|s)", out)
        value, unit = float(found.group(1)), found.group(2)
        return round(value * {"us": 0.001, "ms": 1, "s": 1000}[unit], 1)

    figures = {
        "bench": "http_pos_purchase", "workers": args.workers, "connections": args.connections,
        "seconds": args.seconds, "requests_per_s": rate, "p50_ms": percentile(50),
        "p99_ms": percentile(99), "non_2xx": int(errors.group(1)) if errors else 0,
        "pgbench_tps": round(tps, 1), "ratio_to_pgbench": round(rate / tps, 3),
    }
    print(json.dumps(figures))
    (Path(__file__).parent / "results" / "http.md").write_text("\n".join([
        "# POST /api/v1/pos/purchases end to end vs pgbench TPC-B",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M')}: gunicorn {args.workers} sync workers, "
        f"wrk -t2 -c{args.connections}, {args.seconds} s, {len(member_ids)} members, "
        "PostgreSQL on the same 2-core machine.",
        "",
        "| what | per second | p50 ms | p99 ms | non-2xx | ratio to pgbench |",
        "|---|---|---|---|---|---|",
        f"| pgbench TPC-B (-c 8 -j 2, scale 10) | {tps:.0f} | | | | 1.00 |",
        f"| POST /pos/purchases | {rate:.0f} | {figures['p50_ms']} | {figures['p99_ms']} | "
        f"{figures['non_2xx']} | {rate / tps:.3f} |",
        "",
    ]))


if __name__ == "__main__":
    main()
