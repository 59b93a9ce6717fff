"""{% qr text %}: a QR code as inline SVG (segno; no image request, nothing inline to style)."""

from functools import lru_cache

import segno
from django import template
from django.utils.html import format_html
from django.utils.safestring import mark_safe

register = template.Library()


@lru_cache(maxsize=1024)
def _svg(text: str) -> str:
    # omitsize: a viewBox and no width/height, so CSS sizes it; border 4 is the quiet zone
    # scanners need. segno writes attributes only (stroke=...), which the CSP allows.
    # Kept: encoding a QR was over a third of a card page's rendering, and a token seldom
    # changes (docs/benchmarks.md, the wallet).
    return segno.make(text, error="m", micro=False).svg_inline(
        scale=1, border=4, omitsize=True, svgclass="wallet-qr__svg", lineclass="")


@register.simple_tag
def qr(text: str, label: str = "") -> str:
    return format_html('<div class="wallet-qr" role="img" aria-label="{}">{}</div>', label,
                       mark_safe(_svg(text)))  # segno's own markup: no user text inside


@register.simple_tag
def push_key() -> str:
    """The VAPID public key the wallet subscribes with; empty when push is off."""
    from django.conf import settings

    from kopilka.messaging import push

    return push.public_key() if settings.PUSH_ENABLED else ""
