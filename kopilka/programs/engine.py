"""The processing engine: what a basket earns, costs and may be paid with. Pure code.

Design
======
This module knows nothing about Django, databases, clocks or I/O. It takes a program, the
member's current state, a basket and the context of the sale (moment, merchant's time zone,
store, cashier, payment method, requested redemption) and returns a `Quote`. Processing calls it
to show the cashier a quote and again, with the same inputs, to commit; the ledger turns the
quote's lots and redemption into entries. Because it is pure, the same inputs always give the
same quote, offline uploads are evaluated at their own `occurred_at`, and tests need no database.

Compile once, quote many times
------------------------------
`compile_program(config)` turns the validated `ProgramConfig` into integers: percentages become
basis points (1 bp = 0.01 %), multipliers hundredths, rules frozensets sorted by priority plus
bitmasks per product group and SKU, and the exchange rate a reduced pair of ints. `quote()`
then runs on plain integer arithmetic with no Decimal or Fraction in the loop; a line's rules
are three integer ANDs, and the stacked effects of each combination of rules are memoized on
the compiled program (as are the expiry moments of a day). A `ProgramConfig` can be passed
directly: its compiled form is cached on the (immutable) config object. Processing should
compile once per program version and reuse it (≈ 60-80 us per quote on the reference VM, see
bench/results/engine.md).

The quote, step by step
-----------------------
1. Check-level rule conditions (weekday, local time, local date, payment method, store,
   cashier, tier, member tags, birthday window) are evaluated once; line-level conditions
   (product group, SKU) per line.
2. Discount (discount and hybrid programs): the tier's discount percent — for a progressive
   scheme the bracket of the whole check total — on every line; the check's discount is
   rounded once with `discount_rounding` and apportioned to the lines (each line its exact
   discount rounded down, the leftover kopecks to the largest remainders), so the line
   discounts add up exactly.
3. Redemption (bonus and hybrid programs): each line may be paid with points up to its
   max-redeem percent (a rule's `max_redeem_percent`, else the program's) of its amount after
   discount; the check as a whole up to the program's `max_redeem_percent`. Only whole point
   units are spent; spent points are worth `floor(points × rate)` money minor units, and the
   engine never spends a point that would buy nothing. The money paid with points is spread
   over the lines in proportion to their payable capacity (OPS-5: for lines with the same
   max-redeem percent that is proportion to their amounts).
4. Accrual (bonus and hybrid programs), per line, on the amount after discount minus the money
   paid with points (unless `accrue_on_points_paid`):
       base percent of the tier scheme (progressive: bracket of the whole check total;
       per_amount: the line's share of `points` per full `per` of the eligible lines' total)
       → set_percent (highest-priority rule, then first listed, replaces the tier's percent)
       → + add_percent of every matching rule + the birthday extra percent
       → × multiply_accrual of every matching rule
       → cap: the line never earns more than max_total_accrual_percent of its base
       → exclude_from_accrual zeroes the line (fixed points included)
       → + fixed points (per line, and the line's share of per-check points): after the cap,
         never multiplied.
   The exact (rational) accruals of all lines are summed and rounded ONCE with
   `accrual_rounding` (down by default: never a fractional point rounded up); each line gets
   its exact accrual rounded down plus a leftover unit by largest remainder, so the lines add
   up to the check exactly. Fixed points are whole already and are added afterwards.
5. Lots: the accrual is grouped by expiry (the program's expiry, or a rule's own
   `points_validity_days`) into `AccrualLot`s, all available after the activation delay.
6. Hints for the cashier (ENG-10): birthday today, birthday bonus, amount to the next tier,
   points expiring soon, points waiting for activation.

Time
----
Every calendar notion is in the merchant's zone: "9:00-12:00", weekdays, date ranges, the
birthday window, "N days", fixed burn dates. Expiry moments are local midnights: points valid
"N days" burn at 00:00 local after the N-th day following the accrual day; fixed dates burn at
00:00 local on the date. Activation is exactly N days of local wall-clock time after the
purchase.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import NamedTuple
from zoneinfo import ZoneInfo

from kopilka.core.money import BASIS_POINTS, apportion, split, to_basis_points, to_hundredths
from kopilka.programs.config import ProgramConfig, PromoRule

BP = BASIS_POINTS  # 100 % in basis points
HUNDRED = 100  # multipliers are held in hundredths: 2 -> 200, "1.5" -> 150
_NOT_YET = object()  # a memo miss (None is a valid memoized expiry)


class QuoteError(ValueError):
    """The inputs of a quote are inconsistent (unknown tier, float amount, naive datetime...)."""


# --- inputs -------------------------------------------------------------------------------------


class DatedPoints(NamedTuple):
    """Points tied to a moment: a pending lot's available_at or an expiring lot's expires_at."""

    points: int
    at: dt.datetime


@dataclass(slots=True, frozen=True)
class MemberState:
    tier_code: str
    lifetime_spend: int = 0
    #: Spendable now (activated, not expired).
    available_points: int = 0
    #: Accrued but not yet activated: (points, available_at).
    pending_lots: tuple[DatedPoints, ...] = ()
    #: Lots with an expiry, for the "expiring soon" hint: (points remaining, expires_at).
    expiring_lots: tuple[DatedPoints, ...] = ()
    birth_date: dt.date | None = None
    tags: frozenset[str] = frozenset()
    purchase_count: int = 0


@dataclass(slots=True, frozen=True)
class BasketLine:
    line_id: str
    #: Line total in money minor units, after any discount the POS gave itself.
    amount: int
    sku: str | None = None
    product_group: str | None = None
    #: Informative only; the amount is the line total.
    quantity: int = 1


@dataclass(slots=True, frozen=True)
class Basket:
    lines: tuple[BasketLine, ...]


@dataclass(slots=True, frozen=True)
class QuoteContext:
    #: The moment of the sale (timezone-aware); for offline uploads the receipt's own time.
    at: dt.datetime
    #: The merchant's time zone: a zoneinfo name or a tzinfo.
    tz: str | dt.tzinfo
    store_id: str | int | None = None
    cashier_id: str | int | None = None
    payment_method: str | None = None
    #: Points the member asks to spend; 0 = none.
    points_to_spend: int = 0
    #: A promo code given with the sale (campaigns.promo found it and checked its limits).
    promo: Promo | None = None


@dataclass(slots=True, frozen=True)
class Promo:
    """A promo code's rule, switched on for one purchase. The engine only evaluates it: which
    code exists, where and how often it may be used is the campaigns app's business."""

    code: str
    rule: PromoRule
    #: The check after the discount must be at least this (money minor units).
    min_check: int = 0
    #: The caller's id of the code, carried through to the quote (opaque here).
    ref: int | None = None


# --- outputs ------------------------------------------------------------------------------------
# Plain slotted dataclasses, not frozen: a frozen dataclass's __init__ costs ~7x more, and
# the quote builds several per call on the hot path. Treat them as read-only.


@dataclass(slots=True)
class QuoteLine:
    line_id: str
    amount: int
    discount: int
    amount_after_discount: int
    #: Money of this line payable with points (its max-redeem percent of amount_after_discount).
    max_redeem_money: int
    #: This line's part of the money paid with points, and of the points spent.
    redeem_money: int
    redeem_points: int
    #: Money the accrual percent applied to (0 when excluded).
    accrual_base: int
    accrual_points: int
    #: Accrual rate after stacking and cap, basis points, rounded down; fixed points excluded.
    accrual_percent_bp: int
    #: A rule's own validity for this line's points (None: the program's expiry).
    validity_days: int | None
    expires_at: dt.datetime | None
    #: Codes of the rules that matched this line, in evaluation order.
    rules: tuple[str, ...]


@dataclass(slots=True)
class AccrualLot:
    """Points the ledger should grant as one lot."""

    points: int
    available_at: dt.datetime
    expires_at: dt.datetime | None
    validity_days: int | None = None


@dataclass(slots=True)
class Hint:
    """A cashier hint: a stable code and its parameters (the UI words it per language)."""

    code: str
    params: dict[str, object] = field(default_factory=dict)


@dataclass(slots=True)
class PromoOutcome:
    """What a promo code did to a quote. A refused code changes nothing: the quote is the
    one without it, and the caller refuses the sale (`refusal` says why)."""

    code: str
    ref: int | None
    applied: bool
    #: Points the code adds to the accrual: the quote with it minus the quote without it.
    points: int
    #: None when applied; "min_check": the check after the discount is below the code's
    #: minimum; "product_groups": no line of the code's product groups; "nothing": the code
    #: would add no points (a discount program, a check below the program's minimum for
    #: accrual, lines excluded from accrual or paid with points).
    refusal: str | None = None
    min_check: int = 0


@dataclass(slots=True)
class Quote:
    tier_code: str
    total: int
    discount: int
    amount_after_discount: int
    max_redeem_money: int
    max_redeem_points: int
    points_requested: int
    points_spent: int
    points_spent_money: int
    #: What the customer pays in money: total - discount - points_spent_money.
    payable: int
    accrual_points: int
    accrual_lots: tuple[AccrualLot, ...]
    #: When this purchase's accrual becomes spendable (activation delay).
    available_at: dt.datetime
    #: Accrued points' money value as a share of the check total, basis points, rounded down.
    effective_accrual_bp: int
    in_birthday_window: bool
    redeem_requires_code: bool
    lines: tuple[QuoteLine, ...]
    hints: tuple[Hint, ...]
    #: The promo code's outcome, when the sale gave one.
    promo: PromoOutcome | None = None


# --- compiled program ---------------------------------------------------------------------------

Brackets = tuple[tuple[int, int], ...]  # ((from_amount, basis_points), ...), ascending


@dataclass(slots=True, frozen=True)
class CompiledTier:
    code: str
    name: str
    rank: int  # position in the configured list; higher is better
    threshold: int
    manual_only: bool
    #: Percent or progressive accrual as brackets (a fixed percent is one bracket from 0).
    accrual_brackets: Brackets
    #: (points, per) for "points per every full `per`"; None for percent schemes.
    per_amount: tuple[int, int] | None
    #: Empty: no discount.
    discount_brackets: Brackets


@dataclass(slots=True, frozen=True)
class CompiledRule:
    code: str
    position: int  # index in CompiledProgram.rules (priority order)
    # Check-level conditions; None = any.
    weekdays: frozenset[int] | None
    time_from: int | None  # seconds since local midnight
    time_to: int | None
    date_from: dt.date | None
    date_to: dt.date | None
    payment_methods: frozenset[str] | None
    store_ids: frozenset[str] | None
    cashier_ids: frozenset[str] | None
    tiers: frozenset[str] | None
    member_tags: frozenset[str] | None
    birthday_window: bool | None
    # Line-level conditions.
    product_groups: frozenset[str] | None
    skus: frozenset[str] | None
    # Effects, as integers.
    multiply: int | None  # hundredths
    add_bp: int
    set_bp: int | None
    fixed_per_line: int
    fixed_per_check: int
    max_redeem_bp: int | None
    exclude: bool
    validity_days: int | None


@dataclass(slots=True, frozen=True)
class CompiledProgram:
    config: ProgramConfig
    accrues: bool
    discounts: bool
    redeems: bool
    #: Exchange rate: `point_units` point minor units are worth `point_money` money minor units.
    point_money: int
    point_units: int
    accrual_rounding: str
    discount_rounding: str
    accrue_on_points_paid: bool
    max_redeem_bp: int
    cap_bp: int | None
    activation_delay_days: int
    expiry_mode: str
    expiry_days: int | None
    expiry_dates: tuple[tuple[int, int], ...]  # (month, day), sorted
    expiry_warning_days: int
    birthday_bp: int | None
    birthday_days_before: int
    birthday_days_after: int
    welcome_bonus: int
    welcome_validity_days: int | None
    redeem_requires_code: bool
    tier_refund_policy: str
    tiers: dict[str, CompiledTier]
    tiers_in_order: tuple[CompiledTier, ...]
    start_tier: str
    #: Active rules, highest priority first, then in configured order.
    rules: tuple[CompiledRule, ...]
    # Rule matching works on bitmasks (bit i = rules[i]): a line's rules are
    # check_mask & group mask & SKU mask, three integer ANDs instead of a loop.
    #: Rules without check-level conditions (always candidates).
    unconditional_mask: int
    #: Rules with check-level conditions, evaluated once per quote.
    conditional_rules: tuple[CompiledRule, ...]
    #: product group -> rules that accept it (listing it, or having no group condition).
    group_masks: dict[str, int]
    #: Rules without a product-group condition (for groups no rule lists, and None).
    any_group_mask: int
    sku_masks: dict[str, int]
    any_sku_mask: int
    #: Memo: mask of the rules matching a line -> their combined effects.
    effects_memo: dict[int, LineEffects] = field(default_factory=dict)
    #: Memo: (local day, zone, own validity days) -> expiry of points accrued that day.
    expiry_memo: dict[tuple, dt.datetime | None] = field(default_factory=dict)
    #: Memo: a promo code's rule -> this program with the rule appended (see `_with_promo`).
    promo_memo: dict[PromoRule, CompiledProgram] = field(default_factory=dict)


@dataclass(slots=True, frozen=True)
class LineEffects:
    """What a combination of matching rules does to a line, stacked once and memoized."""

    codes: tuple[str, ...]
    set_bp: int | None
    add_bp: int
    multiplier: int  # product of hundredths ...
    multiplier_count: int  # ... over HUNDRED ** multiplier_count
    max_redeem_bp: int | None
    exclude: bool
    validity_days: int | None
    fixed_per_line: int
    per_check_rules: tuple[int, ...]  # positions of rules with fixed_per_check
    has_fixed: bool


NO_EFFECTS = LineEffects((), None, 0, 1, 0, None, False, None, 0, (), False)
_MEMO_LIMIT = 4096  # distinct rule combinations remembered per program


def _stack(rules: Sequence[CompiledRule]) -> LineEffects:
    """Combine matching rules (highest priority first): single values go to the first rule
    that sets them, percentages add up, multipliers multiply, fixed points add up."""
    set_bp = max_redeem_bp = validity_days = None
    add_bp = fixed = 0
    multiplier, multiplier_count = 1, 0
    exclude = False
    for rule in rules:
        if set_bp is None:
            set_bp = rule.set_bp
        if max_redeem_bp is None:
            max_redeem_bp = rule.max_redeem_bp
        if validity_days is None:
            validity_days = rule.validity_days
        add_bp += rule.add_bp
        if rule.multiply is not None:
            multiplier *= rule.multiply
            multiplier_count += 1
        exclude = exclude or rule.exclude
        fixed += rule.fixed_per_line
    per_check_rules = tuple(rule.position for rule in rules if rule.fixed_per_check)
    return LineEffects(
        codes=tuple(rule.code for rule in rules),
        set_bp=set_bp,
        add_bp=add_bp,
        multiplier=multiplier,
        multiplier_count=multiplier_count,
        max_redeem_bp=max_redeem_bp,
        exclude=exclude,
        validity_days=validity_days,
        fixed_per_line=fixed,
        per_check_rules=per_check_rules,
        has_fixed=bool(fixed or per_check_rules),
    )


def _effects(p: CompiledProgram, mask: int) -> LineEffects:
    effects = p.effects_memo.get(mask)
    if effects is None:
        effects = _stack([rule for rule in p.rules if mask >> rule.position & 1])
        if len(p.effects_memo) >= _MEMO_LIMIT:
            p.effects_memo.clear()
        p.effects_memo[mask] = effects
    return effects


def _line_masks(rules: Sequence[CompiledRule], attribute: str) -> tuple[dict[str, int], int]:
    """Per value of a line attribute (product group or SKU), the rules that accept it."""
    without_condition = 0
    listed: dict[str, int] = {}
    for rule in rules:
        values = getattr(rule, attribute)
        if values is None:
            without_condition |= 1 << rule.position
        else:
            for value in values:
                listed[value] = listed.get(value, 0) | 1 << rule.position
    return {value: mask | without_condition for value, mask in listed.items()}, without_condition


def _has_check_conditions(rule: CompiledRule) -> bool:
    return any(
        value is not None
        for value in (
            rule.weekdays,
            rule.time_from,
            rule.time_to,
            rule.date_from,
            rule.date_to,
            rule.payment_methods,
            rule.store_ids,
            rule.cashier_ids,
            rule.tiers,
            rule.member_tags,
            rule.birthday_window,
        )
    )


def _brackets(brackets) -> Brackets:
    return tuple((b.from_amount, to_basis_points(b.percent)) for b in brackets)


def _texts(values) -> frozenset[str] | None:
    return None if values is None else frozenset(str(v) for v in values)


def _seconds(value: dt.time | None) -> int | None:
    return None if value is None else value.hour * 3600 + value.minute * 60 + value.second


def _compile_tier(rank: int, tier) -> CompiledTier:
    accrual_brackets: Brackets = ()
    per_amount = None
    if tier.accrual is not None:
        if tier.accrual.kind == "percent":
            accrual_brackets = ((0, to_basis_points(tier.accrual.percent)),)
        elif tier.accrual.kind == "progressive":
            accrual_brackets = _brackets(tier.accrual.brackets)
        else:
            per_amount = (tier.accrual.points, tier.accrual.per)
    discount_brackets: Brackets = ()
    if tier.discount.kind == "percent":
        discount_brackets = ((0, to_basis_points(tier.discount.percent)),)
    elif tier.discount.kind == "progressive":
        discount_brackets = _brackets(tier.discount.brackets)
    return CompiledTier(
        code=tier.code,
        name=tier.name,
        rank=rank,
        threshold=tier.threshold,
        manual_only=tier.manual_only,
        accrual_brackets=accrual_brackets,
        per_amount=per_amount,
        discount_brackets=discount_brackets,
    )


def _compile_rule(position: int, rule) -> CompiledRule:
    when, then = rule.conditions, rule.effects
    return CompiledRule(
        code=rule.code,
        position=position,
        weekdays=None if when.weekdays is None else frozenset(when.weekdays),
        time_from=_seconds(when.time_from),
        time_to=_seconds(when.time_to),
        date_from=when.date_from,
        date_to=when.date_to,
        payment_methods=_texts(when.payment_methods),
        store_ids=_texts(when.store_ids),
        cashier_ids=_texts(when.cashier_ids),
        tiers=_texts(when.tiers),
        member_tags=_texts(when.member_tags_any),
        birthday_window=when.birthday_window,
        product_groups=_texts(when.product_groups),
        skus=_texts(when.skus),
        multiply=None if then.multiply_accrual is None else to_hundredths(then.multiply_accrual),
        add_bp=0 if then.add_percent is None else to_basis_points(then.add_percent),
        set_bp=None if then.set_percent is None else to_basis_points(then.set_percent),
        fixed_per_line=then.fixed_points_per_line or 0,
        fixed_per_check=then.fixed_points_per_check or 0,
        max_redeem_bp=(
            None if then.max_redeem_percent is None else to_basis_points(then.max_redeem_percent)
        ),
        exclude=then.exclude_from_accrual,
        validity_days=then.points_validity_days,
    )


def compile_program(config: ProgramConfig) -> CompiledProgram:
    """Turn a validated config into the integer form `quote()` evaluates. Do it once per load."""
    tiers_in_order = tuple(_compile_tier(rank, tier) for rank, tier in enumerate(config.tiers))
    # Priority decides where only one rule can win; Python's sort is stable, so equal
    # priorities keep the configured order.
    ordered_rules = sorted(
        (rule for rule in config.rules if rule.active), key=lambda rule: -rule.priority
    )
    rules = tuple(_compile_rule(position, rule) for position, rule in enumerate(ordered_rules))
    group_masks, any_group_mask = _line_masks(rules, "product_groups")
    sku_masks, any_sku_mask = _line_masks(rules, "skus")
    expiry = config.expiry
    birthday = config.birthday
    rate_gcd = math.gcd(config.point_value.money, config.point_value.points)
    return CompiledProgram(
        config=config,
        accrues=config.type in ("bonus", "hybrid"),
        discounts=config.type in ("discount", "hybrid"),
        redeems=config.type in ("bonus", "hybrid"),
        point_money=config.point_value.money // rate_gcd,
        point_units=config.point_value.points // rate_gcd,
        accrual_rounding=config.accrual_rounding,
        discount_rounding=config.discount_rounding,
        accrue_on_points_paid=config.accrue_on_points_paid,
        max_redeem_bp=to_basis_points(config.max_redeem_percent),
        cap_bp=(
            None
            if config.max_total_accrual_percent is None
            else to_basis_points(config.max_total_accrual_percent)
        ),
        activation_delay_days=config.activation_delay_days,
        expiry_mode=expiry.mode,
        expiry_days=getattr(expiry, "days", None),
        expiry_dates=tuple((int(text[:2]), int(text[3:])) for text in getattr(expiry, "dates", ())),
        expiry_warning_days=config.expiry_warning_days,
        birthday_bp=None if birthday is None else to_basis_points(birthday.extra_percent),
        birthday_days_before=0 if birthday is None else birthday.days_before,
        birthday_days_after=0 if birthday is None else birthday.days_after,
        welcome_bonus=config.welcome_bonus,
        welcome_validity_days=config.welcome_validity_days,
        redeem_requires_code=config.redeem_requires_code,
        tier_refund_policy=config.tier_refund_policy,
        tiers={tier.code: tier for tier in tiers_in_order},
        tiers_in_order=tiers_in_order,
        start_tier=config.start_tier.code,
        rules=rules,
        unconditional_mask=sum(
            1 << rule.position for rule in rules if not _has_check_conditions(rule)
        ),
        conditional_rules=tuple(rule for rule in rules if _has_check_conditions(rule)),
        group_masks=group_masks,
        any_group_mask=any_group_mask,
        sku_masks=sku_masks,
        any_sku_mask=any_sku_mask,
    )


def compiled(program: ProgramConfig | CompiledProgram) -> CompiledProgram:
    """The compiled form of `program`, compiled at most once per config object."""
    if isinstance(program, CompiledProgram):
        return program
    result = program.compiled
    if result.config is not program:  # model_copy() carried another config's cache over
        result = compile_program(program)
        program.__dict__["compiled"] = result
    return result


# --- time helpers -------------------------------------------------------------------------------


def _zone(tz: str | dt.tzinfo) -> dt.tzinfo:
    if isinstance(tz, str):
        return ZoneInfo(tz)  # ZoneInfo caches instances by key
    if isinstance(tz, dt.tzinfo):
        return tz
    raise QuoteError("tz must be a zoneinfo name or a tzinfo")


def _aware(moment: dt.datetime, name: str) -> dt.datetime:
    if not isinstance(moment, dt.datetime) or moment.utcoffset() is None:
        raise QuoteError(f"{name} must be a timezone-aware datetime")
    return moment


def _local_midnight(day: dt.date, zone: dt.tzinfo) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=zone)


def _end_of_day_after(day: dt.date, days: int, zone: dt.tzinfo) -> dt.datetime:
    # Valid through the whole local day `day + days`; burns at the next local midnight.
    return _local_midnight(day + dt.timedelta(days=days + 1), zone)


def _next_fixed_date(dates: tuple[tuple[int, int], ...], day: dt.date) -> dt.date:
    for year in (day.year, day.year + 1):
        for month, month_day in dates:
            candidate = dt.date(year, month, month_day)
            if candidate > day:
                return candidate
    raise AssertionError("fixed expiry dates cover every year")  # pragma: no cover


def _program_expiry(p: CompiledProgram, local_day: dt.date, zone: dt.tzinfo) -> dt.datetime | None:
    if p.expiry_mode == "after_accrual":
        return _end_of_day_after(local_day, p.expiry_days, zone)
    if p.expiry_mode == "fixed_dates":
        return _local_midnight(_next_fixed_date(p.expiry_dates, local_day), zone)
    # "none", or "after_last_purchase": an account-level deadline the ledger moves on every
    # purchase (see expiry_deadline_after_last_purchase).
    return None


def _accrual_expiry(
    p: CompiledProgram, local_day: dt.date, zone: dt.tzinfo, validity_days: int | None
) -> dt.datetime | None:
    """Expiry of points accrued on `local_day`; memoized, as every sale of a day shares it."""
    key = (local_day, zone, validity_days)
    expires_at = p.expiry_memo.get(key, _NOT_YET)
    if expires_at is _NOT_YET:
        if validity_days is None:
            expires_at = _program_expiry(p, local_day, zone)
        else:
            expires_at = _end_of_day_after(local_day, validity_days, zone)
        if len(p.expiry_memo) >= _MEMO_LIMIT:
            p.expiry_memo.clear()
        p.expiry_memo[key] = expires_at
    return expires_at


def expires_at_for(
    program: ProgramConfig | CompiledProgram,
    accrued_at: dt.datetime,
    tz: str | dt.tzinfo,
    line_validity_days: int | None = None,
) -> dt.datetime | None:
    """When points accrued at `accrued_at` expire, or None if they don't on their own.

    `line_validity_days` (a rule's or a gift's own validity) wins over the program's mode.
    after_accrual N: 00:00 local after the N-th day following the accrual day.
    fixed_dates: 00:00 local on the next listed date strictly after the accrual day.
    after_last_purchase and none: None (the account-level deadline is separate).
    """
    zone = _zone(tz)
    local_day = _aware(accrued_at, "accrued_at").astimezone(zone).date()
    if line_validity_days is not None:
        return _end_of_day_after(local_day, line_validity_days, zone)
    return _program_expiry(compiled(program), local_day, zone)


def expiry_deadline_after_last_purchase(
    program: ProgramConfig | CompiledProgram, last_purchase_at: dt.datetime, tz: str | dt.tzinfo
) -> dt.datetime | None:
    """In "after_last_purchase" mode, when the whole balance burns if no purchase follows.

    Every purchase moves the deadline: 00:00 local after the N-th day following the local day
    of the last purchase. Other modes: None.
    """
    p = compiled(program)
    if p.expiry_mode != "after_last_purchase":
        return None
    zone = _zone(tz)
    local_day = _aware(last_purchase_at, "last_purchase_at").astimezone(zone).date()
    return _end_of_day_after(local_day, p.expiry_days, zone)


def available_at_for(
    program: ProgramConfig | CompiledProgram, accrued_at: dt.datetime, tz: str | dt.tzinfo
) -> dt.datetime:
    """When a purchase's accrual becomes spendable: N days of local wall-clock time later."""
    delay = compiled(program).activation_delay_days
    _aware(accrued_at, "accrued_at")
    if not delay:
        return accrued_at
    # Aware + timedelta is wall-clock arithmetic in the zone: 10:00 stays 10:00 across DST.
    return accrued_at.astimezone(_zone(tz)) + dt.timedelta(days=delay)


def welcome_lot(
    program: ProgramConfig | CompiledProgram, at: dt.datetime, tz: str | dt.tzinfo
) -> AccrualLot | None:
    """The welcome bonus for a member registered at `at`, or None when the program has none.

    Available at once; expires after `welcome_validity_days` if set, else as the program's
    expiry mode says.
    """
    p = compiled(program)
    if not p.welcome_bonus:
        return None
    return AccrualLot(
        points=p.welcome_bonus,
        available_at=_aware(at, "at"),
        expires_at=expires_at_for(p, at, tz, p.welcome_validity_days),
        validity_days=p.welcome_validity_days,
    )


def _birthday_in(birth_date: dt.date, year: int) -> dt.date:
    if birth_date.month == 2 and birth_date.day == 29 and not calendar.isleap(year):
        return dt.date(year, 2, 28)  # 29 February birthdays are kept on the 28th
    return dt.date(year, birth_date.month, birth_date.day)


def in_birthday_window(
    birth_date: dt.date, today: dt.date, days_before: int, days_after: int
) -> bool:
    """Whether local `today` lies within [birthday - days_before, birthday + days_after]."""
    today_n = today.toordinal()
    distance = today_n - _birthday_in(birth_date, today.year).toordinal()
    if -days_before <= distance <= days_after:
        return True
    # Near the new year the window may belong to last year's or next year's birthday.
    year = today.year - 1 if distance < 0 else today.year + 1
    distance = today_n - _birthday_in(birth_date, year).toordinal()
    return -days_before <= distance <= days_after


# --- tiers --------------------------------------------------------------------------------------


def _tier(p: CompiledProgram, code: str) -> CompiledTier:
    tier = p.tiers.get(code)
    if tier is None:
        raise QuoteError(f"unknown tier {code!r}")
    return tier


def tier_for_lifetime(
    program: ProgramConfig | CompiledProgram, lifetime_spend: int, current_tier: str
) -> str:
    """The tier a member should be in after their lifetime spend changed to `lifetime_spend`.

    - A member in a manual_only tier stays there: only staff move them.
    - Otherwise the earned tier is the last automatic tier whose threshold is reached.
    - tier_refund_policy "keep": never lower than the current tier (a refund that drops the
      lifetime spend below the threshold keeps the tier); "recalculate": the earned tier,
      which may be lower.
    """
    p = compiled(program)
    current = _tier(p, current_tier)
    if current.manual_only:
        return current.code
    earned = None
    for tier in p.tiers_in_order:
        if not tier.manual_only and tier.threshold <= lifetime_spend:
            earned = tier
    if earned is None:
        return current.code
    if p.tier_refund_policy == "keep" and current.rank > earned.rank:
        return current.code
    return earned.code


def next_tier(
    program: ProgramConfig | CompiledProgram, lifetime_spend: int, current_tier: str
) -> tuple[CompiledTier, int] | None:
    """The next automatic tier above the current one and the money still to spend, if any."""
    p = compiled(program)
    current = _tier(p, current_tier)
    if current.manual_only:
        return None
    for tier in p.tiers_in_order[current.rank + 1 :]:
        if not tier.manual_only and tier.threshold > lifetime_spend:
            return tier, tier.threshold - lifetime_spend
    return None


# --- hints --------------------------------------------------------------------------------------


def _by_local_day(
    lots: list[DatedPoints], zone: dt.tzinfo
) -> list[tuple[dt.date, int, dt.datetime]]:
    """(local day, points, earliest moment) per local day, in day order."""
    if len(lots) == 1:  # the usual case: no grouping needed
        points, moment = lots[0]
        return [(moment.astimezone(zone).date(), points, moment)]
    groups: dict[dt.date, tuple[int, dt.datetime]] = {}
    for points, moment in lots:
        day = moment.astimezone(zone).date()
        if day in groups:
            total, earliest = groups[day]
            groups[day] = (total + points, min(earliest, moment))
        else:
            groups[day] = (points, moment)
    return [(day, points, moment) for day, (points, moment) in sorted(groups.items())]


def _hints(
    p: CompiledProgram,
    member: MemberState,
    at: dt.datetime,
    zone: dt.tzinfo,
    today: dt.date,
    birthday_window: bool,
) -> tuple[Hint, ...]:
    hints = []
    birth_date = member.birth_date
    if birth_date is not None and _birthday_in(birth_date, today.year) == today:
        hints.append(Hint("birthday_today", {}))
    if birthday_window:
        hints.append(Hint("birthday_bonus", {"extra_percent_bp": p.birthday_bp}))
    upcoming = next_tier(p, member.lifetime_spend, member.tier_code)
    if upcoming is not None:
        tier, amount = upcoming
        hints.append(
            Hint(
                "amount_to_next_tier",
                {"tier_code": tier.code, "tier_name": tier.name, "amount": amount},
            )
        )
    if member.expiring_lots:
        horizon = at + dt.timedelta(days=p.expiry_warning_days)
        soon = [lot for lot in member.expiring_lots if lot.points > 0 and at < lot.at <= horizon]
        if soon:
            for day, points, moment in _by_local_day(soon, zone):
                # expires_at is a local midnight: the points are usable through the day before.
                hints.append(
                    Hint(
                        "points_expiring_soon",
                        {"points": points, "expires_at": moment, "days_left": (day - today).days},
                    )
                )
    if member.pending_lots:
        waiting = [lot for lot in member.pending_lots if lot.points > 0 and lot.at > at]
        if waiting:
            for _day, points, moment in _by_local_day(waiting, zone):
                hints.append(Hint("pending_activation", {"points": points, "available_at": moment}))
    return tuple(hints)


def hints_for(
    program: ProgramConfig | CompiledProgram,
    member: MemberState,
    at: dt.datetime,
    tz: str | dt.tzinfo,
) -> tuple[Hint, ...]:
    """Cashier hints for a member lookup (the same ones every quote carries)."""
    p = compiled(program)
    zone = _zone(tz)
    today = _aware(at, "at").astimezone(zone).date()
    return _hints(p, member, at, zone, today, _birthday_applies(p, member, today))


def _birthday_applies(p: CompiledProgram, member: MemberState, today: dt.date) -> bool:
    return (
        p.birthday_bp is not None
        and member.birth_date is not None
        and in_birthday_window(
            member.birth_date, today, p.birthday_days_before, p.birthday_days_after
        )
    )


# --- the quote ----------------------------------------------------------------------------------


def _bracket_bp(brackets: Brackets, total: int) -> int:
    # Brackets are few (2-5) and ascending: the last one whose start the total reaches.
    rate = 0
    for start, basis_points in brackets:
        if total < start:
            break
        rate = basis_points
    return rate


def _in_time_window(rule: CompiledRule, seconds: int) -> bool:
    start, end = rule.time_from, rule.time_to
    if start is not None and end is not None:
        if start < end:
            return start <= seconds < end
        return seconds >= start or seconds < end  # crosses midnight, e.g. 22:00-02:00
    if start is not None:
        return seconds >= start
    return seconds < end  # type: ignore[operator]


def _check_level_mask(
    p: CompiledProgram,
    ctx: QuoteContext,
    member: MemberState,
    local: dt.datetime,
    birthday_window: bool,
) -> int:
    """Bitmask of the rules whose check-level conditions hold for this sale."""
    mask = p.unconditional_mask
    if not p.conditional_rules:
        return mask
    today = local.date()
    weekday = local.isoweekday()
    seconds = local.hour * 3600 + local.minute * 60 + local.second
    store = None if ctx.store_id is None else str(ctx.store_id)
    cashier = None if ctx.cashier_id is None else str(ctx.cashier_id)
    for rule in p.conditional_rules:
        if rule.weekdays is not None and weekday not in rule.weekdays:
            continue
        if (rule.time_from is not None or rule.time_to is not None) and not _in_time_window(
            rule, seconds
        ):
            continue
        if rule.date_from is not None and today < rule.date_from:
            continue
        if rule.date_to is not None and today > rule.date_to:
            continue
        if rule.payment_methods is not None and ctx.payment_method not in rule.payment_methods:
            continue
        if rule.store_ids is not None and store not in rule.store_ids:
            continue
        if rule.cashier_ids is not None and cashier not in rule.cashier_ids:
            continue
        if rule.tiers is not None and member.tier_code not in rule.tiers:
            continue
        if rule.member_tags is not None and rule.member_tags.isdisjoint(member.tags):
            continue
        if rule.birthday_window is not None and rule.birthday_window != birthday_window:
            continue
        mask |= 1 << rule.position
    return mask


def _validated_amounts(lines: Sequence[BasketLine]) -> list[int]:
    amounts = []
    seen = set()
    for line in lines:
        if type(line.amount) is not int or line.amount < 0:
            raise QuoteError(f"line {line.line_id!r}: amount must be a non-negative int")
        if type(line.quantity) is not int or line.quantity < 1:
            raise QuoteError(f"line {line.line_id!r}: quantity must be an int >= 1")
        if line.line_id in seen:
            raise QuoteError(f"line {line.line_id!r} appears twice")
        seen.add(line.line_id)
        amounts.append(line.amount)
    return amounts


def _accrual(
    p: CompiledProgram,
    tier: CompiledTier,
    line_effects: list[LineEffects],
    amounts: list[int],
    after: list[int],
    redeem_money: list[int],
    total: int,
    birthday_window: bool,
    most_multipliers: int,
    has_fixed: bool,
) -> tuple[list[int], list[int], list[int]]:
    """Per line: the accrual base, the points, the stacked rate in bp (see the module doc)."""
    count = len(amounts)
    point_money, point_units = p.point_money, p.point_units
    if p.accrue_on_points_paid:
        bases = [0 if e.exclude else a for a, e in zip(after, line_effects, strict=True)]
    else:
        bases = [
            0 if e.exclude else a - r
            for a, r, e in zip(after, redeem_money, line_effects, strict=True)
        ]

    # The tier's scheme: a percent (progressive: the bracket of the whole check total), or
    # per_amount points spread over the lines it applies to (no set_percent, not excluded).
    scheme_bp = 0
    shares = [0] * count
    if tier.per_amount is None:
        scheme_bp = _bracket_bp(tier.accrual_brackets, total)
    else:
        points, per = tier.per_amount
        pool = [i for i in range(count) if bases[i] and line_effects[i].set_bp is None]
        pool_points = sum(bases[i] for i in pool) // per * points
        if pool_points:
            for i, share in zip(pool, split(pool_points, [bases[i] for i in pool]), strict=True):
                shares[i] = share

    # Exact points of a line: (base * pct / BP / rate + share) * multiplier, with
    # rate = point_money / point_units; as numerators over one common denominator
    # BP * point_money * HUNDRED ** most_multipliers.
    birthday_bp = p.birthday_bp if birthday_window else 0
    most = most_multipliers
    scale = HUNDRED**most
    cap_bp = p.cap_bp
    exact = [0] * count
    percent_bp = [0] * count
    for i in range(count):
        base = bases[i]
        if not base:
            continue
        effects = line_effects[i]
        pct = (scheme_bp if effects.set_bp is None else effects.set_bp) + effects.add_bp
        numerator = (base * (pct + birthday_bp) * point_units + shares[i] * BP * point_money) * (
            effects.multiplier * HUNDRED ** (most - effects.multiplier_count)
        )
        if cap_bp is not None:
            limit = base * cap_bp * point_units * scale
            if numerator > limit:
                numerator = limit
        exact[i] = numerator
        percent_bp[i] = numerator // (scale * point_units * base)
    accrual = apportion(exact, BP * point_money * scale, p.accrual_rounding)

    if not has_fixed:
        return bases, accrual, percent_bp
    # Fixed points come after the cap, are never multiplied, and skip excluded lines.
    per_check: dict[int, list[int]] = {}
    for i, effects in enumerate(line_effects):
        if effects.exclude:
            continue
        accrual[i] += effects.fixed_per_line
        for position in effects.per_check_rules:
            per_check.setdefault(position, []).append(i)
    for position, rule_lines in per_check.items():
        weights = [amounts[i] for i in rule_lines]
        if not any(weights):
            weights = [1] * len(rule_lines)
        fixed = p.rules[position].fixed_per_check
        for i, part in zip(rule_lines, split(fixed, weights), strict=True):
            accrual[i] += part
    return bases, accrual, percent_bp


def quote(
    program: ProgramConfig | CompiledProgram,
    member: MemberState,
    basket: Basket,
    ctx: QuoteContext,
) -> Quote:
    """Discount, redemption limits, spent points and accrual of `basket` for `member`; with
    `ctx.promo`, what the promo code adds (`Quote.promo`)."""
    p = compiled(program)
    promo = ctx.promo
    plain = _evaluate(p, member, basket, ctx)
    if promo is None:
        return plain
    if not isinstance(promo, Promo) or not isinstance(promo.rule, PromoRule):
        raise QuoteError("ctx.promo must be an engine.Promo with a config.PromoRule")
    if type(promo.min_check) is not int or promo.min_check < 0:
        raise QuoteError("promo.min_check must be a non-negative int")
    refusal = None
    if plain.amount_after_discount < promo.min_check:
        refusal = "min_check"
    else:
        with_promo = _evaluate(_with_promo(p, promo.code, promo.rule), member, basket, ctx)
        rule_code = PROMO_PREFIX + promo.code
        if promo.rule.product_groups is not None and not any(
            rule_code in line.rules for line in with_promo.lines
        ):
            refusal = "product_groups"
        elif with_promo.accrual_points <= plain.accrual_points:
            refusal = "nothing"
    if refusal is not None:
        plain.promo = PromoOutcome(promo.code, promo.ref, False, 0, refusal, promo.min_check)
        return plain
    with_promo.promo = PromoOutcome(
        promo.code, promo.ref, True, with_promo.accrual_points - plain.accrual_points, None,
        promo.min_check,
    )
    return with_promo


PROMO_PREFIX = "promo:"  # a promo code's rule is listed on the lines as "promo:<code>"
_PROMO_MEMO_LIMIT = 256  # promo rules remembered per program


def _with_promo(p: CompiledProgram, code: str, rule: PromoRule) -> CompiledProgram:
    """`p` with the promo code's rule appended as its last (lowest-priority) rule, so it
    stacks with the program's own rules exactly as a rule of the program would: its multiplier
    multiplies, its percent adds, the cap and exclusions hold. Compiled once per (program,
    code, rule) and remembered."""
    key = (code, rule)
    found = p.promo_memo.get(key)
    if found is not None:
        return found
    extra = CompiledRule(
        code=PROMO_PREFIX + code, position=len(p.rules), weekdays=None, time_from=None,
        time_to=None, date_from=None, date_to=None, payment_methods=None, store_ids=None,
        cashier_ids=None, tiers=None, member_tags=None, birthday_window=None,
        product_groups=_texts(rule.product_groups), skus=None,
        multiply=None if rule.multiply_accrual is None else to_hundredths(rule.multiply_accrual),
        add_bp=0 if rule.add_percent is None else to_basis_points(rule.add_percent),
        set_bp=None, fixed_per_line=0, fixed_per_check=rule.fixed_points or 0,
        max_redeem_bp=None, exclude=False, validity_days=None,
    )
    rules = (*p.rules, extra)
    group_masks, any_group_mask = _line_masks(rules, "product_groups")
    sku_masks, any_sku_mask = _line_masks(rules, "skus")
    found = replace(
        p, rules=rules, unconditional_mask=p.unconditional_mask | 1 << extra.position,
        group_masks=group_masks, any_group_mask=any_group_mask, sku_masks=sku_masks,
        any_sku_mask=any_sku_mask, effects_memo={}, expiry_memo=p.expiry_memo, promo_memo={},
    )
    if len(p.promo_memo) >= _PROMO_MEMO_LIMIT:
        p.promo_memo.clear()
    p.promo_memo[key] = found
    return found


def _evaluate(
    program: ProgramConfig | CompiledProgram,
    member: MemberState,
    basket: Basket,
    ctx: QuoteContext,
) -> Quote:
    """The quote without a promo code (`ctx.promo` is the caller's business)."""
    p = compiled(program)
    tier = _tier(p, member.tier_code)
    at = _aware(ctx.at, "ctx.at")
    zone = _zone(ctx.tz)
    local = at.astimezone(zone)
    today = local.date()
    requested = ctx.points_to_spend
    if type(requested) is not int or requested < 0:
        raise QuoteError("points_to_spend must be a non-negative int")

    lines = basket.lines
    count = len(lines)
    amounts = _validated_amounts(lines)
    total = sum(amounts)
    zeros = [0] * count
    birthday_window = _birthday_applies(p, member, today)

    # 1. Rules: check-level conditions once, line-level ones (group, SKU) per line as bitmask
    # ANDs; the effects of each combination of rules are stacked once per program (memoized).
    line_effects = [NO_EFFECTS] * count
    most_multipliers = 0  # the largest number of multipliers on one line
    has_fixed = False  # any fixed points to add
    check_mask = _check_level_mask(p, ctx, member, local, birthday_window) if p.rules else 0
    if check_mask:
        group_masks, any_group = p.group_masks, p.any_group_mask
        sku_masks, any_sku = p.sku_masks, p.any_sku_mask
        for i, line in enumerate(lines):
            mask = (
                check_mask
                & group_masks.get(line.product_group, any_group)
                & sku_masks.get(line.sku, any_sku)
            )
            if mask:
                effects = line_effects[i] = _effects(p, mask)
                most_multipliers = max(most_multipliers, effects.multiplier_count)
                has_fixed = has_fixed or effects.has_fixed

    # 2. Discount: one rounding for the check, split exactly over the lines.
    discounts = zeros
    discount_total = 0
    if p.discounts and tier.discount_brackets and total:
        rate = _bracket_bp(tier.discount_brackets, total)
        discounts = apportion([amount * rate for amount in amounts], BP, p.discount_rounding)
        discount_total = sum(discounts)
    after = [amounts[i] - discounts[i] for i in range(count)]
    after_total = total - discount_total

    # 3. Redemption: line capacities, the check limit, whole points only.
    point_money, point_units = p.point_money, p.point_units
    capacity = zeros
    max_redeem_money = max_redeem_points = spent = spent_money = 0
    redeem_money = redeem_points = zeros
    if p.redeems:
        default_bp = p.max_redeem_bp
        capacity = [
            amount * (default_bp if effects.max_redeem_bp is None else effects.max_redeem_bp) // BP
            for amount, effects in zip(after, line_effects, strict=True)
        ]
        max_redeem_money = min(sum(capacity), after_total * default_bp // BP)
        max_redeem_points = max_redeem_money * point_units // point_money
        spent = min(requested, max_redeem_points, max(member.available_points, 0))
        spent_money = spent * point_money // point_units
        # Spend no point that buys nothing (possible when a point is worth < 1 minor unit).
        spent = -(-spent_money * point_units // point_money)
        if spent:
            redeem_money = split(spent_money, capacity)
            redeem_points = redeem_money if spent == spent_money else split(spent, capacity)

    # 4. Accrual (none for a check below the program's minimum, after the discount).
    if p.accrues and count and after_total >= p.config.min_check_for_accrual:
        bases, accrual, percent_bp = _accrual(
            p,
            tier,
            line_effects,
            amounts,
            after,
            redeem_money,
            total,
            birthday_window,
            most_multipliers,
            has_fixed,
        )
    else:
        bases = accrual = percent_bp = zeros

    # 5. Lots: one per distinct validity, all activated after the delay.
    delay = p.activation_delay_days
    available_at = local + dt.timedelta(days=delay) if delay else at
    lot_points: dict[int | None, int] = {}
    expires = []
    for effects, points in zip(line_effects, accrual, strict=True):
        validity_days = effects.validity_days
        expires.append(_accrual_expiry(p, today, zone, validity_days))
        if points:
            lot_points[validity_days] = lot_points.get(validity_days, 0) + points
    accrual_lots = [
        AccrualLot(
            points, available_at, _accrual_expiry(p, today, zone, validity_days), validity_days
        )
        for validity_days, points in lot_points.items()
    ]
    if len(accrual_lots) > 1:  # soonest expiry first, never-expiring last
        accrual_lots.sort(key=lambda lot: (lot.expires_at is None, lot.expires_at or at))
    accrual_total = sum(accrual)

    # Positional arguments in QuoteLine's field order: keywords cost twice as much here.
    quote_lines = tuple(
        QuoteLine(
            line.line_id,
            amount,
            discount,
            amount_after,
            line_capacity,
            line_redeem_money,
            line_redeem_points,
            base,
            points,
            rate_bp,
            effects.validity_days,
            expires_at,
            effects.codes,
        )
        for (
            line,
            amount,
            discount,
            amount_after,
            line_capacity,
            line_redeem_money,
            line_redeem_points,
            base,
            points,
            rate_bp,
            effects,
            expires_at,
        ) in zip(
            lines,
            amounts,
            discounts,
            after,
            capacity,
            redeem_money,
            redeem_points,
            bases,
            accrual,
            percent_bp,
            line_effects,
            expires,
            strict=True,
        )
    )
    return Quote(
        tier_code=tier.code,
        total=total,
        discount=discount_total,
        amount_after_discount=after_total,
        max_redeem_money=max_redeem_money,
        max_redeem_points=max_redeem_points,
        points_requested=requested,
        points_spent=spent,
        points_spent_money=spent_money,
        payable=after_total - spent_money,
        accrual_points=accrual_total,
        accrual_lots=tuple(accrual_lots),
        available_at=available_at,
        effective_accrual_bp=(
            accrual_total * point_money * BP // (point_units * total) if total else 0
        ),
        in_birthday_window=birthday_window,
        redeem_requires_code=p.redeem_requires_code,
        lines=quote_lines,
        hints=_hints(p, member, at, zone, today, birthday_window),
    )
