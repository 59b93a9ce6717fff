"""settings.ONE_TIME_CODES from the environment: how codes look, how long they live, how
often they may be asked for. Imported by kopilka/settings.py, so no models and no settings.

- KOPILKA_CODE_DIGITS (6): digits per code, 4-8.
- KOPILKA_CODE_TTL (300): seconds a code stays valid, 30-3600.
- KOPILKA_CODE_ATTEMPTS (5): wrong entries a code survives, 1-20; then it is dead.
- KOPILKA_CODE_LIMIT_PHONE ("1/60,5/3600"): codes per phone number (per merchant), as
  comma-separated `<codes>/<seconds>` limits that all apply; "0" = none.
- KOPILKA_CODE_LIMIT_CLIENT ("30/3600"): codes per asking terminal (or, for callers without
  one, per client address across all merchants), in the same form.
"""

import re
from collections.abc import Mapping

from django.core.exceptions import ImproperlyConfigured

RATE = re.compile(r"(\d{1,9})/(\d{1,9})")
Limits = tuple[tuple[int, int], ...]  # ((codes, seconds), ...)


def parse_limits(name: str, text: str) -> Limits:
    """`"1/60,5/3600"` -> ((1, 60), (5, 3600)); `"0"` or `""` -> () (no limit)."""
    text = text.strip()
    if text in ("", "0"):
        return ()
    limits = []
    for part in text.split(","):
        match = RATE.fullmatch(part.strip())
        if match is None or int(match[1]) == 0 or int(match[2]) == 0:
            raise ImproperlyConfigured(
                f"{name} must be comma-separated <codes>/<seconds> limits (e.g. 1/60,5/3600) "
                f"or 0 (no limit); got {text!r}"
            )
        limits.append((int(match[1]), int(match[2])))
    return tuple(sorted(limits, key=lambda limit: limit[1]))


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        raise ImproperlyConfigured(f"{name} must be a whole number from {low} to {high}; "
                                   f"got {raw!r}")
    return int(raw)


def code_settings(env: Mapping[str, str]) -> dict:
    return {
        "DIGITS": _int(env, "KOPILKA_CODE_DIGITS", 6, 4, 8),
        "TTL": _int(env, "KOPILKA_CODE_TTL", 300, 30, 3600),
        "ATTEMPTS": _int(env, "KOPILKA_CODE_ATTEMPTS", 5, 1, 20),
        "PHONE_LIMITS": parse_limits("KOPILKA_CODE_LIMIT_PHONE",
                                     env.get("KOPILKA_CODE_LIMIT_PHONE", "1/60,5/3600")),
        "CLIENT_LIMITS": parse_limits("KOPILKA_CODE_LIMIT_CLIENT",
                                      env.get("KOPILKA_CODE_LIMIT_CLIENT", "30/3600")),
    }
