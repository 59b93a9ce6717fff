"""Program configuration: what a merchant sets up, validated once.

`ProgramConfig` is the single description of a loyalty program (type, tiers, accrual and
discount schemes, redemption limits, expiry, rules). It is stored as JSON on the program and
validated with Pydantic v2 on every load; `kopilka.programs.engine.compile_program` turns a
validated config into the integer form the engine evaluates.

Conventions (see docs/rules.md for the full semantics):

- Money and points are integers in minor units (`"threshold": 500000` is 5 000.00).
- Percentages and multipliers are exact decimals: ints or strings such as "2.5"; at most two
  decimal places. Floats are rejected (a JSON number 2.5 is a float: write "2.5").
- Integer fields reject bools and numeric strings; boolean fields reject 0/1 and "true".
- Every validation error carries the field's location (Pydantic `loc`), and cross-field errors
  name the offending item in the message (`tiers[2].threshold ...`).
"""

import re
from datetime import date, time
from decimal import Decimal
from functools import cached_property
from typing import Annotated, Literal

from babel.numbers import format_decimal
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from kopilka.core.money import exact_decimal


def _exact(value: object) -> object:
    """Let only exact numbers through to Decimal validation (Pydantic's lax mode takes floats)."""
    if isinstance(value, (bool, float)):
        raise ValueError(
            f'must be an integer or a decimal string such as "2.5", not {type(value).__name__}'
        )
    return value


def _date_text(value: object) -> object:
    # Dates come as "YYYY-MM-DD" strings (or date objects); a bare int would be read as a
    # Unix timestamp by Pydantic's lax mode.
    if isinstance(value, (int, float)):
        raise ValueError('must be a date string "YYYY-MM-DD"')
    return value


def _time_text(value: object) -> object:
    if isinstance(value, (int, float)):
        raise ValueError('must be a local time string "HH:MM"')
    return value


def _not_empty[T](items: tuple[T, ...]) -> tuple[T, ...]:
    # Not Field(min_length=1): Pydantic would also call a list "too short" when an item is
    # merely invalid, which sends the reader the wrong way.
    if not items:
        raise ValueError("must not be empty")
    return items


Percent = Annotated[Decimal, BeforeValidator(_exact), Field(ge=0, le=100, decimal_places=2)]
Multiplier = Annotated[Decimal, BeforeValidator(_exact), Field(ge=0, le=100, decimal_places=2)]
Money = Annotated[StrictInt, Field(ge=0)]
Points = Annotated[StrictInt, Field(ge=0)]
Days = Annotated[StrictInt, Field(ge=1, le=3650)]
Code = Annotated[StrictStr, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
Label = Annotated[StrictStr, Field(min_length=1, max_length=200)]
Word = Annotated[StrictStr, Field(min_length=1, max_length=50)]
Ident = StrictStr | StrictInt  # store / cashier ids: compared as text
Rounding = Literal["down", "half_up", "up"]

LocalDate = Annotated[date, BeforeValidator(_date_text)]
LocalTime = Annotated[time, BeforeValidator(_time_text)]


class Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )


# --- bonus currency -----------------------------------------------------------------------------


class SlavicForms(Model):
    """Plural forms for Russian and Ukrainian: 1 бонус, 2 бонуса, 5 бонусов."""

    one: Word
    few: Word
    many: Word


class EnglishForms(Model):
    one: Word
    other: Word


class CurrencyNames(Model):
    ru: SlavicForms = SlavicForms(one="бонус", few="бонуса", many="бонусов")
    uk: SlavicForms = SlavicForms(one="бонус", few="бонуси", many="бонусів")
    en: EnglishForms = EnglishForms(one="bonus", other="bonuses")

    def word(self, language: str, points: int, precision: int) -> str:
        """The currency word that goes with `points` minor units ("1 булавка", "5 булавок")."""
        whole, fraction = divmod(abs(points), 10**precision)
        if language == "en":
            return self.en.one if (whole == 1 and not fraction) else self.en.other
        forms = self.uk if language == "uk" else self.ru
        if fraction:
            return forms.few  # "1,5 бонуса", "29,97 бонуса"
        if whole % 10 == 1 and whole % 100 != 11:
            return forms.one
        if 2 <= whole % 10 <= 4 and not 12 <= whole % 100 <= 14:
            return forms.few
        return forms.many


def points_number(points: int, precision: int, locale: str) -> str:
    """`points` minor units as a number in `locale` (Babel): 7550 with precision 2 is "75.5"
    (en) or "75,5" (ru); a whole amount has no decimals ("150"), a fraction only the digits it
    needs, as the messages and the receipt say it."""
    value = Decimal(points).scaleb(-precision)
    return format_decimal(value if value % 1 else int(value), locale=locale)


def points_text(points: int, precision: int, names: CurrencyNames, locale: str) -> str:
    """The number and the currency word that goes with it: "75,5\u00a0бонуса", "1\u00a0bonus".
    The space is non-breaking so a figure never wraps away from its word."""
    language = locale.replace("-", "_").split("_")[0]
    word = names.word(language, points, precision)
    return f"{points_number(points, precision, locale)}\u00a0{word}"


class PointValue(Model):
    """Exchange rate: `points` point minor units are worth `money` money minor units.

    Also accepted as one exact number, money minor units per ONE point minor unit:
    "10" (1 pin = 0.10 UAH with whole pins), "0.5", 1 — stored as its exact ratio of two
    integers ("0.5" -> 1 money per 2 points).
    """

    money: Annotated[StrictInt, Field(gt=0)] = 1
    points: Annotated[StrictInt, Field(gt=0)] = 1

    @model_validator(mode="before")
    @classmethod
    def _from_number(cls, data: object) -> object:
        if isinstance(data, (bool, float)):
            raise ValueError(
                'point_value must be an integer, a decimal string such as "0.5" '
                'or {"money": M, "points": P}'
            )
        if isinstance(data, (int, str, Decimal)):
            value = exact_decimal(data, "point_value")
            if value <= 0:
                raise ValueError("point_value must be positive")
            money, points = value.as_integer_ratio()
            return {"money": money, "points": points}
        return data


# --- accrual and discount schemes ---------------------------------------------------------------


class Bracket(Model):
    """A progressive step: checks whose total is at least `from` get `percent` on the whole."""

    from_amount: Money = Field(alias="from")
    percent: Percent


def _check_brackets(brackets: tuple[Bracket, ...]) -> tuple[Bracket, ...]:
    # Emptiness is checked here, not with min_length: Pydantic would also report "too short"
    # when an item is merely invalid.
    if not brackets:
        raise ValueError("at least one bracket is required")
    if brackets[0].from_amount != 0:
        raise ValueError("brackets[0].from must be 0 so every check falls into a bracket")
    for i in range(1, len(brackets)):
        if brackets[i].from_amount <= brackets[i - 1].from_amount:
            raise ValueError(
                f"brackets[{i}].from must be greater than brackets[{i - 1}].from "
                f"({brackets[i - 1].from_amount})"
            )
    return brackets


class PercentAccrual(Model):
    kind: Literal["percent"]
    percent: Percent


class PerAmountAccrual(Model):
    """`points` point minor units for every FULL `per` money minor units of the check."""

    kind: Literal["per_amount"]
    points: Annotated[StrictInt, Field(gt=0)]
    per: Annotated[StrictInt, Field(gt=0)]


class ProgressiveAccrual(Model):
    kind: Literal["progressive"]
    brackets: tuple[Bracket, ...]

    _ordered = field_validator("brackets")(_check_brackets)


AccrualScheme = Annotated[
    PercentAccrual | PerAmountAccrual | ProgressiveAccrual, Field(discriminator="kind")
]


class NoDiscount(Model):
    kind: Literal["none"]


class PercentDiscount(Model):
    kind: Literal["percent"]
    percent: Percent


class ProgressiveDiscount(Model):
    kind: Literal["progressive"]
    brackets: tuple[Bracket, ...]

    _ordered = field_validator("brackets")(_check_brackets)


DiscountScheme = Annotated[
    NoDiscount | PercentDiscount | ProgressiveDiscount, Field(discriminator="kind")
]


# --- tiers --------------------------------------------------------------------------------------


class Tier(Model):
    code: Code
    name: Label
    #: Lifetime spend (money minor units) that upgrades a member here automatically.
    threshold: Money = 0
    accrual: AccrualScheme | None = None
    discount: DiscountScheme = NoDiscount(kind="none")
    #: New members start in this tier (exactly one; the first tier when none is marked).
    start: StrictBool = False
    #: Only staff can put a member here; lifetime spend never moves a member in or out.
    manual_only: StrictBool = False


# --- expiry -------------------------------------------------------------------------------------


class NoExpiry(Model):
    mode: Literal["none"]


class ExpiryAfterAccrual(Model):
    mode: Literal["after_accrual"]
    days: Days


class ExpiryAfterLastPurchase(Model):
    mode: Literal["after_last_purchase"]
    days: Days


_MONTH_DAY = re.compile(r"^(\d\d)-(\d\d)$")
_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # 02-29 is not allowed


class ExpiryFixedDates(Model):
    """Points burn at 00:00 local on the next of these calendar dates ("MM-DD")."""

    mode: Literal["fixed_dates"]
    dates: Annotated[tuple[StrictStr, ...], AfterValidator(_not_empty)]

    @field_validator("dates")
    @classmethod
    def _month_days(cls, dates: tuple[str, ...]) -> tuple[str, ...]:
        for i, text in enumerate(dates):
            match = _MONTH_DAY.match(text)
            month, day = (int(match[1]), int(match[2])) if match else (0, 0)
            if not (1 <= month <= 12 and 1 <= day <= _DAYS_IN_MONTH[month - 1]):
                raise ValueError(
                    f'dates[{i}] must be a calendar date "MM-DD" (02-29 is not allowed): {text!r}'
                )
        if len(set(dates)) != len(dates):
            raise ValueError("dates must not repeat")
        return tuple(sorted(dates))


Expiry = Annotated[
    NoExpiry | ExpiryAfterAccrual | ExpiryAfterLastPurchase | ExpiryFixedDates,
    Field(discriminator="mode"),
]


class Birthday(Model):
    """Extra accrual around the member's birthday, in the merchant's time zone."""

    extra_percent: Percent
    days_before: Annotated[StrictInt, Field(ge=0, le=31)] = 0
    days_after: Annotated[StrictInt, Field(ge=0, le=31)] = 0


class BirthdayGift(Model):
    """Points given on the member's birthday (the merchant's local date), once a year."""

    points: Annotated[StrictInt, Field(gt=0)]
    #: The gift is spendable through the birthday plus this many days.
    validity_days: Days


class Gift(Model):
    """Points automation gives on an occasion (a first purchase, a relative's birthday, a step
    of an inactivity chain), with their own validity."""

    points: Annotated[StrictInt, Field(gt=0)]
    #: Spendable through the day of the gift plus this many days.
    validity_days: Days


class Transfers(Model):
    """Members sending points to each other (ENG-12); processing enforces the limits."""

    enabled: StrictBool = False
    #: Smallest transfer, in point minor units.
    min_points: Annotated[StrictInt, Field(ge=1)] = 1
    #: Largest single transfer; None = no limit.
    max_points: Annotated[StrictInt, Field(ge=1)] | None = None
    #: Most a member may send within 24 hours; None = no limit.
    max_points_per_day: Annotated[StrictInt, Field(ge=1)] | None = None
    #: The sender confirms each transfer from the wallet with a one-time code sent to their
    #: phone (the spending code: a transfer spends points).
    confirm_by_code: StrictBool = False

    @model_validator(mode="after")
    def _ordered(self) -> "Transfers":
        if self.max_points is not None and self.max_points < self.min_points:
            raise ValueError("max_points must not be below min_points")
        return self


# --- rules --------------------------------------------------------------------------------------


Texts = Annotated[tuple[StrictStr, ...], AfterValidator(_not_empty)]
Idents = Annotated[tuple[Ident, ...], AfterValidator(_not_empty)]
Weekdays = Annotated[
    tuple[Annotated[StrictInt, Field(ge=1, le=7)], ...], AfterValidator(_not_empty)
]


class Conditions(Model):
    """All given conditions must hold; an omitted condition always holds."""

    product_groups: Texts | None = None
    skus: Texts | None = None
    weekdays: Weekdays | None = None
    #: Local time of the purchase, start inclusive, end exclusive; from > to crosses midnight.
    time_from: LocalTime | None = None
    time_to: LocalTime | None = None
    #: Local dates, both inclusive.
    date_from: LocalDate | None = None
    date_to: LocalDate | None = None
    payment_methods: Texts | None = None
    store_ids: Idents | None = None
    cashier_ids: Idents | None = None
    tiers: Texts | None = None
    member_tags_any: Texts | None = None
    #: True: only inside the program's birthday window; False: only outside it.
    birthday_window: StrictBool | None = None

    @model_validator(mode="after")
    def _ranges(self) -> "Conditions":
        if self.time_from is not None and self.time_from == self.time_to:
            raise ValueError("time_from and time_to must differ (omit both for the whole day)")
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError("date_from must not be after date_to")
        for name in ("time_from", "time_to"):
            value = getattr(self, name)
            if value is not None and (value.tzinfo is not None or value.microsecond):
                raise ValueError(f"{name} must be a local wall-clock time such as 09:00")
        return self


class Effects(Model):
    """What a matching rule does to each matching line (see docs/rules.md for stacking)."""

    #: Multiplies the line's accrual percent (e.g. 2 = double bonuses); several multiply.
    multiply_accrual: Multiplier | None = None
    #: Adds percentage points to the line's accrual percent; several add up.
    add_percent: Percent | None = None
    #: Replaces the tier's accrual percent for the line; the highest-priority rule wins.
    set_percent: Percent | None = None
    #: Points added to each matching line (after the cap, never multiplied).
    fixed_points_per_line: Points | None = None
    #: Points added once per check when any line matches, spread over the matching lines.
    fixed_points_per_check: Points | None = None
    #: Share of the line payable with points; 0 = not payable. Highest-priority rule wins.
    max_redeem_percent: Percent | None = None
    #: The line earns nothing at all (no percent, no per-amount share, no fixed points).
    exclude_from_accrual: StrictBool = False
    #: Own validity of the points this line creates; highest-priority rule wins.
    points_validity_days: Days | None = None

    @model_validator(mode="after")
    def _does_something(self) -> "Effects":
        if not self.exclude_from_accrual and all(
            getattr(self, name) is None
            for name in Effects.model_fields
            if name != "exclude_from_accrual"
        ):
            raise ValueError("a rule needs at least one effect")
        return self


class Rule(Model):
    code: Code
    name: Label
    active: StrictBool = True
    #: Higher wins where only one rule can (set_percent, max_redeem_percent, validity);
    #: equal priorities: the rule listed first wins.
    priority: StrictInt = 0
    conditions: Conditions = Conditions()
    effects: Effects


# --- promo codes (CMP, campaigns.promo) ----------------------------------------------------------


class PromoRule(Model):
    """What a promo code switches on for the one purchase it is given with: one accrual effect
    the program's rules can express, optionally on the lines of some product groups only.

    The engine evaluates it as one more rule of the program, after the program's own rules:
    a multiplier multiplies the line's stacked percent (×2 on a 5 % program: 10 %), an extra
    percent adds to it, fixed points are given once per check, spread over the matching lines;
    the program's cap (`max_total_accrual_percent`) and `exclude_from_accrual` still hold.
    """

    #: Multiplies the matching lines' accrual percent (2 = double points).
    multiply_accrual: Multiplier | None = None
    #: Percentage points added to the matching lines' accrual percent.
    add_percent: Percent | None = None
    #: Points added once to the check (spread over the matching lines); never multiplied.
    fixed_points: Annotated[StrictInt, Field(gt=0)] | None = None
    #: Only lines of these product groups; None = the whole check.
    product_groups: Texts | None = None

    @model_validator(mode="after")
    def _one_effect(self) -> "PromoRule":
        given = [name for name in ("multiply_accrual", "add_percent", "fixed_points")
                 if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("a promo rule needs exactly one of multiply_accrual, add_percent, "
                             "fixed_points")
        if self.multiply_accrual is not None and self.multiply_accrual <= 1:
            raise ValueError("multiply_accrual must be more than 1")
        if self.add_percent is not None and self.add_percent <= 0:
            raise ValueError("add_percent must be more than 0")
        return self


# --- inactivity chains (AUT-2) ------------------------------------------------------------------


Tag = Annotated[StrictStr, Field(min_length=1, max_length=40)]  # as members' tags are


class NewSegment(Model):
    """Members who registered and never bought (their absence counts from registration)."""

    kind: Literal["new"]


class OneTimeSegment(Model):
    """Members with exactly one purchase."""

    kind: Literal["one_time"]


class RegularSegment(Model):
    """Members with two purchases or more."""

    kind: Literal["regular"]


class VipSegment(Model):
    """Members whose lifetime spend reached `min_spend`, or who carry `tag` (either given)."""

    kind: Literal["vip"]
    min_spend: Annotated[StrictInt, Field(gt=0)] | None = None
    tag: Tag | None = None

    @model_validator(mode="after")
    def _says_who(self) -> "VipSegment":
        if self.min_spend is None and self.tag is None:
            raise ValueError("a vip segment needs min_spend, tag or both")
        return self


class TierSegment(Model):
    kind: Literal["tier"]
    tier: Code


class TagSegment(Model):
    kind: Literal["tag"]
    tag: Tag


class AllSegment(Model):
    kind: Literal["all"]


Segment = Annotated[
    NewSegment | OneTimeSegment | RegularSegment | VipSegment | TierSegment | TagSegment
    | AllSegment,
    Field(discriminator="kind"),
]

MessageText = Annotated[StrictStr, Field(min_length=1, max_length=1000)]  # an SMS's worth


class StepMessage(Model):
    """A chain step's own text per language, with the message templates' placeholders."""

    ru: MessageText | None = None
    uk: MessageText | None = None
    en: MessageText | None = None

    @field_validator("ru", "uk", "en")
    @classmethod
    def _known_placeholders(cls, text: str | None, info: ValidationInfo) -> str | None:
        # Imported here: the engine imports this module and loads no Django (placeholders'
        # messages are translated).
        from kopilka.core import placeholders
        from kopilka.core.errors import InvalidInput

        if text is not None:
            try:
                placeholders.check(text, info.field_name)
            except InvalidInput as error:  # the templates' own check and wording
                raise ValueError(error.detail) from None
        return text

    @model_validator(mode="after")
    def _some_text(self) -> "StepMessage":
        if not (self.ru or self.uk or self.en):
            raise ValueError("a message needs a text in at least one language (ru, uk, en)")
        return self

    def text(self, language: str) -> tuple[str, str]:
        """(language, text): the text in `language`, or else the first one given (ru, uk,
        en), so figures are written in the language the text is in."""
        for candidate in (language, "ru", "uk", "en"):
            text = getattr(self, candidate, None)
            if text:
                return candidate, text
        raise AssertionError("validated: at least one text")  # pragma: no cover


class ChainStep(Model):
    #: The step is due once the member has not bought for this many days.
    after_days: Days
    #: The step's own text; without one a gift is told with the `gift` template.
    message: StepMessage | None = None
    gift: Gift | None = None

    @model_validator(mode="after")
    def _does_something(self) -> "ChainStep":
        if self.message is None and self.gift is None:
            raise ValueError("a step needs a message, a gift or both")
        return self


class Chain(Model):
    """Ordered steps for the members of a segment who stopped buying (AUT-2)."""

    code: Code
    name: Label
    segment: Segment
    steps: Annotated[tuple[ChainStep, ...], Field(max_length=10), AfterValidator(_not_empty)]

    @field_validator("steps")
    @classmethod
    def _in_order(cls, steps: tuple[ChainStep, ...]) -> tuple[ChainStep, ...]:
        for i in range(1, len(steps)):
            if steps[i].after_days <= steps[i - 1].after_days:
                raise ValueError(
                    f"steps[{i}].after_days must be greater than steps[{i - 1}].after_days "
                    f"({steps[i - 1].after_days})"
                )
        return steps


# --- referrals (CMP-3), rolling tiers ------------------------------------------------------------


class ReferralLevel(Model):
    """The reward of one level up the chain (level 1: whoever recommended the buyer, level 2:
    whoever recommended them, ...): `percent` of the basis, or fixed `points`."""

    percent: Percent | None = None
    points: Annotated[StrictInt, Field(gt=0)] | None = None


class ReferralProgram(Model):
    """Members bring friends (CMP-3): the newcomer's gift for registering by a recommendation,
    the referrer's reward for the friend's purchases, invite-only registration."""

    #: Points the newcomer gets for registering with a referrer, once.
    newcomer_gift: Gift | None = None
    #: What a referrer's percent is of: "purchase" — the friend's check (after the discount,
    #: less what the friend paid with points) converted at the point value; "points" — the
    #: points the friend earned with it; "fixed" — each level's `points` per purchase.
    basis: Literal["purchase", "points", "fixed"] = "purchase"
    #: Level 1 first; at most five levels.
    levels: Annotated[tuple[ReferralLevel, ...], Field(max_length=5),
                      AfterValidator(_not_empty)]
    #: "first_purchase": only the friend's first purchase rewards; "days": every purchase
    #: within `days` days of the friend's registration.
    period: Literal["first_purchase", "days"] = "first_purchase"
    days: Days | None = None
    #: Own validity of reward points (and of the newcomer's gift: its own validity_days).
    validity_days: Days | None = None
    #: Registration needs a referrer (a member's code, phone or card) who may invite.
    invite_only: StrictBool = False
    #: Points a member must have earned by purchases before they may invite (0: at once).
    invite_after_points: Points = 0

    @model_validator(mode="after")
    def _consistent(self) -> "ReferralProgram":
        for i, level in enumerate(self.levels):
            if self.basis == "fixed":
                if level.points is None or level.percent is not None:
                    raise ValueError(f"levels[{i}] needs points (and no percent) with basis "
                                     "\"fixed\"")
            elif level.percent is None or level.points is not None:
                raise ValueError(f"levels[{i}] needs percent (and no points) with basis "
                                 f"{self.basis!r}")
        if self.period == "days" and self.days is None:
            raise ValueError('days is required with period "days"')
        if self.period == "first_purchase" and self.days is not None:
            raise ValueError('days must be omitted with period "first_purchase"')
        return self


class TierWindow(Model):
    """Tiers follow the spend of the last `months` months instead of the lifetime spend: a
    purchase moves a member up at once; the daily job moves them down once their spend in the
    window has been below their tier's threshold for `grace_days` days."""

    months: Annotated[StrictInt, Field(ge=1, le=36)]
    grace_days: Annotated[StrictInt, Field(ge=0, le=365)] = 0


# --- the program --------------------------------------------------------------------------------


class ProgramConfig(Model):
    #: "bonus": accrual only; "discount": discount only; "hybrid": both (ENG-1).
    type: Literal["bonus", "discount", "hybrid"]
    currency_names: CurrencyNames = CurrencyNames()
    point_value: PointValue = PointValue()
    #: Decimal places of points when shown (2: 2997 points minor = 29.97).
    points_precision: Annotated[StrictInt, Field(ge=0, le=2)] = 2
    accrual_rounding: Rounding = "down"
    discount_rounding: Rounding = "down"
    #: False: the part of the check paid with points earns nothing.
    accrue_on_points_paid: StrictBool = False
    #: Share of the check (after discount) payable with points.
    max_redeem_percent: Percent = Decimal(100)
    redeem_requires_code: StrictBool = False
    #: Purchase accruals become spendable this many days after the purchase.
    activation_delay_days: Annotated[StrictInt, Field(ge=0, le=365)] = 0
    expiry: Expiry = NoExpiry(mode="none")
    #: Cashier hint "points expire soon" looks this many days ahead.
    expiry_warning_days: Annotated[StrictInt, Field(ge=0, le=365)] = 7
    welcome_bonus: Points = 0
    welcome_validity_days: Days | None = None
    birthday: Birthday | None = None
    birthday_gift: BirthdayGift | None = None
    #: Points given with the first purchase, once per member (processing, at the counter).
    first_purchase_gift: Gift | None = None
    #: Points given to a member who registers themselves by the merchant's link or QR poster
    #: (the wallet's /my/join/), once, on top of the welcome bonus.
    self_registration_gift: Gift | None = None
    #: Points given on each relative's birthday, once a year per relative (a daily job).
    relative_birthday_gift: Gift | None = None
    #: Members are messaged this many days before their points expire; 0 = no reminders.
    expiry_reminder_days: Annotated[StrictInt, Field(ge=0, le=365)] = 7
    #: Cap on the combined accrual percent of a line, applied after all rules; None = no cap.
    max_total_accrual_percent: Percent | None = None
    #: Sending points to another member (ENG-12); None = not allowed.
    transfers: Transfers | None = None
    #: "keep": a reached tier stays after a refund; "recalculate": refunds can move a member down.
    tier_refund_policy: Literal["keep", "recalculate"] = "keep"
    tiers: Annotated[tuple[Tier, ...], Field(max_length=50)]
    rules: Annotated[tuple[Rule, ...], Field(max_length=200)] = ()
    #: Inactivity chains; a member follows the first chain whose segment holds them.
    chains: Annotated[tuple[Chain, ...], Field(max_length=20)] = ()
    #: A purchase this many days after a win-back message or gift counts as won back.
    winback_window_days: Days = 30
    #: Referral program (CMP-3); None = none.
    referral: ReferralProgram | None = None
    #: Checks below this amount (after the discount, money minor units) earn no points.
    min_check_for_accrual: Money = 0
    #: Tiers on a rolling window of spend with downgrade; None = tiers follow lifetime spend.
    tier_window: TierWindow | None = None

    @field_validator("tiers")
    @classmethod
    def _tiers_consistent(cls, tiers: tuple[Tier, ...], info: ValidationInfo) -> tuple[Tier, ...]:
        if not tiers:
            raise ValueError("at least one tier is required")
        program_type = info.data.get("type")
        seen: set[str] = set()
        previous: Tier | None = None
        for i, tier in enumerate(tiers):
            if tier.code in seen:
                raise ValueError(f"tiers[{i}].code {tier.code!r} is used twice")
            seen.add(tier.code)
            if program_type in ("bonus", "hybrid") and tier.accrual is None:
                raise ValueError(f"tiers[{i}].accrual is required in a {program_type} program")
            if program_type == "discount" and tier.accrual is not None:
                raise ValueError(f"tiers[{i}].accrual must be omitted in a discount program")
            if program_type == "bonus" and tier.discount.kind != "none":
                raise ValueError(
                    f'tiers[{i}].discount must be {{"kind": "none"}} in a bonus program'
                )
            if tier.manual_only:
                if tier.threshold:
                    raise ValueError(
                        f"tiers[{i}].threshold must be 0: a manual_only tier is never reached "
                        "by spending"
                    )
                continue
            if previous is None and tier.threshold != 0:
                raise ValueError(
                    f"tiers[{i}].threshold must be 0: the first automatic tier is where "
                    "lifetime spend starts"
                )
            if previous is not None and tier.threshold <= previous.threshold:
                raise ValueError(
                    f"tiers[{i}].threshold must be greater than the previous automatic tier's "
                    f"({previous.threshold})"
                )
            previous = tier
        starts = [i for i, tier in enumerate(tiers) if tier.start]
        if len(starts) > 1:
            raise ValueError(f"only one tier can be the start tier; tiers{starts} are marked")
        return tiers

    @field_validator("rules")
    @classmethod
    def _rules_consistent(cls, rules: tuple[Rule, ...], info: ValidationInfo) -> tuple[Rule, ...]:
        tier_codes = {tier.code for tier in info.data.get("tiers", ())}
        seen: set[str] = set()
        for i, rule in enumerate(rules):
            if rule.code in seen:
                raise ValueError(f"rules[{i}].code {rule.code!r} is used twice")
            seen.add(rule.code)
            if "tiers" in info.data:
                for code in rule.conditions.tiers or ():
                    if code not in tier_codes:
                        raise ValueError(f"rules[{i}].conditions.tiers: unknown tier {code!r}")
            if rule.conditions.birthday_window is not None and info.data.get("birthday") is None:
                raise ValueError(
                    f"rules[{i}].conditions.birthday_window needs the program's birthday settings"
                )
        return rules

    @field_validator("chains")
    @classmethod
    def _chains_consistent(cls, chains: tuple[Chain, ...],
                           info: ValidationInfo) -> tuple[Chain, ...]:
        seen: set[str] = set()
        for i, chain in enumerate(chains):
            if chain.code in seen:
                raise ValueError(f"chains[{i}].code {chain.code!r} is used twice")
            seen.add(chain.code)
            segment = chain.segment
            if segment.kind == "tier" and "tiers" in info.data and segment.tier not in {
                tier.code for tier in info.data["tiers"]
            }:
                raise ValueError(f"chains[{i}].segment.tier: unknown tier {segment.tier!r}")
        return chains

    @cached_property
    def compiled(self):  # -> kopilka.programs.engine.CompiledProgram
        """The engine's integer form of this config, compiled on first use.

        A cached_property, not a private attribute: it stays out of equality and dumps.
        """
        from kopilka.programs.engine import compile_program  # the engine imports this module

        return compile_program(self)

    @property
    def start_tier(self) -> Tier:
        return next((tier for tier in self.tiers if tier.start), self.tiers[0])

    def currency_word(self, language: str, points: int) -> str:
        return self.currency_names.word(language, points, self.points_precision)
