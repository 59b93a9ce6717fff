"""What the shift's sales book and the offline form need besides {% points %} and {% money %}."""

from babel.numbers import get_currency_precision
from django import template

from kopilka.core.phones import mask_phone

register = template.Library()


@register.filter
def masked(phone) -> str:
    """A member's phone as the counter may show it: +7916***4567."""
    return mask_phone(str(phone)) if phone else ""


@register.simple_tag
def currency_digits(currency: str) -> int:
    """Digits after the point of `currency` (2 for RUB, 0 for JPY): how the offline form turns
    a typed amount into minor units."""
    return get_currency_precision(currency)
