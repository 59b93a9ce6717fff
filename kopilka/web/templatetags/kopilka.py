"""Figures for people, in the active language (Babel/CLDR, never by hand).

    {% load kopilka %}
    {% money sale.amount merchant.currency %}   150000 RUB: "1 500,00 ₽" (ru), "RUB1,500.00" (en)
    {% date member.birth_date %}                  "5 мар. 2026 г."; {% date d format="long" %}
    {% datetime sale.created_at %}                "6 мар. 2026 г., 00:30" in the current time zone
    {% datetime sale.created_at merchant.timezone %}  ... or in the one given
    {% points 7550 program %}                     "75,5\u00a0бонуса" (ru), "75.5\u00a0bonuses" (en)
    {% points 7550 program word=False %}          "75,5": the number alone, and
    {% points_word 7550 program %}                "бонуса": its word, for a big figure that may
                                                  wrap between the two
    {% points_input 7550 program %}               "75,5": what a points field reads back
    {% money amount currency as total %}          any of them into a variable (for blocktranslate)

Money is an integer of minor units (kopecks, cents), as everywhere in Kopilka; so are points, in
the program's minor units: `program` is its ProgramConfig (its "points_precision" decimals and
its currency names, plural-correct in ru and uk), the same words the messages use. The spaces CLDR
puts inside figures are non-breaking, so a sum never wraps over two lines. A face activates its
merchant's time zone for the request (django.utils.timezone.activate) and then needs no argument.
"""

from datetime import date as date_type
from datetime import datetime as datetime_type
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time, get_datetime_format
from babel.numbers import format_currency, get_currency_precision, get_decimal_symbol
from django import template
from django.conf import settings
from django.utils import timezone, translation

from kopilka.programs.config import points_number, points_text

register = template.Library()

FORMATS = ("short", "medium", "long", "full")


def locale() -> str:
    # Babel spells regional variants with "_" ("pt_BR"); Django's language codes use "-".
    return (translation.get_language() or settings.LANGUAGE_CODE).replace("-", "_")


def _zone(tz) -> ZoneInfo:
    if tz is None or tz == "":
        return timezone.get_current_timezone()
    return ZoneInfo(tz) if isinstance(tz, str) else tz


def _format(name: str) -> str:
    if name not in FORMATS:
        raise template.TemplateSyntaxError(f"format must be one of {FORMATS}, not {name!r}")
    return name


@register.simple_tag
def money(amount: int | None, currency: str) -> str:
    """`amount` minor units of `currency` (ISO 4217) in the active language."""
    if amount is None:
        return ""
    if type(amount) is not int:  # a float or a Decimal here is a bug upstream: money is integer
        raise TypeError(f"money needs an int of minor units, not {type(amount).__name__}")
    value = Decimal(amount).scaleb(-get_currency_precision(currency))
    return format_currency(value, currency, locale=locale())


@register.simple_tag
def points(amount: int | None, program, word: bool = True) -> str:
    """`amount` minor units of the program's points in the active language, with the program's
    word for them unless `word=False`."""
    if amount is None:
        return ""
    if type(amount) is not int:
        raise TypeError(f"points need an int of minor units, not {type(amount).__name__}")
    if not word:
        return points_number(amount, program.points_precision, locale())
    return points_text(amount, program.points_precision, program.currency_names, locale())


@register.simple_tag
def points_word(amount: int | None, program) -> str:
    """The program's word for `amount` points in the active language ("бонуса" for 75,5)."""
    if amount is None:
        return ""
    return program.currency_names.word(locale().split("_")[0], amount, program.points_precision)


@register.simple_tag
def points_input(amount: int | None, program) -> str:
    """Plain digits with the language's decimal sign and no grouping: what a cashier types."""
    if amount is None:
        return ""
    value = Decimal(amount).scaleb(-program.points_precision)
    text = str(value if value % 1 else int(value))
    return text.replace(".", get_decimal_symbol(locale()))


@register.simple_tag
def date(value: date_type | datetime_type | None, tz=None, format: str = "medium") -> str:
    """A date; an aware datetime is first moved to `tz` (default: the current time zone)."""
    if value is None:
        return ""
    if isinstance(value, datetime_type):
        value = value.astimezone(_zone(tz)).date()
    return format_date(value, format=_format(format), locale=locale())


@register.simple_tag
def datetime(value: datetime_type | None, tz=None, format: str = "medium") -> str:
    """Date and time in `tz` (default: the current time zone), without seconds: CLDR's own
    way of joining the `format` date with the short time ("{1}, {0}" in ru, uk and en)."""
    if value is None:
        return ""
    local = value.astimezone(_zone(tz))
    language = locale()
    pattern = get_datetime_format(_format(format), locale=language)
    return (
        pattern.replace("{0}", format_time(local, format="short", locale=language))
        .replace("{1}", format_date(local.date(), format=format, locale=language))
    )


@register.simple_tag
def language_switch() -> list[dict]:
    """The installation's languages for the switch in the header, each in its own name."""
    current = translation.get_language()
    return [
        {
            "code": code,
            "short": SHORT_NAMES.get(code, code.upper()),
            "name": translation.get_language_info(code)["name_local"],
            "current": code == current,
        }
        for code, _name in settings.LANGUAGES
    ]


# What the switch buttons say: short enough for a phone's header, in the language itself.
SHORT_NAMES = {"ru": "Рус", "uk": "Укр", "en": "Eng"}
