"""Points as the shift's sales book shows them, in the active language (Babel)."""

from decimal import Decimal

from babel.numbers import format_decimal, get_currency_precision
from django import template

from kopilka.core.phones import mask_phone
from kopilka.web.templatetags.kopilka import locale

register = template.Library()


@register.simple_tag
def points(value: int | None, precision: int = 2) -> str:
    """`value` points in the program's minor unit: 5050 with precision 2 is "50.50"."""
    if value is None:
        return ""
    pattern = "#,##0" + ("." + "0" * precision if precision else "")
    return format_decimal(Decimal(value).scaleb(-precision), format=pattern, locale=locale())


@register.filter
def masked(phone) -> str:
    """A member's phone as the counter may show it: +7916***4567."""
    return mask_phone(str(phone)) if phone else ""


@register.simple_tag
def currency_digits(currency: str) -> int:
    """Digits after the point of `currency` (2 for RUB, 0 for JPY): how the offline form turns
    a typed amount into minor units."""
    return get_currency_precision(currency)
