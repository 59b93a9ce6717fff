"""Benchmark: quotes per second of the pure engine (kopilka.programs.engine.quote).

Not a test. Run:  .venv/bin/python bench/bench_engine.py [--iterations 20000]
One process, one thread, no database. The main case is the target of the design brief: a
5-line basket against a program with 10 rules (time, weekday, date, group, SKU, payment,
store, tag and birthday conditions; add / set / multiply / cap / fixed points / max-redeem /
own validity), with a birthday bonus, points spent and cashier hints. Next to it, in the same
run:
  - the same basket against the program without rules,
  - compile_program() (what a config reload costs),
  - a reference: a fixed pure-Python integer workload, so figures from different machines can
    be compared as a ratio (this VM's interpreter speed drifts).
Prints one JSON line and writes bench/results/engine.md.
"""

import argparse
import datetime as dt
import gc
import json
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kopilka.programs.config import ProgramConfig  # noqa: E402
from kopilka.programs.engine import (  # noqa: E402
    Basket,
    BasketLine,
    DatedPoints,
    MemberState,
    QuoteContext,
    compile_program,
    quote,
)

TARGET_US = 100  # the design brief: a 5-line basket against 10 rules in <= 100 us on one core

TIERS = [
    {
        "code": "standard",
        "name": "Standard",
        "accrual": {
            "kind": "progressive",
            "brackets": [{"from": 0, "percent": 3}, {"from": 100_000, "percent": 10}],
        },
    },
    {
        "code": "gold",
        "name": "Gold",
        "threshold": 1_000_000,
        "accrual": {"kind": "percent", "percent": 5},
    },
]


def rule(code: str, conditions: dict, **effects) -> dict:
    return {"code": code, "name": code, "conditions": conditions, "effects": effects}


RULES = [
    rule("morning", {"time_from": "09:00", "time_to": "12:00"}, multiply_accrual=2),
    rule("evening", {"time_from": "18:00", "time_to": "23:00"}, add_percent=1),
    rule("weekend", {"weekdays": [6, 7]}, add_percent=2),
    rule("black-friday", {"date_from": "2026-11-27", "date_to": "2026-11-27"}, add_percent=10),
    rule("services", {"product_groups": ["services"]}, set_percent=10, max_redeem_percent=50),
    rule("accessories", {"product_groups": ["accessories"]}, max_redeem_percent=0),
    rule(
        "promo", {"skus": ["sku-3", "sku-9"]}, fixed_points_per_check=500, points_validity_days=14
    ),
    rule("card", {"payment_methods": ["card"]}, add_percent="0.5"),
    rule("store", {"store_ids": [1, 2, 3]}, multiply_accrual="1.5"),
    rule("vip", {"member_tags_any": ["vip"], "birthday_window": True}, add_percent=5),
]

CONFIG = {
    "type": "bonus",
    "max_redeem_percent": 50,
    "max_total_accrual_percent": 25,
    "activation_delay_days": 14,
    "expiry": {"mode": "after_accrual", "days": 365},
    "birthday": {"extra_percent": 5, "days_before": 3, "days_after": 3},
    "tiers": TIERS,
    "rules": RULES,
}

MSK = dt.timezone(dt.timedelta(hours=3))
AT = dt.datetime(2026, 11, 27, 10, 30, tzinfo=dt.UTC)  # 13:30 in Moscow, Black Friday
MEMBER = MemberState(
    tier_code="standard",
    lifetime_spend=880_000,
    available_points=250_000,
    pending_lots=(DatedPoints(1200, AT + dt.timedelta(days=3)),),
    expiring_lots=(
        DatedPoints(3000, AT + dt.timedelta(days=2)),
        DatedPoints(900, AT + dt.timedelta(days=40)),
    ),
    birth_date=dt.date(1990, 11, 28),
    tags=frozenset({"vip", "coffee"}),
    purchase_count=12,
)
BASKET = Basket(
    (
        BasketLine("1", 150_000, sku="sku-1", product_group="services"),
        BasketLine("2", 45_990, sku="sku-2", product_group="accessories"),
        BasketLine("3", 12_350, sku="sku-3", product_group="food"),
        BasketLine("4", 78_000, sku="sku-4", product_group="services"),
        BasketLine("5", 9_900, sku="sku-5"),
    )
)
CONTEXT = QuoteContext(
    at=AT,
    tz="Europe/Moscow",
    store_id=2,
    cashier_id=7,
    payment_method="card",
    points_to_spend=40_000,
)


def percentile(sorted_values: list[int], fraction: float) -> int:
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * fraction))]


def measure(function, iterations: int) -> dict:
    """Per-call latencies (each call timed) and throughput (a separate untimed loop)."""
    for _ in range(min(2000, iterations)):
        function()
    timings = []
    clock = time.perf_counter_ns
    for _ in range(iterations):
        start = clock()
        function()
        timings.append(clock() - start)
    timings.sort()
    start = clock()
    for _ in range(iterations):
        function()
    elapsed = clock() - start
    return {
        "p50_us": percentile(timings, 0.50) / 1000,
        "p90_us": percentile(timings, 0.90) / 1000,
        "p99_us": percentile(timings, 0.99) / 1000,
        "mean_us": statistics.fmean(timings) / 1000,
        "per_s": iterations * 1_000_000_000 / elapsed,
    }


def reference_workload() -> int:
    # Fixed integer work of the same flavour as a quote (multiply, floor-divide, compare).
    total = 0
    for i in range(1, 1001):
        total += i * 7919 // 13 if i & 1 else i % 97
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=20_000)
    args = parser.parse_args()

    config = ProgramConfig.model_validate(CONFIG)
    program = compile_program(config)
    plain = compile_program(ProgramConfig.model_validate({**CONFIG, "rules": []}))

    check = quote(program, MEMBER, BASKET, CONTEXT)
    assert len(program.rules) == 10 and len(check.lines) == 5
    assert check.points_spent == 40_000 and check.accrual_points > 0 and check.hints

    gc.collect()
    main_case = measure(lambda: quote(program, MEMBER, BASKET, CONTEXT), args.iterations)
    no_rules = measure(lambda: quote(plain, MEMBER, BASKET, CONTEXT), args.iterations)
    from_config = measure(lambda: quote(config, MEMBER, BASKET, CONTEXT), args.iterations)
    compiling = measure(lambda: compile_program(config), max(200, args.iterations // 50))
    reference = measure(reference_workload, max(500, args.iterations // 10))

    result = {
        "bench": "engine_quote",
        "quotes_per_s": round(main_case["per_s"]),
        "us_per_quote_p50": round(main_case["p50_us"], 1),
        "us_per_quote_p90": round(main_case["p90_us"], 1),
        "us_per_quote_p99": round(main_case["p99_us"], 1),
        "us_per_quote_mean": round(main_case["mean_us"], 1),
        "lines": len(BASKET.lines),
        "rules": len(program.rules),
        "no_rules_us_p50": round(no_rules["p50_us"], 1),
        "from_config_us_p50": round(from_config["p50_us"], 1),
        "compile_us_p50": round(compiling["p50_us"], 1),
        "reference_us_p50": round(reference["p50_us"], 1),
        "quote_to_reference": round(main_case["p50_us"] / reference["p50_us"], 2),
        "target_us": TARGET_US,
        "meets_target": main_case["p50_us"] <= TARGET_US,
        "iterations": args.iterations,
        "python": platform.python_version(),
    }
    print(json.dumps(result))

    rows = [
        ("quote: 5 lines, 10 rules (compiled program)", main_case),
        ("quote: 5 lines, no rules", no_rules),
        ("quote: ProgramConfig passed (compiled form cached)", from_config),
        ("compile_program (per config load)", compiling),
        ("reference: fixed integer workload", reference),
    ]
    verdict = "met" if result["meets_target"] else "missed"
    lines = [
        "# Engine benchmark",
        "",
        f"`bench/bench_engine.py`, Python {result['python']} on {platform.machine()}, "
        f"{args.iterations} iterations, one thread, no database. Target: p50 <= {TARGET_US} us "
        f"for a 5-line basket against 10 rules — **{verdict}**.",
        "",
        "| case | p50 us | p90 us | p99 us | mean us | calls/s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, figures in rows:
        lines.append(
            f"| {name} | {figures['p50_us']:.1f} | {figures['p90_us']:.1f} | "
            f"{figures['p99_us']:.1f} | {figures['mean_us']:.1f} | {figures['per_s']:,.0f} |"
        )
    lines += [
        "",
        f"Quote p50 / reference p50 = {result['quote_to_reference']} "
        "(compare this ratio across machines; absolute figures drift on shared VMs).",
        "",
    ]
    out = ROOT / "bench" / "results" / "engine.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines))


if __name__ == "__main__":
    main()
