"""Phone numbers: lenient input with the merchant's country as default region, E.164 out."""

import phonenumbers
from django.utils.translation import gettext as _

from kopilka.core.errors import InvalidInput


def normalize_phone(raw: str, region: str, *, field: str = "phone") -> str:
    try:
        number = phonenumbers.parse(str(raw), region)
    except phonenumbers.NumberParseException:
        # Translators: %(phone)r is what was typed, already in quotes: '123'.
        raise InvalidInput(_("%(phone)r is not a phone number.") % {"phone": raw},
                           field=field) from None
    if not phonenumbers.is_valid_number(number):
        # Translators: %(phone)r is what was typed, already in quotes: '123'.
        raise InvalidInput(_("%(phone)r is not a valid phone number.") % {"phone": raw},
                           field=field)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask_phone(e164: str) -> str:
    """+79161234567 -> +7916***4567: enough to recognise, not enough to call."""
    text = str(e164)
    if len(text) <= 8:
        return "*" * len(text)
    return text[:5] + "*" * (len(text) - 9) + text[-4:]
