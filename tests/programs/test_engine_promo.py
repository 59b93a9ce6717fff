"""A promo code's rule in the pure engine: what it adds, how it stacks, when it is refused."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from kopilka.programs.config import ProgramConfig, PromoRule
from kopilka.programs.engine import (
    Basket,
    BasketLine,
    MemberState,
    Promo,
    QuoteContext,
    QuoteError,
    compile_program,
    quote,
)

AT = dt.datetime(2026, 12, 7, 12, 0, tzinfo=ZoneInfo("Europe/Moscow"))


def program(percent=5, **more):
    return compile_program(ProgramConfig.model_validate({
        "type": "bonus",
        "tiers": [{"code": "base", "name": "Base", "accrual": {"kind": "percent",
                                                              "percent": percent}}],
        **more}))


def sell(p, *lines, promo=None, points_to_spend=0, member=None):
    basket = Basket(tuple(line if isinstance(line, BasketLine) else BasketLine(f"l{i}", line)
                          for i, line in enumerate(lines)))
    return quote(p, member or MemberState("base", available_points=10**9), basket,
                 QuoteContext(at=AT, tz="Europe/Moscow", points_to_spend=points_to_spend,
                              promo=promo))


def double(**more):
    return Promo("DOUBLE", PromoRule(multiply_accrual=2), ref=7, **more)


def test_double_on_a_5_percent_program_gives_100_instead_of_50():
    p = program()
    assert sell(p, 100_000).accrual_points == 5_000  # 50.00 without the code
    q = sell(p, 100_000, promo=double())
    assert q.accrual_points == 10_000  # 100.00 with it
    assert (q.promo.applied, q.promo.points, q.promo.ref, q.promo.refusal) == (True, 5_000, 7,
                                                                                None)
    assert q.lines[0].rules == ("promo:DOUBLE",)
    assert q.lines[0].accrual_percent_bp == 1_000  # 10 %


def test_extra_percent_and_fixed_points():
    p = program()
    extra = sell(p, 100_000, promo=Promo("PLUS3", PromoRule(add_percent="3")))
    assert (extra.accrual_points, extra.promo.points) == (8_000, 3_000)  # 5 % + 3 % of 1 000.00
    fixed = sell(p, 60_000, 40_000, promo=Promo("GIFT", PromoRule(fixed_points=2_500)))
    assert fixed.accrual_points == 5_000 + 2_500
    # once per check, spread over the lines by amount: 1 500 + 1 000
    assert [line.accrual_points for line in fixed.lines] == [3_000 + 1_500, 2_000 + 1_000]


def test_a_product_group_code_multiplies_only_its_lines():
    p = program()
    coffee = Promo("COFFEE2X", PromoRule(multiply_accrual=2, product_groups=("coffee",)))
    q = sell(p, BasketLine("1", 30_000, product_group="coffee"),
             BasketLine("2", 70_000, product_group="bakery"), promo=coffee)
    assert [line.accrual_points for line in q.lines] == [3_000, 3_500]  # 10 % of 300, 5 % of 700
    assert q.promo.points == 1_500
    refused = sell(p, BasketLine("2", 70_000, product_group="bakery"), promo=coffee)
    assert (refused.promo.applied, refused.promo.refusal) == (False, "product_groups")
    assert refused.accrual_points == 3_500  # the quote without the code


def test_minimum_check_refuses_at_49999_and_applies_at_50000():
    p = program()
    promo = double(min_check=50_000)
    below = sell(p, 49_999, promo=promo)
    assert (below.promo.applied, below.promo.refusal, below.promo.min_check) == (
        False, "min_check", 50_000)
    assert (below.accrual_points, below.promo.points) == (2_499, 0)
    at = sell(p, 50_000, promo=promo)
    assert (at.promo.applied, at.accrual_points, at.promo.points) == (True, 5_000, 2_500)


def test_minimum_check_is_after_the_discount():
    p = compile_program(ProgramConfig.model_validate({
        "type": "hybrid", "tiers": [{"code": "base", "name": "Base",
                                     "accrual": {"kind": "percent", "percent": 5},
                                     "discount": {"kind": "percent", "percent": 10}}]}))
    q = sell(p, 55_000, promo=double(min_check=50_000))  # 550.00 - 10 % = 495.00
    assert (q.amount_after_discount, q.promo.refusal) == (49_500, "min_check")


def test_a_code_that_adds_nothing_is_refused():
    discount_only = compile_program(ProgramConfig.model_validate({
        "type": "discount", "tiers": [{"code": "base", "name": "Base",
                                       "discount": {"kind": "percent", "percent": 5}}]}))
    assert sell(discount_only, 100_000, promo=double()).promo.refusal == "nothing"
    below_program_minimum = program(min_check_for_accrual=200_000)
    assert sell(below_program_minimum, 100_000, promo=double()).promo.refusal == "nothing"


def test_the_programs_cap_holds_with_a_code():
    p = program(max_total_accrual_percent=8)
    q = sell(p, 100_000, promo=double())
    assert (q.accrual_points, q.promo.points) == (8_000, 3_000)


def test_stacks_with_the_programs_own_rule():
    p = program(rules=[{"code": "coffee", "name": "Coffee",
                        "conditions": {"product_groups": ["coffee"]},
                        "effects": {"add_percent": 5}}])
    q = sell(p, BasketLine("1", 100_000, product_group="coffee"), promo=double())
    assert q.accrual_points == 20_000  # (5 % + 5 %) × 2
    assert q.lines[0].rules == ("coffee", "promo:DOUBLE")


def test_points_paid_part_earns_nothing_with_a_code_either():
    p = program()
    q = sell(p, 100_000, promo=double(), points_to_spend=40_000)
    assert (q.points_spent, q.accrual_points, q.promo.points) == (40_000, 6_000, 3_000)


def test_the_compiled_form_is_reused_and_the_plain_program_untouched():
    p = program()
    sell(p, 100_000, promo=double())
    sell(p, 100_000, promo=double())
    assert len(p.promo_memo) == 1
    assert p.rules == ()
    assert sell(p, 100_000).accrual_points == 5_000


def test_bad_inputs():
    p = program()
    with pytest.raises(QuoteError):
        sell(p, 100_000, promo=Promo("X", {"multiply_accrual": 2}))
    with pytest.raises(QuoteError):
        sell(p, 100_000, promo=Promo("X", PromoRule(multiply_accrual=2), min_check=-1))


@pytest.mark.parametrize("rule", [
    {}, {"multiply_accrual": 2, "add_percent": 1}, {"multiply_accrual": 1},
    {"multiply_accrual": 2.5}, {"add_percent": 0}, {"fixed_points": 0},
    {"fixed_points": 10, "product_groups": []}, {"set_percent": 10},
])
def test_promo_rule_validation(rule):
    with pytest.raises(ValidationError):
        PromoRule.model_validate(rule)
