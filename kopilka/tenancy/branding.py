"""A merchant's branding on its members' pages (#15: "merchant branding (name, logo, colour) on
its pages"): the wallet's card and shop pages and the join page show the logo on a band of the
merchant's colour. The colour reaches the page as a tiny stylesheet of its own
(web/wallet/brand.py), because the Content-Security-Policy allows no inline style."""

import re

from django.db import transaction
from django.utils.translation import gettext as _

from kopilka.core import audit, images
from kopilka.core.actor import Actor
from kopilka.core.errors import InvalidInput
from kopilka.tenancy.models import Merchant

LOGO_SIZES = (96, 256)  # the band's logo on a phone, and on a poster
COLOUR = re.compile(r"#[0-9a-f]{6}")


def folder(merchant: Merchant) -> str:
    return f"logos/{merchant.pk}"


def clean_colour(raw: str) -> str:
    colour = (raw or "").strip().lower()
    if colour and not COLOUR.fullmatch(colour):
        raise InvalidInput(_("Enter a colour as #RRGGBB, for example #0b6b4e."),
                           field="brand_colour")
    return colour


def text_colour(colour: str) -> str:
    """Black or white, whichever reads better on `colour` (WCAG relative luminance)."""
    def channel(hex_pair: str) -> float:
        value = int(hex_pair, 16) / 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (channel(colour[i:i + 2]) for i in (1, 3, 5))
    luminance = 0.2126 * red + 0.7152 * green + 0.0722 * blue
    return "#000000" if (luminance + 0.05) / 0.05 > 1.05 / (luminance + 0.05) else "#ffffff"


def save_branding(merchant: Merchant, *, colour: str, logo=None, drop_logo: bool = False,
                  actor: Actor) -> Merchant:
    """Set the colour (blank: Kopilka's own) and, when given, a new logo (or drop it)."""
    colour = clean_colour(colour)
    token = images.store(folder(merchant), logo, LOGO_SIZES, field="logo",
                         keep_alpha=True) if logo is not None else None
    old = merchant.logo
    with transaction.atomic():
        merchant.brand_colour = colour
        if token is not None:
            merchant.logo = token
        elif drop_logo:
            merchant.logo = ""
        merchant.save(update_fields=["brand_colour", "logo"])
        audit.record("tenancy.branding.saved", actor=actor, merchant=merchant, obj=merchant,
                     data={"brand_colour": colour, "logo": bool(merchant.logo)})
        if old and old != merchant.logo:
            transaction.on_commit(lambda: images.remove(folder(merchant), old, LOGO_SIZES))
    return merchant


def open_logo(merchant: Merchant, size: int):
    return images.open_stored(folder(merchant), merchant.logo, size, LOGO_SIZES)
