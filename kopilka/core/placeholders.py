"""The placeholders of message texts, and the check that refuses an unknown one.

Down here because two apps on the same floor check texts: `messaging` (its templates) and
`programs` (an inactivity chain's own step texts, validated with the program). Neither may
import the other's validation without making a cycle, so the grammar lives below both;
filling the placeholders with figures stays in `messaging/render.py`.
"""

import re

from django.utils.translation import gettext as _

from kopilka.core.errors import InvalidInput

PLACEHOLDERS = ("name", "amount", "balance", "points", "date", "link", "merchant", "code",
                "tier", "relative")
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def check(text: str, field: str) -> None:
    """Refuse a text with a placeholder Kopilka does not know, naming it."""
    for name in PLACEHOLDER.findall(text):
        if name not in PLACEHOLDERS:
            raise InvalidInput(
                _("Unknown placeholder {%(name)s}. Known placeholders: %(known)s.")
                % {"name": name, "known": ", ".join(f"{{{known}}}" for known in PLACEHOLDERS)},
                field=field,
            )
