"""Message texts: filling the placeholders, and formatting the figures per language.

A template is plain text with placeholders in braces: `{name}`, `{amount}`, `{balance}`,
`{points}`, `{date}`, `{link}`, `{merchant}`, `{code}`, `{tier}`, `{relative}` (the relative
whose birthday it is); their list and the check that refuses an unknown one are in
`core/placeholders.py`, so that programs can check its chain texts too. Substitution is a plain
look-up, not `str.format`, so a merchant's text can never reach attributes or format specs.

Figures are written the way the member's language writes them (Babel/CLDR): money with its
currency ("1 500,00 ₽", "RUB1,500.00"), points with the program's currency name in the plural
form their number needs ("1 балл", "2 балла", "5 баллов", "21 балл"), dates in the long form
("31 декабря 2026 г."). Non-breaking spaces from CLDR become plain spaces: they are not in the
GSM alphabet and would turn an English SMS into a costlier UCS-2 one.
"""

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel.dates import format_date
from babel.numbers import format_currency, get_currency_precision

from kopilka.core.errors import Conflict
from kopilka.core.placeholders import PLACEHOLDERS
from kopilka.core.placeholders import check as check  # messaging's name for it (services.py)
from kopilka.programs.config import CurrencyNames, points_text

_FILLED = re.compile(r"\{([^{}]*)\}(\.?)")  # with the full stop after it, if any
_SPACES = str.maketrans({"\xa0": " ", "\u202f": " "})


def substitute(text: str, values: dict[str, str]) -> str:
    """Fill the placeholders; one without a value becomes empty (a template may mention a
    figure that a particular event does not have)."""
    def fill(match: re.Match) -> str:
        name, stop = match.group(1), match.group(2)
        if name not in PLACEHOLDERS:
            return match.group(0)
        value = values.get(name, "")
        # "до {date}." with "31 декабря 2026 г." must not end in "г..".
        return value if stop and value.endswith(".") else value + stop

    return _FILLED.sub(fill, text).strip()


@dataclass(frozen=True)
class Formats:
    """How one merchant writes figures in one language."""

    language: str
    currency: str  # ISO 4217, for money
    timezone: str  # datetimes are shown as the merchant's local date
    currency_names: CurrencyNames  # the program's name for points
    points_precision: int

    def money(self, amount: int) -> str:
        places = get_currency_precision(self.currency)
        value = Decimal(amount).scaleb(-places)
        return _plain(format_currency(value, self.currency, locale=self.language))

    def points(self, points: int) -> str:
        return _plain(points_text(points, self.points_precision, self.currency_names,
                                  self.language))

    def date(self, moment: date | datetime) -> str:
        if isinstance(moment, datetime):
            moment = moment.astimezone(ZoneInfo(self.timezone)).date()
        return _plain(format_date(moment, format="long", locale=self.language))


def _plain(text: str) -> str:
    return text.translate(_SPACES)


def formats(merchant, language: str) -> Formats:
    """The merchant's formats, with the currency names of its program (the defaults when it
    has none yet: a one-time code can be sent before a program exists)."""
    from kopilka.programs import services as programs  # programs imports much; load lazily

    try:
        config = programs.load(merchant).config
        names, precision = config.currency_names, config.points_precision
    except Conflict:
        names, precision = CurrencyNames(), 2
    return Formats(language=language, currency=merchant.currency, timezone=merchant.timezone,
                   currency_names=names, points_precision=precision)


def values(merchant, fmt: Formats, context: dict) -> dict[str, str]:
    """The placeholder values for a context of raw figures: `amount` (money minor units),
    `balance` and `points` (points minor units), `date` (a date or an aware datetime), and
    text for `name`, `link`, `code`, `tier`, `relative`, `merchant` (the merchant's name
    unless given)."""
    unknown = set(context) - set(PLACEHOLDERS)
    if unknown:
        raise ValueError(f"unknown message context keys: {sorted(unknown)}")  # a programming error
    out = {"merchant": merchant.name}
    for key, value in context.items():
        if value is None:
            continue
        if key == "amount":
            out[key] = fmt.money(value)
        elif key in ("balance", "points"):
            out[key] = fmt.points(value)
        elif key == "date":
            out[key] = fmt.date(value)
        else:
            out[key] = str(value)
    return out


def render(text: str, merchant, fmt: Formats, context: dict) -> str:
    return substitute(text, values(merchant, fmt, context))
