"""What referral rewards cost a sale (#18): `commit_purchase` timed for a buyer nobody
recommended and for a buyer at the bottom of a three-level chain (5 % / 2 % / 1 %, every
purchase within 30 days), alternately, on a fresh merchant: medians of wall and of this
process's CPU per commit, and statements per commit. The reward's own work is the difference:
the chain's look-up, a `Reward` row and a ledger credit per level, in the sale's transaction.

    .venv/bin/python bench/bench_referrals.py [--commits 400]

Takes its database from BENCH_DATABASE_URL (default postgres://…/kopilka_bench_referrals,
created when missing; the merchant it makes is new each run). Prints one JSON line and writes
bench/results/referrals.md.
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench_commit import create_database, setup_django  # noqa: E402

RESULTS = ROOT / "bench" / "results"
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/kopilka_bench_referrals"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commits", type=int, default=400, help="sales, half of each kind")
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    create_database(url)
    setup_django(url)

    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django_scopes import scope

    from kopilka.core.actor import Actor
    from kopilka.members.models import Member
    from kopilka.processing import services
    from kopilka.programs import services as programs
    from kopilka.programs.engine import BasketLine
    from kopilka.referrals import services as referrals
    from kopilka.referrals.models import Reward
    from kopilka.tenancy import services as tenancy

    call_command("migrate", verbosity=0)
    actor = Actor.cli()
    stamp = time.strftime("%Y%m%d%H%M%S")
    merchant = tenancy.create_merchant(f"Bench referrals {stamp}",
                                       owner_email=f"owner-{stamp}@bench.test",
                                       actor=actor).merchant
    with scope(merchant=merchant):
        programs.save_program(merchant, {
            **programs.DEFAULT_PROGRAM,
            "referral": {"basis": "purchase", "period": "days", "days": 30,
                         "levels": [{"percent": "5"}, {"percent": "2"}, {"percent": "1"}]},
        }, actor=actor)
        chain = []
        for n in range(4):
            code = referrals.code_for(chain[-1]) if chain else ""
            chain.append(services.enrol(merchant, phone=f"+7999100000{n}", actor=actor,
                                        channel=Member.Channel.CASHIER, referrer_code=code))
        alone = services.enrol(merchant, phone="+79991000009", actor=actor,
                               channel=Member.Channel.CASHIER)
        buyers = {"nobody recommended": alone, "three levels up": chain[-1]}
        timings = {label: ([], [], []) for label in buyers}
        for n in range(args.commits):
            label = list(buyers)[n % 2]
            sale = services.Sale(lines=(BasketLine("1", 10_000 + n), BasketLine("2", 2_500)))
            wall, cpu = time.perf_counter(), time.process_time()
            with CaptureQueriesContext(connection) as queries:
                services.commit_purchase(merchant, buyers[label], sale,
                                         receipt_id=f"ref-{n}", source="bench", actor=actor)
            if n >= 20:  # the first ones warm the caches
                timings[label][0].append((time.perf_counter() - wall) * 1000)
                timings[label][1].append((time.process_time() - cpu) * 1000)
                timings[label][2].append(len(queries))
        rewards = Reward.objects.filter(merchant=merchant).count()
    figures = {label: {"wall_ms": round(statistics.median(w), 2),
                       "cpu_ms": round(statistics.median(c), 2),
                       "statements": int(statistics.median(q))}
               for label, (w, c, q) in timings.items()}
    load = os.getloadavg()[0]
    print(json.dumps({"bench": "referrals", "commits": args.commits, "rewards": rewards,
                      "load": round(load, 1), **figures}))
    RESULTS.mkdir(exist_ok=True)
    lines = [f"# Referral rewards in the sale ({time.strftime('%Y-%m-%d')}, load {load:.1f})",
             "", "| buyer | wall ms | CPU ms | statements |", "|---|---|---|---|"]
    lines += [f"| {label} | {f['wall_ms']} | {f['cpu_ms']} | {f['statements']} |"
              for label, f in figures.items()]
    (RESULTS / "referrals.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
