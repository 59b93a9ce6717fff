"""Integer arithmetic for money and points.

Money and points are integers in minor units everywhere (kopecks, cents, the program's smallest
point unit). Nothing here accepts a float: a float cannot hold 0.10 exactly, and a loyalty ledger
that drifts by a kopeck per purchase is wrong a million times a day.

Four tools cover what the rest of Kopilka needs:

- `round_fraction(n, d, rule)` rounds the exact value n/d to an integer with one of the rules
  "down", "half_up" or "up". Rules act on the magnitude (symmetric around zero), so a refund of
  -n/d rounds to exactly minus what the purchase of n/d rounded to.
- `split(total, weights)` divides an integer over weights so the parts add up to `total` exactly
  (largest remainder method; ties go to the earlier weight, so the result is deterministic).
- `apportion(numerators, d, rule)` rounds a check computed line by line once, as a whole, and
  hands each line its exact amount rounded down plus the leftover units by largest remainder.
- `to_basis_points` / `exact_decimal` turn a percentage given as "2.5", 3 or Decimal("2.5") into
  an exact integer once, at configuration time.
"""

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Literal

Rounding = Literal["down", "half_up", "up"]
ROUNDING_RULES: tuple[str, ...] = ("down", "half_up", "up")

#: 100 % in basis points (1 bp = 0.01 %).
BASIS_POINTS = 10_000


def _require_int(value: object, name: str) -> int:
    # bool is a subclass of int; True as an amount is always a bug upstream.
    if type(value) is not int:
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    return value  # type: ignore[return-value]


def round_fraction(numerator: int, denominator: int, rule: str = "down") -> int:
    """Round numerator/denominator to an integer with `rule` ("down", "half_up", "up").

    "down" truncates towards zero, "up" goes away from zero, "half_up" rounds halves away from
    zero. The denominator must be positive.
    """
    _require_int(numerator, "numerator")
    _require_int(denominator, "denominator")
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    if rule not in ROUNDING_RULES:
        raise ValueError(f"unknown rounding rule {rule!r}; use one of {ROUNDING_RULES}")
    negative = numerator < 0
    quotient, remainder = divmod(-numerator if negative else numerator, denominator)
    if remainder and (rule == "up" or (rule == "half_up" and 2 * remainder >= denominator)):
        quotient += 1
    return -quotient if negative else quotient


def percent_of(amount: int, basis_points: int, rule: str = "down") -> int:
    """`basis_points`/100 % of `amount`, rounded once with `rule`."""
    return round_fraction(amount * basis_points, BASIS_POINTS, rule)


def split(total: int, weights: Sequence[int]) -> list[int]:
    """Split `total` over `weights` in proportion; the parts always add up to `total`.

    Largest remainder method: every part gets the floor of its exact share, then the units left
    over go one each to the parts with the largest remainders (earlier part first on a tie).
    A negative total is split like its magnitude and negated, so splitting a refund mirrors
    splitting the purchase. Weights must be non-negative integers; all-zero weights can only
    carry a zero total.
    """
    _require_int(total, "total")
    count = len(weights)
    weight_sum = sum(weights)
    if type(weight_sum) is not int:  # a float, Decimal or Fraction weight makes the sum one
        raise TypeError("weights must be ints")
    if count and min(weights) < 0:
        raise ValueError("weights must be non-negative")
    if weight_sum == 0:
        if total:
            raise ValueError("cannot split a non-zero total over zero weights")
        return [0] * count
    if count == 1:
        return [total]
    magnitude = -total if total < 0 else total
    parts = [magnitude * weight // weight_sum for weight in weights]
    left_over = magnitude - sum(parts)
    if left_over:
        # left_over < number of non-zero remainders, so only parts that were rounded down grow.
        # sorted() is stable with reverse=True: equal remainders keep their order.
        remainders = [magnitude * weight % weight_sum for weight in weights]
        by_remainder = sorted(range(count), key=remainders.__getitem__, reverse=True)
        for i in by_remainder[:left_over]:
            parts[i] += 1
    if total < 0:
        return [-part for part in parts]
    return parts


def apportion(numerators: Sequence[int], denominator: int, rule: str = "down") -> list[int]:
    """Round the sum of the exact amounts numerators[i]/denominator ONCE, and split it.

    Each part is the floor of its own exact amount; the units the single rounding of the sum
    adds on top go one each to the parts with the largest fractional remainders (earlier part
    first on a tie). So the parts add up to round_fraction(sum(numerators), denominator, rule)
    and each part is its exact amount rounded down or up — never further off. Used where a
    check is computed line by line but must be rounded as a whole (discount, accrual).
    Numerators must be non-negative.
    """
    if type(denominator) is not int or denominator <= 0:
        raise ValueError("denominator must be a positive int")
    if rule not in ROUNDING_RULES:
        raise ValueError(f"unknown rounding rule {rule!r}; use one of {ROUNDING_RULES}")
    parts = [numerator // denominator for numerator in numerators]
    exact_sum = sum(numerators)
    if type(exact_sum) is not int:
        raise TypeError("numerators must be ints")
    if parts and min(numerators) < 0:
        raise ValueError("numerators must be non-negative")
    left_over = round_fraction(exact_sum, denominator, rule) - sum(parts)
    if left_over:
        # 0 < left_over <= number of parts with a remainder, whatever the rule.
        remainders = [numerator % denominator for numerator in numerators]
        by_remainder = sorted(range(len(parts)), key=remainders.__getitem__, reverse=True)
        for i in by_remainder[:left_over]:
            parts[i] += 1
    return parts


def exact_decimal(value: object, name: str = "value") -> Decimal:
    """Parse an int, a Decimal or a decimal string exactly; reject floats, bools, NaN and inf."""
    if isinstance(value, (bool, float)):
        raise TypeError(
            f'{name} must be an integer or a decimal string such as "2.5", '
            f"not a {type(value).__name__}"
        )
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"{name} is not a decimal number: {value!r}") from None
    else:
        raise TypeError(f"{name} must be an int, a Decimal or a string")
    if not result.is_finite():
        raise ValueError(f"{name} must be a finite number")
    return result


def to_basis_points(value: object, name: str = "percent") -> int:
    """A percentage ("2.5", 3, Decimal("0.25")) as exact basis points (250, 300, 25).

    Percentages finer than 0.01 % are rejected rather than rounded: a configuration should mean
    exactly what it says.
    """
    percent = exact_decimal(value, name)
    basis_points = percent * 100
    if basis_points != basis_points.to_integral_value():
        raise ValueError(f"{name} allows at most 2 decimal places: {value!r}")
    return int(basis_points)


def to_hundredths(value: object, name: str = "factor") -> int:
    """A factor such as "1.5" or 2 as exact hundredths (150, 200); finer values are rejected."""
    return to_basis_points(value, name)


def format_minor(amount: int, places: int) -> str:
    """Minor units as a plain decimal string: format_minor(2997, 2) == "29.97"."""
    _require_int(amount, "amount")
    if places == 0:
        return str(amount)
    sign = "-" if amount < 0 else ""
    whole, fraction = divmod(abs(amount), 10**places)
    return f"{sign}{whole}.{fraction:0{places}d}"
