"""Program configuration: validation names the field, floats and bools are refused."""

import copy
from decimal import Decimal

import pytest
from pydantic import ValidationError

from kopilka.programs.config import PointValue, ProgramConfig

BASE = {
    "type": "bonus",
    "tiers": [
        {"code": "standard", "name": "Standard", "accrual": {"kind": "percent", "percent": 3}}
    ],
}


def config(**changes) -> dict:
    data = copy.deepcopy(BASE)
    data.update(changes)
    return data


def errors_of(data: dict) -> list[dict]:
    with pytest.raises(ValidationError) as caught:
        ProgramConfig.model_validate(data)
    return caught.value.errors()


def assert_rejected(data: dict, loc: tuple, text: str = "") -> None:
    """Exactly the error at `loc` (a prefix of the error's location), mentioning `text`."""
    errors = errors_of(data)
    matching = [e for e in errors if tuple(e["loc"][: len(loc)]) == loc]
    assert matching, f"no error at {loc}: {errors}"
    assert any(text in e["msg"] for e in matching), matching


def test_minimal_program_gets_the_documented_defaults():
    program = ProgramConfig.model_validate(BASE)
    assert program.point_value == PointValue(money=1, points=1)
    assert program.points_precision == 2
    assert program.accrual_rounding == "down"
    assert program.max_redeem_percent == Decimal(100)
    assert program.expiry.mode == "none"
    assert program.tier_refund_policy == "keep"
    assert program.accrue_on_points_paid is False
    assert program.start_tier.code == "standard"
    assert program.currency_names.ru.many == "бонусов"
    assert program.rules == ()


def test_config_survives_a_json_round_trip():
    data = config(
        type="hybrid",
        point_value="0.5",
        max_redeem_percent="50",
        max_total_accrual_percent="25",
        birthday={"extra_percent": "2.5", "days_before": 3, "days_after": 3},
        expiry={"mode": "fixed_dates", "dates": ["07-01", "01-01"]},
        tiers=[
            {
                "code": "standard",
                "name": "Standard",
                "accrual": {
                    "kind": "progressive",
                    "brackets": [{"from": 0, "percent": 3}, {"from": 100_000, "percent": 10}],
                },
                "discount": {"kind": "percent", "percent": "2.5"},
            }
        ],
        rules=[
            {
                "code": "morning",
                "name": "9-12 double bonuses",
                "conditions": {"time_from": "09:00", "time_to": "12:00", "weekdays": [1, 2]},
                "effects": {"multiply_accrual": 2},
            }
        ],
    )
    program = ProgramConfig.model_validate(data)
    stored = program.model_dump(mode="json", by_alias=True)
    assert stored["tiers"][0]["accrual"]["brackets"][1] == {"from": 100_000, "percent": "10"}
    assert stored["point_value"] == {"money": 1, "points": 2}
    assert stored["expiry"]["dates"] == ["01-01", "07-01"]  # kept sorted
    assert ProgramConfig.model_validate(stored) == program
    assert ProgramConfig.model_validate_json(program.model_dump_json()) == program


@pytest.mark.parametrize("percent", [3, "3", "2.5", Decimal("2.5"), "0", "100", "2.50"])
def test_percentages_accept_ints_strings_and_decimals(percent):
    data = config()
    data["tiers"][0]["accrual"]["percent"] = percent
    program = ProgramConfig.model_validate(data)
    assert program.tiers[0].accrual.percent == Decimal(str(percent).strip())


def test_float_percent_is_rejected_naming_the_field():
    data = config()
    data["tiers"][0]["accrual"]["percent"] = 2.5
    assert_rejected(data, ("tiers", 0, "accrual", "percent", "percent"), "not float")


def test_float_percent_in_json_is_rejected():
    text = (
        '{"type": "bonus", "tiers": [{"code": "s", "name": "S",'
        ' "accrual": {"kind": "percent", "percent": 2.5}}]}'
    )
    with pytest.raises(ValidationError, match="not float"):
        ProgramConfig.model_validate_json(text)


@pytest.mark.parametrize(
    ("percent", "text"),
    [
        ("100.01", "less than or equal to 100"),
        ("-1", "greater than or equal to 0"),
        ("2.555", "2 decimal places"),
        ("NaN", "finite"),
        (True, "not bool"),
    ],
)
def test_bad_percentages_are_rejected(percent, text):
    assert_rejected(config(max_redeem_percent=percent), ("max_redeem_percent",), text)


def test_bool_is_not_an_int_and_int_is_not_a_bool():
    data = config()
    data["tiers"][0]["threshold"] = True
    assert_rejected(data, ("tiers", 0, "threshold"), "valid integer")
    assert_rejected(config(accrue_on_points_paid=1), ("accrue_on_points_paid",), "boolean")
    assert_rejected(config(welcome_bonus="50"), ("welcome_bonus",), "valid integer")
    assert_rejected(config(welcome_bonus=50.0), ("welcome_bonus",), "valid integer")
    assert_rejected(config(activation_delay_days=False), ("activation_delay_days",))


def test_unknown_fields_are_rejected():
    assert_rejected(config(max_redem_percent=50), ("max_redem_percent",), "Extra inputs")


def test_config_is_immutable():
    program = ProgramConfig.model_validate(BASE)
    with pytest.raises(ValidationError):
        program.max_redeem_percent = Decimal(10)


# --- exchange rate --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "money", "points"),
    [
        ("10", 10, 1),  # 1 pin = 0.10 UAH with whole pins: 10 kopecks per pin
        ("0.5", 1, 2),  # 1 bonus = 0.5 UAH with precision 2: half a kopeck per point minor
        (Decimal("0.25"), 1, 4),
        (100, 100, 1),
        ({"money": 10, "points": 1}, 10, 1),
    ],
)
def test_point_value_is_stored_as_an_exact_ratio(value, money, points):
    program = ProgramConfig.model_validate(config(point_value=value))
    assert (program.point_value.money, program.point_value.points) == (money, points)


@pytest.mark.parametrize("value", [0.1, "0", "-1", True, {"money": 0, "points": 1}])
def test_bad_point_values_are_rejected(value):
    assert_rejected(config(point_value=value), ("point_value",))


# --- tiers ------------------------------------------------------------------------------------


def tier(code: str, threshold: int, percent=5, **extra) -> dict:
    return {
        "code": code,
        "name": code.title(),
        "threshold": threshold,
        "accrual": {"kind": "percent", "percent": percent},
        **extra,
    }


def test_tier_thresholds_must_increase():
    data = config(tiers=[tier("bronze", 0), tier("silver", 500_000), tier("gold", 500_000)])
    assert_rejected(data, ("tiers",), "tiers[2].threshold must be greater")


def test_first_automatic_tier_starts_at_zero():
    assert_rejected(config(tiers=[tier("bronze", 100)]), ("tiers",), "tiers[0].threshold")


def test_tier_codes_are_unique_and_one_start_tier_at_most():
    assert_rejected(config(tiers=[tier("a", 0), tier("a", 10)]), ("tiers",), "used twice")
    data = config(tiers=[tier("a", 0, start=True), tier("b", 10, start=True)])
    assert_rejected(data, ("tiers",), "only one tier can be the start tier")


def test_start_tier_can_be_marked():
    program = ProgramConfig.model_validate(config(tiers=[tier("a", 0), tier("b", 10, start=True)]))
    assert program.start_tier.code == "b"


def test_manual_tiers_have_no_threshold_and_are_skipped_in_the_order():
    program = ProgramConfig.model_validate(
        config(tiers=[tier("a", 0), tier("staff", 0, manual_only=True), tier("b", 10)])
    )
    assert [t.code for t in program.tiers] == ["a", "staff", "b"]
    data = config(tiers=[tier("a", 0), tier("staff", 10, manual_only=True)])
    assert_rejected(data, ("tiers",), "tiers[1].threshold must be 0")


def test_schemes_must_fit_the_program_type():
    no_accrual = {"code": "s", "name": "S", "discount": {"kind": "percent", "percent": 5}}
    assert_rejected(config(tiers=[no_accrual]), ("tiers",), "tiers[0].accrual is required")
    assert_rejected(
        config(type="hybrid", tiers=[no_accrual]), ("tiers",), "tiers[0].accrual is required"
    )
    assert ProgramConfig.model_validate(config(type="discount", tiers=[no_accrual]))
    with_discount = tier("s", 0, discount={"kind": "percent", "percent": 5})
    assert_rejected(config(tiers=[with_discount]), ("tiers",), "tiers[0].discount")
    assert_rejected(config(type="discount", tiers=[tier("s", 0)]), ("tiers",), "omitted")


def test_at_least_one_tier():
    assert_rejected(config(tiers=[]), ("tiers",), "at least one tier")


def test_progressive_brackets_start_at_zero_and_increase():
    def with_brackets(brackets):
        data = config()
        data["tiers"][0]["accrual"] = {"kind": "progressive", "brackets": brackets}
        return data

    loc = ("tiers", 0, "accrual", "progressive", "brackets")
    assert_rejected(with_brackets([{"from": 100, "percent": 3}]), loc, "brackets[0].from must be 0")
    assert_rejected(
        with_brackets([{"from": 0, "percent": 3}, {"from": 0, "percent": 5}]),
        loc,
        "brackets[1].from must be greater",
    )
    assert_rejected(with_brackets([]), loc, "at least one bracket")


def test_per_amount_needs_positive_numbers():
    data = config()
    data["tiers"][0]["accrual"] = {"kind": "per_amount", "points": 50, "per": 0}
    assert_rejected(data, ("tiers", 0, "accrual", "per_amount", "per"), "greater than 0")


def test_unknown_scheme_kind_names_the_discriminator():
    data = config()
    data["tiers"][0]["accrual"] = {"kind": "cashback", "percent": 3}
    assert_rejected(data, ("tiers", 0, "accrual"), "does not match any of the expected tags")


# --- expiry -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expiry",
    [
        {"mode": "none"},
        {"mode": "after_accrual", "days": 30},
        {"mode": "after_last_purchase", "days": 180},
        {"mode": "fixed_dates", "dates": ["01-01", "07-01"]},
    ],
)
def test_every_expiry_mode_is_accepted(expiry):
    assert ProgramConfig.model_validate(config(expiry=expiry)).expiry.mode == expiry["mode"]


@pytest.mark.parametrize(
    ("dates", "text"),
    [
        (["13-01"], "dates[0]"),
        (["02-29"], "02-29"),
        (["01-01", "01-01"], "repeat"),
        (["1-1"], "MM-DD"),
        ([], "must not be empty"),
    ],
)
def test_fixed_dates_must_be_calendar_dates(dates, text):
    assert_rejected(
        config(expiry={"mode": "fixed_dates", "dates": dates}),
        ("expiry", "fixed_dates", "dates"),
        text,
    )


def test_expiry_days_must_be_positive():
    assert_rejected(
        config(expiry={"mode": "after_accrual", "days": 0}), ("expiry", "after_accrual", "days")
    )


# --- rules --------------------------------------------------------------------------------------


def rule(code="r", conditions=None, effects=None, **extra) -> dict:
    return {
        "code": code,
        "name": code,
        "conditions": conditions or {},
        "effects": {"add_percent": 1} if effects is None else effects,
        **extra,
    }


def test_rule_conditions_and_effects_are_validated_with_their_location():
    assert_rejected(
        config(rules=[rule(conditions={"weekdays": [8]})]),
        ("rules", 0, "conditions", "weekdays", 0),
    )
    assert_rejected(
        config(rules=[rule(conditions={"product_groups": []})]),
        ("rules", 0, "conditions", "product_groups"),
        "must not be empty",
    )
    assert_rejected(
        config(rules=[rule(effects={"multiply_accrual": 1.5})]),
        ("rules", 0, "effects", "multiply_accrual"),
        "not float",
    )
    assert_rejected(
        config(rules=[rule(effects={"fixed_points_per_line": -5})]),
        ("rules", 0, "effects", "fixed_points_per_line"),
    )
    assert_rejected(config(rules=[rule(effects={})]), ("rules", 0, "effects"), "at least one")
    assert_rejected(
        config(rules=[rule(conditions={"time_from": "09:00", "time_to": "09:00"})]),
        ("rules", 0, "conditions"),
        "must differ",
    )
    assert_rejected(
        config(rules=[rule(conditions={"date_from": "2026-12-01", "date_to": "2026-11-01"})]),
        ("rules", 0, "conditions"),
        "date_from",
    )
    assert_rejected(
        config(rules=[rule(conditions={"date_from": 1764547200})]),
        ("rules", 0, "conditions", "date_from"),
        "YYYY-MM-DD",
    )


def test_rules_refer_to_existing_tiers_and_have_unique_codes():
    assert_rejected(
        config(rules=[rule(conditions={"tiers": ["gold"]})]),
        ("rules",),
        "rules[0].conditions.tiers: unknown tier 'gold'",
    )
    assert_rejected(config(rules=[rule("a"), rule("a")]), ("rules",), "used twice")


def test_birthday_condition_needs_birthday_settings():
    data = config(rules=[rule(conditions={"birthday_window": True})])
    assert_rejected(data, ("rules",), "birthday settings")
    data["birthday"] = {"extra_percent": 5}
    assert ProgramConfig.model_validate(data)


def test_exclude_alone_is_an_effect_and_store_ids_may_be_ints():
    program = ProgramConfig.model_validate(
        config(
            rules=[
                rule(conditions={"store_ids": [1, "two"]}, effects={"exclude_from_accrual": True})
            ]
        )
    )
    assert program.rules[0].conditions.store_ids == (1, "two")


# --- currency -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("points", "word"),
    [
        (1, "булавка"),
        (2, "булавки"),
        (4, "булавки"),
        (5, "булавок"),
        (11, "булавок"),
        (12, "булавок"),
        (21, "булавка"),
        (22, "булавки"),
        (111, "булавок"),
    ],
)
def test_russian_plural_forms_of_the_currency(points, word):
    program = ProgramConfig.model_validate(
        config(
            points_precision=0,
            currency_names={"ru": {"one": "булавка", "few": "булавки", "many": "булавок"}},
        )
    )
    assert program.currency_word("ru", points) == word


def test_english_and_fractional_currency_words():
    program = ProgramConfig.model_validate(BASE)  # precision 2
    assert program.currency_word("en", 100) == "bonus"
    assert program.currency_word("en", 150) == "bonuses"
    assert program.currency_word("ru", 2997) == "бонуса"  # 29,97 бонуса
    assert program.currency_word("uk", 500) == "бонусів"


# --- transfers ----------------------------------------------------------------------------------


def test_transfers_are_off_unless_configured_and_limits_are_ordered():
    assert ProgramConfig.model_validate(BASE).transfers is None
    program = ProgramConfig.model_validate(
        config(transfers={"enabled": True, "min_points": 100, "max_points_per_day": 10_000})
    )
    assert (program.transfers.enabled, program.transfers.max_points) == (True, None)
    assert_rejected(
        config(transfers={"enabled": True, "min_points": 100, "max_points": 50}),
        ("transfers",),
        "max_points must not be below min_points",
    )
    assert_rejected(config(transfers={"enabled": 1}), ("transfers", "enabled"), "boolean")
