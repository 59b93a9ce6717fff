"""The pure quote engine: rounding, discount, redemption, stacking, conditions, lots, hints."""

import datetime as dt
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kopilka.programs.config import ProgramConfig
from kopilka.programs.engine import (
    Basket,
    BasketLine,
    CompiledProgram,
    DatedPoints,
    Hint,
    MemberState,
    QuoteContext,
    QuoteError,
    available_at_for,
    compile_program,
    compiled,
    expires_at_for,
    expiry_deadline_after_last_purchase,
    hints_for,
    in_birthday_window,
    next_tier,
    quote,
    tier_for_lifetime,
    welcome_lot,
)

MSK = "Europe/Moscow"  # UTC+3 all year
KYIV = "Europe/Kyiv"  # has daylight saving time

STANDARD = {"code": "standard", "name": "Standard", "accrual": {"kind": "percent", "percent": 3}}


def program(tiers=None, rules=None, **settings_) -> CompiledProgram:
    data = {"type": "bonus", "tiers": tiers or [STANDARD], "rules": rules or [], **settings_}
    return compile_program(ProgramConfig.model_validate(data))


def local(text: str, zone: str = MSK) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))


def line(amount: int, line_id: str | None = None, group=None, sku=None) -> BasketLine:
    return BasketLine(line_id or f"l{amount}-{group}-{sku}", amount, sku=sku, product_group=group)


def run(p, *lines, when="2026-11-23 15:00", tz=MSK, member=None, **context):
    items = tuple(
        item if isinstance(item, BasketLine) else line(item, f"l{i}")
        for i, item in enumerate(lines)
    )
    return quote(
        p,
        member or MemberState("standard", available_points=10**9),
        Basket(items),
        QuoteContext(at=local(when, tz), tz=tz, **context),
    )


def rule(code, conditions=None, **effects) -> dict:
    return {"code": code, "name": code, "conditions": conditions or {}, "effects": effects}


# --- rounding -----------------------------------------------------------------------------------


def test_accrual_rounds_down_by_default_never_up():
    assert run(program(), 333).accrual_points == 9  # 3 % of 3.33 = 9.99 kopeck-points


@pytest.mark.parametrize(
    ("rule_", "amount", "points"),
    [
        ("down", 333, 9),
        ("half_up", 333, 10),
        ("up", 333, 10),
        ("down", 310, 9),
        ("half_up", 310, 9),
        ("up", 310, 10),
    ],
)
def test_accrual_rounding_rule_is_configurable(rule_, amount, points):
    assert run(program(accrual_rounding=rule_), amount).accrual_points == points


def test_accrual_is_rounded_once_per_check_and_split_exactly_over_lines():
    q = run(program(), 3333, 3333, 3333)
    # Per line 99.99 each; rounding each line would give 297, the check earns 299.97 -> 299.
    assert q.accrual_points == 299
    assert [ln.accrual_points for ln in q.lines] == [100, 100, 99]
    assert sum(ln.accrual_points for ln in q.lines) == q.accrual_points


# --- discount -----------------------------------------------------------------------------------

HYBRID = {
    "code": "standard",
    "name": "Standard",
    "accrual": {"kind": "percent", "percent": 3},
    "discount": {"kind": "percent", "percent": 5},
}


def test_discount_split_over_three_lines_adds_up():
    q = run(program(type="hybrid", tiers=[HYBRID]), 333, 333, 334)
    assert q.discount == 50
    assert sum(ln.discount for ln in q.lines) == 50
    assert [ln.discount for ln in q.lines] == [17, 16, 17]  # 16.65, 16.65, 16.7
    assert q.amount_after_discount == 950
    # Hybrid: accrual on the amount after discount: 3 % of 9.50 = 28.5 -> 28.
    assert q.accrual_points == 28


def test_progressive_discount_takes_the_bracket_of_the_whole_check():
    tier = {
        "code": "standard",
        "name": "Standard",
        "discount": {
            "kind": "progressive",
            "brackets": [{"from": 0, "percent": 5}, {"from": 100_000, "percent": 10}],
        },
    }
    p = program(type="discount", tiers=[tier])
    assert run(p, 99_999).discount == 4999  # 5 % of 999.99 = 49.9995, rounded down
    q = run(p, 60_000, 40_000)
    assert q.discount == 10_000  # the check reaches 1 000.00: 10 % on every line
    assert [ln.discount for ln in q.lines] == [6000, 4000]


def test_discount_program_neither_accrues_nor_redeems():
    tier = {"code": "standard", "name": "S", "discount": {"kind": "percent", "percent": 10}}
    q = run(program(type="discount", tiers=[tier]), 10_000, points_to_spend=500)
    assert (q.discount, q.payable) == (1000, 9000)
    assert (q.accrual_points, q.max_redeem_points, q.points_spent) == (0, 0, 0)
    assert q.accrual_lots == ()


def test_bonus_program_gives_no_discount():
    assert run(program(), 10_000).discount == 0


# --- redemption ---------------------------------------------------------------------------------


def test_points_spent_is_min_of_requested_max_and_available():
    p = program(max_redeem_percent=50)
    assert run(p, 100_000, points_to_spend=10**6).points_spent == 50_000  # the max
    rich = MemberState("standard", available_points=1234)
    assert run(p, 100_000, points_to_spend=10**6, member=rich).points_spent == 1234
    assert run(p, 100_000, points_to_spend=100).points_spent == 100
    assert run(p, 100_000).points_spent == 0
    broke = MemberState("standard", available_points=-5)  # never trust a cache blindly
    assert run(p, 100_000, points_to_spend=10, member=broke).points_spent == 0


def test_points_paid_part_earns_nothing_unless_configured():
    p = program(
        tiers=[{**STANDARD, "accrual": {"kind": "percent", "percent": 10}}], max_redeem_percent=50
    )
    q = run(p, 10_000, points_to_spend=5000)
    assert (q.points_spent_money, q.payable, q.accrual_points) == (5000, 5000, 500)
    assert q.lines[0].accrual_base == 5000
    p = program(
        tiers=[{**STANDARD, "accrual": {"kind": "percent", "percent": 10}}],
        max_redeem_percent=50,
        accrue_on_points_paid=True,
    )
    assert run(p, 10_000, points_to_spend=5000).accrual_points == 1000


def test_a_point_worth_half_a_kopeck_is_never_spent_for_nothing():
    p = program(point_value="0.5")  # 2 points = 1 kopeck
    q = run(p, 10_001, points_to_spend=3)
    assert (q.points_spent, q.points_spent_money) == (2, 1)
    assert q.max_redeem_points == 20_002


def test_redemption_is_spread_over_lines_in_proportion_to_their_amounts():
    q = run(program(max_redeem_percent=50), 6000, 4000, points_to_spend=1000)
    assert [ln.max_redeem_money for ln in q.lines] == [3000, 2000]
    assert [ln.redeem_money for ln in q.lines] == [600, 400]
    assert [ln.redeem_points for ln in q.lines] == [600, 400]


def test_line_limits_and_the_check_limit_both_hold():
    p = program(
        max_redeem_percent=50,
        rules=[rule("services", {"product_groups": ["services"]}, max_redeem_percent=100)],
    )
    q = run(p, line(10_000, "a", "services"), line(10_000, "b", "goods"), points_to_spend=10**6)
    assert [ln.max_redeem_money for ln in q.lines] == [10_000, 5000]
    assert q.max_redeem_money == 10_000  # 50 % of the check
    assert [ln.redeem_money for ln in q.lines] == [6667, 3333]
    assert all(ln.redeem_money <= ln.max_redeem_money for ln in q.lines)


def test_exchange_rate_is_reduced_when_compiled():
    p = program(point_value={"money": 20, "points": 2}, points_precision=0)
    assert (p.point_money, p.point_units) == (10, 1)
    q = run(p, 20_000, points_to_spend=100)  # 100 ten-kopeck points pay 10.00
    # 3 % of the 190.00 paid in money = 5.70 = 57 ten-kopeck points
    assert (q.points_spent_money, q.accrual_points) == (1000, 57)


def test_quote_reports_whether_redemption_needs_a_code():
    assert run(program(redeem_requires_code=True), 100).redeem_requires_code is True


# --- per-amount scheme --------------------------------------------------------------------------

PER_1000 = {
    "code": "standard",
    "name": "S",
    "accrual": {"kind": "per_amount", "points": 50, "per": 100_000},
}


def per_amount_program(**kwargs):
    # whole bonuses, 1 bonus = 1 ruble = 100 kopecks
    return program(tiers=[PER_1000], points_precision=0, point_value=100, **kwargs)


@pytest.mark.parametrize(
    ("amount", "points"), [(99_999, 0), (100_000, 50), (299_900, 100), (300_000, 150)]
)
def test_per_amount_counts_only_full_steps(amount, points):
    assert run(per_amount_program(), amount).accrual_points == points


def test_per_amount_counts_the_whole_check_and_splits_back_over_lines():
    q = run(per_amount_program(), 200_000, 99_900)
    assert q.accrual_points == 100
    assert [ln.accrual_points for ln in q.lines] == [67, 33]


def test_set_percent_takes_a_line_out_of_the_per_amount_pool():
    p = per_amount_program(rules=[rule("promo", {"product_groups": ["promo"]}, set_percent=10)])
    q = run(p, line(200_000, "a", "promo"), line(150_000, "b"))
    # promo: 10 % of 2 000.00 = 200 bonuses; the rest: 50 for the one full 1 000 of 1 500.
    assert [ln.accrual_points for ln in q.lines] == [200, 50]


def test_excluded_lines_do_not_count_towards_per_amount():
    p = per_amount_program(
        rules=[rule("tobacco", {"product_groups": ["tobacco"]}, exclude_from_accrual=True)]
    )
    assert run(p, line(100_000, "a", "tobacco"), line(99_900, "b")).accrual_points == 0


# --- stacking -----------------------------------------------------------------------------------


def percent_tier(percent):
    return [{**STANDARD, "accrual": {"kind": "percent", "percent": percent}}]


def test_set_percent_highest_priority_wins_then_first_listed():
    p = program(
        rules=[
            rule(
                "a",
                set_percent=7,
            ),
            {**rule("b", set_percent=9), "priority": 5},
        ]
    )
    assert run(p, 10_000).accrual_points == 900
    p = program(rules=[rule("a", set_percent=7), rule("b", set_percent=9)])
    assert run(p, 10_000).accrual_points == 700


def test_add_percent_sums_and_multipliers_multiply():
    p = program(rules=[rule("a", add_percent=2), rule("b", add_percent=1)])
    assert run(p, 10_000).accrual_points == 600  # 3 + 2 + 1 %
    p = program(rules=[rule("a", multiply_accrual=2), rule("b", multiply_accrual="1.5")])
    assert run(p, 10_000).accrual_points == 900  # 3 % x 3
    p = program(rules=[rule("a", multiply_accrual=2), rule("b", add_percent=2)])
    assert run(p, 10_000).accrual_points == 1000  # (3 + 2) % x 2: multiply comes after add


def test_cap_applies_last_to_the_combined_percent():
    p = program(
        tiers=percent_tier(10),
        max_total_accrual_percent=25,
        rules=[rule("a", add_percent=10), rule("b", add_percent=10)],
    )
    q = run(p, 100_000)
    assert q.accrual_points == 25_000
    assert q.lines[0].accrual_percent_bp == 2500
    assert q.effective_accrual_bp == 2500


def test_fixed_points_come_after_the_cap_and_are_not_multiplied():
    p = program(
        tiers=percent_tier(10),
        max_total_accrual_percent=25,
        rules=[rule("x3", multiply_accrual=3), rule("gift", fixed_points_per_line=100)],
    )
    assert run(p, 1000).accrual_points == 250 + 100


def test_exclude_from_accrual_zeroes_the_line_including_fixed_points():
    p = program(
        rules=[
            rule("tobacco", {"product_groups": ["tobacco"]}, exclude_from_accrual=True),
            rule("gift", fixed_points_per_line=100),
        ]
    )
    q = run(p, line(10_000, "a", "tobacco"), line(10_000, "b", "food"))
    assert [ln.accrual_points for ln in q.lines] == [0, 300 + 100]
    assert q.lines[0].rules == ("tobacco", "gift")
    assert q.lines[0].accrual_base == 0


def test_fixed_points_per_check_are_spread_over_the_matching_lines():
    p = program(
        tiers=percent_tier(0),
        rules=[rule("coffee", {"product_groups": ["coffee"]}, fixed_points_per_check=100)],
    )
    q = run(p, line(300, "a", "coffee"), line(100, "b", "coffee"), line(500, "c", "tea"))
    assert [ln.accrual_points for ln in q.lines] == [75, 25, 0]
    assert q.accrual_points == 100


def test_inactive_rules_are_ignored():
    p = program(rules=[{**rule("off", add_percent=50), "active": False}])
    assert run(p, 10_000).accrual_points == 300


# --- conditions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "doubled"),
    [
        ("2026-11-23 23:30", True),
        ("2026-11-24 01:59", True),
        ("2026-11-24 02:00", False),
        ("2026-11-23 21:59", False),
        ("2026-11-23 22:00", True),
    ],
)
def test_time_window_may_cross_midnight(when, doubled):
    p = program(
        rules=[rule("night", {"time_from": "22:00", "time_to": "02:00"}, multiply_accrual=2)]
    )
    assert run(p, 10_000, when=when).accrual_points == (600 if doubled else 300)


def test_weekdays_and_inclusive_local_date_range():
    p = program(
        rules=[
            rule("friday", {"weekdays": [5]}, add_percent=1),
            rule(
                "black-friday", {"date_from": "2026-11-27", "date_to": "2026-11-27"}, add_percent=10
            ),
        ]
    )
    # 00:30 in Moscow on the 27th is still the 26th in UTC: the merchant's date counts.
    assert run(p, 10_000, when="2026-11-27 00:30").accrual_points == 1400
    assert run(p, 10_000, when="2026-11-27 23:59").accrual_points == 1400
    assert run(p, 10_000, when="2026-11-28 00:00").accrual_points == 300
    assert run(p, 10_000, when="2026-11-23 12:00").accrual_points == 300


def test_payment_store_cashier_tier_and_tag_conditions():
    p = program(
        rules=[
            rule("card", {"payment_methods": ["card"]}, add_percent=1),
            rule("store", {"store_ids": [7]}, add_percent=2),
            rule("cashier", {"cashier_ids": ["anna"]}, add_percent=4),
            rule("tier", {"tiers": ["standard"]}, add_percent=8),
            rule("tags", {"member_tags_any": ["vip", "coffee"]}, add_percent=16),
        ]
    )
    assert run(p, 10_000).accrual_points == 300 + 800
    q = run(
        p,
        10_000,
        payment_method="card",
        store_id="7",  # ids compare as text: 7 in the config matches "7" and 7
        cashier_id="anna",
        member=MemberState("standard", tags=frozenset({"coffee"})),
    )
    assert q.accrual_points == 300 + 100 + 200 + 400 + 800 + 1600
    assert q.lines[0].rules == ("card", "store", "cashier", "tier", "tags")
    assert run(p, 10_000, store_id=7, payment_method="cash").accrual_points == 300 + 200 + 800


def test_sku_and_product_group_conditions_pick_lines():
    p = program(
        rules=[
            rule("milk", {"skus": ["milk-1l"]}, add_percent=1),
            rule("dairy", {"product_groups": ["dairy"]}, add_percent=2),
        ]
    )
    q = run(
        p,
        line(10_000, "a", "dairy", "milk-1l"),
        line(10_000, "b", "dairy", "kefir"),
        line(10_000, "c", None, "milk-1l"),
        line(10_000, "d"),
    )
    assert [ln.rules for ln in q.lines] == [("milk", "dairy"), ("dairy",), ("milk",), ()]
    assert [ln.accrual_points for ln in q.lines] == [600, 500, 400, 300]


# --- birthday -----------------------------------------------------------------------------------


def test_birthday_window_spans_the_new_year():
    born = dt.date(1990, 1, 2)
    assert in_birthday_window(born, dt.date(2026, 12, 30), 3, 3)
    assert in_birthday_window(born, dt.date(2027, 1, 5), 3, 3)
    assert not in_birthday_window(born, dt.date(2027, 1, 6), 3, 3)
    assert not in_birthday_window(born, dt.date(2026, 12, 29), 3, 3)
    late = dt.date(1990, 12, 30)
    assert in_birthday_window(late, dt.date(2027, 1, 2), 3, 3)  # last year's birthday
    assert not in_birthday_window(late, dt.date(2027, 1, 3), 3, 3)


def test_birthday_on_29_february_is_kept_on_the_28th_in_common_years():
    born = dt.date(2000, 2, 29)
    assert in_birthday_window(born, dt.date(2027, 2, 28), 0, 0)
    p = program()
    member = MemberState("standard", birth_date=born)
    assert Hint("birthday_today", {}) in hints_for(p, member, local("2027-02-28 10:00"), MSK)
    assert hints_for(p, member, local("2027-03-01 10:00"), MSK) == ()


def test_birthday_extra_percent_and_birthday_rules():
    p = program(
        birthday={"extra_percent": 5, "days_before": 1, "days_after": 1},
        rules=[rule("cake", {"birthday_window": True}, fixed_points_per_check=100)],
    )
    member = MemberState("standard", birth_date=dt.date(1990, 11, 24))
    q = run(p, 10_000, member=member, when="2026-11-25 23:59")
    assert q.in_birthday_window
    assert q.accrual_points == 800 + 100
    assert Hint("birthday_bonus", {"extra_percent_bp": 500}) in q.hints
    q = run(p, 10_000, member=member, when="2026-11-26 00:00")
    assert (q.in_birthday_window, q.accrual_points) == (False, 300)


# --- lots, activation and expiry ----------------------------------------------------------------


def test_lines_with_their_own_validity_make_their_own_lot():
    p = program(
        activation_delay_days=14,
        expiry={"mode": "after_accrual", "days": 365},
        rules=[rule("promo", {"product_groups": ["promo"]}, points_validity_days=14)],
    )
    q = run(
        p, line(10_000, "a"), line(20_000, "b", "promo"), line(5000, "c"), when="2026-11-23 15:00"
    )
    assert q.available_at == local("2026-12-07 15:00")
    lots = [(lot.points, lot.expires_at, lot.validity_days) for lot in q.accrual_lots]
    assert lots == [
        (600, local("2026-12-08 00:00"), 14),  # valid through 7 December
        (450, local("2027-11-24 00:00"), None),  # valid through 23 November 2027
    ]
    assert all(lot.available_at == q.available_at for lot in q.accrual_lots)
    assert q.lines[1].expires_at == local("2026-12-08 00:00")


def test_after_accrual_expiry_is_the_end_of_the_nth_local_day():
    p = program(expiry={"mode": "after_accrual", "days": 30})
    assert expires_at_for(p, local("2026-03-01 10:00", KYIV), KYIV) == local(
        "2026-04-01 00:00", KYIV
    )
    # 02:30 in Moscow on 1 December is 30 November in UTC: the local day counts.
    accrued = local("2026-12-01 02:30").astimezone(dt.UTC)
    assert expires_at_for(p, accrued, MSK) == local("2027-01-01 00:00")


def test_fixed_dates_burn_on_the_next_date_strictly_after_the_accrual_day():
    p = program(expiry={"mode": "fixed_dates", "dates": ["01-01", "07-01"]})
    assert expires_at_for(p, local("2027-01-01 10:00"), MSK) == local("2027-07-01 00:00")
    assert expires_at_for(p, local("2026-12-31 23:59"), MSK) == local("2027-01-01 00:00")
    assert expires_at_for(p, local("2026-07-15 12:00"), MSK) == local("2027-01-01 00:00")


def test_after_last_purchase_is_an_account_deadline_not_a_lot_expiry():
    p = program(expiry={"mode": "after_last_purchase", "days": 180})
    assert expires_at_for(p, local("2026-11-23 15:00"), MSK) is None
    assert run(p, 10_000).accrual_lots[0].expires_at is None
    assert expiry_deadline_after_last_purchase(p, local("2026-11-23 15:00"), MSK) == local(
        "2027-05-23 00:00"
    )
    assert expires_at_for(p, local("2026-11-23 15:00"), MSK, line_validity_days=10) == local(
        "2026-12-04 00:00"
    )
    assert expiry_deadline_after_last_purchase(program(), local("2026-11-23"), MSK) is None


def test_activation_delay_keeps_the_local_wall_clock_across_dst():
    p = program(activation_delay_days=1)
    accrued = local("2026-03-28 10:00", KYIV)  # clocks go forward on 29 March
    available = available_at_for(p, accrued, KYIV)
    assert available == local("2026-03-29 10:00", KYIV)
    # (aware datetimes sharing a tzinfo subtract as wall clocks: compare in UTC)
    assert available.astimezone(dt.UTC) - accrued.astimezone(dt.UTC) == dt.timedelta(hours=23)
    assert available_at_for(program(), accrued, KYIV) == accrued


def test_welcome_lot():
    p = program(welcome_bonus=5000, welcome_validity_days=30)
    lot = welcome_lot(p, local("2026-11-23 15:00"), MSK)
    assert (lot.points, lot.available_at, lot.expires_at) == (
        5000,
        local("2026-11-23 15:00"),
        local("2026-12-24 00:00"),
    )
    assert welcome_lot(program(), local("2026-11-23 15:00"), MSK) is None


# --- tiers and hints ----------------------------------------------------------------------------

TIERS = [
    {"code": "standard", "name": "Standard", "accrual": {"kind": "percent", "percent": 3}},
    {
        "code": "staff",
        "name": "Staff",
        "manual_only": True,
        "accrual": {"kind": "percent", "percent": 20},
    },
    {
        "code": "gold",
        "name": "Gold",
        "threshold": 1_000_000,
        "accrual": {"kind": "percent", "percent": 5},
    },
    {
        "code": "vip",
        "name": "VIP",
        "threshold": 5_000_000,
        "accrual": {"kind": "percent", "percent": 7},
    },
]


def test_tier_for_lifetime_upgrades_and_keeps_by_default():
    p = program(tiers=TIERS)
    assert tier_for_lifetime(p, 999_999, "standard") == "standard"
    assert tier_for_lifetime(p, 1_000_000, "standard") == "gold"
    assert tier_for_lifetime(p, 7_000_000, "standard") == "vip"
    assert tier_for_lifetime(p, 10, "gold") == "gold"  # a refund does not take Gold away
    assert tier_for_lifetime(p, 10**9, "staff") == "staff"  # manual tiers are left alone


def test_tier_for_lifetime_recalculate_policy_moves_down():
    p = program(tiers=TIERS, tier_refund_policy="recalculate")
    assert tier_for_lifetime(p, 10, "gold") == "standard"
    assert tier_for_lifetime(p, 1_500_000, "vip") == "gold"
    assert tier_for_lifetime(p, 10, "staff") == "staff"


def test_next_tier_and_its_hint():
    p = program(tiers=TIERS)
    tier, amount = next_tier(p, 880_000, "standard")
    assert (tier.code, amount) == ("gold", 120_000)
    assert next_tier(p, 10**9, "vip") is None
    assert next_tier(p, 0, "staff") is None
    member = MemberState("standard", lifetime_spend=880_000)
    hints = run(p, 100, member=member).hints
    assert hints == (
        Hint("amount_to_next_tier", {"tier_code": "gold", "tier_name": "Gold", "amount": 120_000}),
    )


def test_each_tier_accrues_its_own_percent():
    p = program(tiers=TIERS)
    amounts = {
        code: run(p, 10_000, member=MemberState(code)).accrual_points
        for code in ("standard", "staff", "gold", "vip")
    }
    assert amounts == {"standard": 300, "staff": 2000, "gold": 500, "vip": 700}


def test_expiring_and_pending_hints():
    p = program(expiry_warning_days=7)
    now = local("2026-11-23 15:00")
    member = MemberState(
        "standard",
        expiring_lots=(
            DatedPoints(300, local("2026-11-26 00:00")),
            DatedPoints(200, local("2026-11-26 00:00")),
            DatedPoints(999, local("2026-12-10 00:00")),  # beyond the warning horizon
            DatedPoints(50, local("2026-11-20 00:00")),  # already gone
        ),
        pending_lots=(DatedPoints(120, local("2026-12-01 15:00")),),
    )
    assert hints_for(p, member, now, MSK) == (
        Hint(
            "points_expiring_soon",
            {"points": 500, "expires_at": local("2026-11-26 00:00"), "days_left": 3},
        ),
        Hint("pending_activation", {"points": 120, "available_at": local("2026-12-01 15:00")}),
    )


# --- inputs -------------------------------------------------------------------------------------


def test_bad_inputs_are_refused():
    p = program()
    with pytest.raises(QuoteError, match="amount"):
        run(p, BasketLine("a", 10.5))
    with pytest.raises(QuoteError, match="amount"):
        run(p, BasketLine("a", True))
    with pytest.raises(QuoteError, match="amount"):
        run(p, BasketLine("a", -1))
    with pytest.raises(QuoteError, match="quantity"):
        run(p, BasketLine("a", 1, quantity=0))
    with pytest.raises(QuoteError, match="twice"):
        run(p, BasketLine("a", 1), BasketLine("a", 2))
    with pytest.raises(QuoteError, match="points_to_spend"):
        run(p, 100, points_to_spend=-1)
    with pytest.raises(QuoteError, match="points_to_spend"):
        run(p, 100, points_to_spend=1.0)
    with pytest.raises(QuoteError, match="unknown tier"):
        run(p, 100, member=MemberState("gold"))
    with pytest.raises(QuoteError, match="timezone-aware"):
        quote(
            p,
            MemberState("standard"),
            Basket(()),
            QuoteContext(at=dt.datetime(2026, 11, 23, 15), tz=MSK),
        )


def test_empty_basket_quotes_zero():
    q = run(program())
    assert (q.total, q.accrual_points, q.effective_accrual_bp, q.lines) == (0, 0, 0, ())


def test_a_config_can_be_quoted_directly_and_is_compiled_once():
    config = ProgramConfig.model_validate({"type": "bonus", "tiers": [STANDARD]})
    q = quote(
        config,
        MemberState("standard"),
        Basket((line(10_000),)),
        QuoteContext(at=local("2026-11-23 15:00"), tz=MSK),
    )
    assert q.accrual_points == 300
    assert compiled(config) is compiled(config)
    # The cache stays out of equality and dumps ...
    assert config == ProgramConfig.model_validate({"type": "bonus", "tiers": [STANDARD]})
    assert "compiled" not in config.model_dump()
    # ... and a model_copy() with changes does not inherit a stale compiled form.
    changed = config.model_copy(update={"max_redeem_percent": 50})
    assert compiled(changed).max_redeem_bp == 5000
    assert compiled(config).max_redeem_bp == 10_000


def test_engine_imports_no_django():
    import subprocess
    import sys

    code = (
        "import sys, kopilka.programs.engine, kopilka.core.money; "
        "print(any(m == 'django' or m.startswith('django.') for m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


# --- properties ---------------------------------------------------------------------------------


@st.composite
def scenarios(draw):
    percent = draw(st.integers(0, 10_000))  # basis points
    discount = draw(st.integers(0, 10_000))
    money = draw(st.integers(1, 100))
    units = draw(st.integers(1, 100))
    config = {
        "type": draw(st.sampled_from(["bonus", "hybrid", "discount"])),
        "point_value": {"money": money, "points": units},
        "max_redeem_percent": str(draw(st.integers(0, 100))),
        "accrual_rounding": draw(st.sampled_from(["down", "half_up", "up"])),
        "accrue_on_points_paid": draw(st.booleans()),
        "tiers": [{"code": "t", "name": "T"}],
        "rules": [
            rule(
                "g1",
                {"product_groups": ["g1"]},
                max_redeem_percent=draw(st.integers(0, 100)),
                multiply_accrual=draw(st.sampled_from(["0.5", "1", "1.5", "2", "3"])),
            ),
            rule(
                "g2",
                {"product_groups": ["g2"]},
                exclude_from_accrual=draw(st.booleans()),
                fixed_points_per_check=draw(st.integers(0, 500)),
            ),
        ],
    }
    if draw(st.booleans()):
        config["max_total_accrual_percent"] = str(draw(st.integers(0, 100)))
    if config["type"] != "discount":
        config["tiers"][0]["accrual"] = {"kind": "percent", "percent": f"{percent / 100:.2f}"}
    if config["type"] != "bonus":
        config["tiers"][0]["discount"] = {"kind": "percent", "percent": f"{discount / 100:.2f}"}
    amounts = draw(st.lists(st.integers(0, 10**7), min_size=0, max_size=8))
    groups = draw(
        st.lists(st.sampled_from([None, "g1", "g2"]), min_size=len(amounts), max_size=len(amounts))
    )
    lines = tuple(
        BasketLine(f"l{i}", a, product_group=g)
        for i, (a, g) in enumerate(zip(amounts, groups, strict=True))
    )
    member = MemberState("t", available_points=draw(st.integers(0, 10**8)))
    requested = draw(st.integers(0, 10**8))
    return compile_program(ProgramConfig.model_validate(config)), member, lines, requested


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_quote_invariants_hold_for_random_baskets(scenario):
    p, member, lines, requested = scenario
    q = quote(
        p,
        member,
        Basket(lines),
        QuoteContext(at=local("2026-11-23 15:00"), tz=MSK, points_to_spend=requested),
    )
    assert q.total == sum(ln.amount for ln in q.lines)
    assert sum(ln.discount for ln in q.lines) == q.discount
    assert all(0 <= ln.discount <= ln.amount for ln in q.lines)
    assert sum(ln.redeem_money for ln in q.lines) == q.points_spent_money
    assert sum(ln.redeem_points for ln in q.lines) == q.points_spent
    assert all(ln.redeem_money <= ln.max_redeem_money for ln in q.lines)
    assert 0 <= q.points_spent <= min(requested, member.available_points, q.max_redeem_points)
    assert q.points_spent_money <= q.max_redeem_money <= q.amount_after_discount
    # The spent points are worth exactly the money they pay, rounded down, never more.
    assert q.points_spent_money == q.points_spent * p.point_money // p.point_units
    assert q.payable == q.total - q.discount - q.points_spent_money >= 0
    assert all(ln.accrual_points >= 0 for ln in q.lines)
    assert sum(ln.accrual_points for ln in q.lines) == q.accrual_points
    assert sum(lot.points for lot in q.accrual_lots) == q.accrual_points


@settings(max_examples=300, deadline=None)
@given(
    percent_bp=st.integers(0, 10_000),
    money=st.integers(1, 1000),
    units=st.integers(1, 1000),
    amounts=st.lists(st.integers(0, 10**8), max_size=8),
)
def test_accrual_is_the_exact_value_rounded_down_once(percent_bp, money, units, amounts):
    p = program(
        tiers=percent_tier(f"{percent_bp / 100:.2f}"),
        point_value={"money": money, "points": units},
    )
    q = run(p, *amounts)
    # points = floor(total x percent / point value), computed exactly
    exact = Fraction(sum(amounts) * percent_bp, 10_000) / Fraction(money, units)
    assert q.accrual_points == int(exact)  # int() truncates the non-negative Fraction
