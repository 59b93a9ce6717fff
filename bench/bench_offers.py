"""Benchmark: targeted offers — the estimate before sending, and sending in batches.

Not a test. On PostgreSQL (own database, created if missing):
    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/kopilka_bench_offers \\
        .venv/bin/python bench/bench_offers.py [--members 1000]

Enrols `--members` members with consent to messages in a segment (tag "vip"), then times
`offers.estimate` (every text rendered and cut into SMS parts) and `offers.run_batch` until
done (a row, a gift through processing and a queued SMS per member; no SMS is sent). Prints
one JSON line.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from bench_commit import create_database, setup_django  # noqa: E402

DEFAULT = "postgres://postgres@127.0.0.1:5432/kopilka_bench_offers"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=1000)
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT)
    if url.startswith("postgres"):
        create_database(url)
    setup_django(url)
    from datetime import time as day_time

    from django.core.management import call_command
    from django.db import connection
    from django_scopes import scope

    from kopilka.campaigns import offers
    from kopilka.core.actor import Actor
    from kopilka.members import segments
    from kopilka.members.services import ConsentGiven
    from kopilka.messaging import billing
    from kopilka.messaging import services as messaging
    from kopilka.processing import services as processing
    from kopilka.programs import services as programs
    from kopilka.tenancy import services as tenancy

    call_command("migrate", verbosity=0)
    actor = Actor.cli()
    stamp = str(time.time_ns())[-8:]
    merchant = tenancy.create_merchant(f"Bench {stamp}", owner_email=f"o{stamp}@example.com",
                                       actor=actor).merchant
    programs.save_program(merchant, programs.DEFAULT_PROGRAM, actor=actor)
    result: dict = {"bench": "offers", "database": connection.vendor, "members": args.members}
    with scope(merchant=merchant):
        messaging.save_settings(merchant, transactional="off", quiet_from=day_time(0),
                                quiet_to=day_time(0), actor=actor)
        t0 = time.perf_counter()
        for n in range(args.members):
            processing.enrol(merchant, phone=f"+7917{stamp[:3]}{n:04d}", channel="cashier",
                             actor=actor, first_name=f"Member{n}", tags=["vip"],
                             consents=[ConsentGiven("messages", "v1")])
        result["enrol_s"] = round(time.perf_counter() - t0, 2)
        billing.top_up(merchant, 10**9, actor=actor)
        segment = segments.save_segment(merchant, name="VIP", filters={"tag": "vip"},
                                        by=None, actor=actor)
        offer = offers.create_offer(merchant, segment=segment, name="Bench",
                                    text="{name}, {merchant}: +{points} до {date}",
                                    points=5000, validity_days=14, actor=actor)
        t0 = time.perf_counter()
        figures = offers.estimate(offer)
        result["estimate_s"] = round(time.perf_counter() - t0, 3)
        result.update(recipients=figures.recipients, parts=figures.parts, cost=figures.cost)
        offers.send(offer, actor=actor)
        t0 = time.perf_counter()
        batches = 1
        while offers.run_batch(offer.pk) == "more":
            batches += 1
        elapsed = time.perf_counter() - t0
        result.update(batches=batches, send_s=round(elapsed, 2),
                      per_member_ms=round(elapsed * 1000 / max(args.members, 1), 2))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
