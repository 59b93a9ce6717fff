"""Integer money helpers: rounding with a rule, exact splits, exact percentages. No database."""

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kopilka.core.money import (
    apportion,
    exact_decimal,
    format_minor,
    percent_of,
    round_fraction,
    split,
    to_basis_points,
    to_hundredths,
)


@pytest.mark.parametrize(
    ("numerator", "denominator", "down", "half_up", "up"),
    [
        (10, 5, 2, 2, 2),  # exact: every rule agrees
        (7, 2, 3, 4, 4),  # exactly half
        (11, 4, 2, 3, 3),  # 2.75
        (9, 4, 2, 2, 3),  # 2.25
        (1, 3, 0, 0, 1),
        (0, 7, 0, 0, 0),
        (-7, 2, -3, -4, -4),  # symmetric: a refund mirrors the purchase
        (-9, 4, -2, -2, -3),
    ],
)
def test_round_fraction_applies_the_rule(numerator, denominator, down, half_up, up):
    assert round_fraction(numerator, denominator, "down") == down
    assert round_fraction(numerator, denominator, "half_up") == half_up
    assert round_fraction(numerator, denominator, "up") == up


def test_round_fraction_defaults_to_down():
    assert round_fraction(2997_9, 10) == 2997


@pytest.mark.parametrize("bad", [1.5, True, Decimal("1"), "3"])
def test_round_fraction_rejects_non_integers(bad):
    with pytest.raises(TypeError):
        round_fraction(bad, 3)
    with pytest.raises(TypeError):
        round_fraction(3, bad)


def test_round_fraction_rejects_bad_denominator_and_rule():
    with pytest.raises(ValueError, match="positive"):
        round_fraction(1, 0)
    with pytest.raises(ValueError, match="positive"):
        round_fraction(1, -2)
    with pytest.raises(ValueError, match="rounding rule"):
        round_fraction(1, 2, "banker")


def test_percent_of_rounds_once_with_the_rule():
    assert percent_of(99_900, 300) == 2997  # 3 % of 999.00
    assert percent_of(99_999, 300) == 2999  # 2999.97 -> down
    assert percent_of(99_999, 300, "half_up") == 3000
    assert percent_of(1, 1, "up") == 1


def test_split_adds_up_exactly_over_three_lines():
    parts = split(100, [1, 1, 1])
    assert parts == [34, 33, 33]  # the leftover kopeck goes to the first line on a tie
    assert sum(parts) == 100


def test_split_gives_leftovers_to_the_largest_remainders():
    # exact shares 1.5, 2.25, 6.25 -> floors 1, 2, 6 (one left) -> the 0.5 remainder wins
    assert split(10, [6, 9, 25]) == [2, 2, 6]


def test_split_negative_total_mirrors_the_positive_split():
    assert split(-100, [1, 1, 1]) == [-34, -33, -33]


def test_split_edge_cases():
    assert split(0, [0, 0]) == [0, 0]
    assert split(5, [0, 3]) == [0, 5]
    assert split(7, [4]) == [7]
    assert split(0, []) == []
    with pytest.raises(ValueError):
        split(1, [0, 0])
    with pytest.raises(ValueError):
        split(1, [])
    with pytest.raises(ValueError):
        split(5, [2, -1])
    with pytest.raises(TypeError):
        split(5, [1.5, 1])
    with pytest.raises(TypeError):
        split(5.0, [1, 1])


@given(
    total=st.integers(min_value=-(10**12), max_value=10**12),
    weights=st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=12).filter(
        any
    ),
)
def test_split_parts_add_up_and_stay_within_a_unit_of_the_exact_share(total, weights):
    parts = split(total, weights)
    assert sum(parts) == total
    weight_sum = sum(weights)
    for part, weight in zip(parts, weights, strict=True):
        exact = Fraction(total * weight, weight_sum)
        assert abs(part - exact) < 1
    assert parts == split(total, list(weights))  # deterministic


def test_apportion_rounds_the_whole_once_and_gives_leftovers_to_largest_remainders():
    # Three lines of 99.99 points each: the check earns 299.97 -> 299, not 3 x 99 = 297.
    assert apportion([9999, 9999, 9999], 100) == [100, 100, 99]
    assert apportion([9999, 9999, 9999], 100, "up") == [100, 100, 100]
    assert apportion([165, 165, 170], 10) == [17, 16, 17]  # 16.5, 16.5, 17.0 -> 50
    assert apportion([150, 150], 100, "half_up") == [2, 1]  # 3.0 exactly
    assert apportion([], 7) == []
    with pytest.raises(ValueError):
        apportion([1, -1], 3)
    with pytest.raises(ValueError):
        apportion([1], 0)
    with pytest.raises(TypeError):
        apportion([1.5], 3)


@given(
    numerators=st.lists(st.integers(min_value=0, max_value=10**15), max_size=12),
    denominator=st.integers(min_value=1, max_value=10**9),
    rule=st.sampled_from(["down", "half_up", "up"]),
)
def test_apportion_parts_add_up_to_the_rounded_total(numerators, denominator, rule):
    parts = apportion(numerators, denominator, rule)
    assert sum(parts) == round_fraction(sum(numerators), denominator, rule)
    for part, numerator in zip(parts, numerators, strict=True):
        assert numerator // denominator <= part <= -(-numerator // denominator)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("2.5", 250), (3, 300), (Decimal("0.01"), 1), ("100", 10_000), ("2.50", 250), (" 7 ", 700)],
)
def test_to_basis_points_is_exact(value, expected):
    assert to_basis_points(value) == expected


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("2.555", ValueError),
        (2.5, TypeError),
        (True, TypeError),
        ("NaN", ValueError),
        ("Infinity", ValueError),
        ("abc", ValueError),
        (None, TypeError),
    ],
)
def test_to_basis_points_rejects_inexact_input(value, error):
    with pytest.raises(error):
        to_basis_points(value)


def test_to_hundredths_and_exact_decimal():
    assert to_hundredths("1.5") == 150
    assert to_hundredths(2) == 200
    assert exact_decimal("0.10") == Decimal("0.10")
    with pytest.raises(TypeError, match="float"):
        exact_decimal(0.1)


def test_format_minor():
    assert format_minor(2997, 2) == "29.97"
    assert format_minor(5, 2) == "0.05"
    assert format_minor(-5, 2) == "-0.05"
    assert format_minor(100, 0) == "100"
    assert format_minor(1234567, 1) == "123456.7"
