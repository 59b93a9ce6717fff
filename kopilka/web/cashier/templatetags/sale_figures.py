"""Points as the program names them, in the active language (Babel, never by hand).

    {% load sale_figures %}
    {% points 7550 program %}        "75.5 bonuses" (en), "75,5 бонуса" (ru)
    {% points_input 7550 program %}  "75.5" / "75,5": a value the points field reads back

Points are integers of the program's minor units (`points_precision` decimal places), as
everywhere in Kopilka; `program` is the merchant's ProgramConfig.
"""

from decimal import Decimal

from babel.numbers import format_decimal, get_decimal_symbol
from django import template
from django.utils import translation

from kopilka.web.templatetags.kopilka import locale

register = template.Library()


def _value(points: int, precision: int) -> Decimal | int:
    value = Decimal(points).scaleb(-precision)
    return value if value % 1 else int(value)


@register.simple_tag
def points(amount: int | None, program) -> str:
    if amount is None:
        return ""
    number = format_decimal(_value(amount, program.points_precision), locale=locale())
    word = program.currency_word((translation.get_language() or "en").split("-")[0], amount)
    return f"{number}\u00a0{word}"


@register.simple_tag
def points_input(amount: int | None, program) -> str:
    """Plain digits with the language's decimal sign and no grouping: what a cashier types."""
    if amount is None:
        return ""
    text = str(_value(amount, program.points_precision))
    return text.replace(".", get_decimal_symbol(locale()))
