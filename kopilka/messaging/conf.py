"""settings.MESSAGING from the environment: which backend sends each channel, with what options.

Imported by kopilka/settings.py, so it must not import Django models or settings.
"""

import json
from collections.abc import Mapping

from django.core.exceptions import ImproperlyConfigured

ALIASES = {
    "console": "kopilka.messaging.backends.console.ConsoleBackend",
    "locmem": "kopilka.messaging.backends.locmem.LocmemBackend",
    "file": "kopilka.messaging.backends.file.FileBackend",
    "http": "kopilka.messaging.backends.http.HttpBackend",
    "smpp": "kopilka.messaging.backends.smpp.SmppBackend",
    "email": "kopilka.messaging.backends.email.EmailBackend",
    "webpush": "kopilka.messaging.backends.webpush.WebPushBackend",
}


def _channel(env: Mapping[str, str], prefix: str, default: str) -> dict:
    name = env.get(f"{prefix}_BACKEND", "").strip() or default
    raw = env.get(f"{prefix}_OPTIONS", "").strip() or "{}"
    try:
        options = json.loads(raw)
    except ValueError as error:
        raise ImproperlyConfigured(f"{prefix}_OPTIONS is not valid JSON: {error}") from None
    if not isinstance(options, dict):
        raise ImproperlyConfigured(f"{prefix}_OPTIONS must be a JSON object")
    return {"BACKEND": ALIASES.get(name, name), "OPTIONS": options}


def messaging_settings(env: Mapping[str, str]) -> dict:
    """KOPILKA_SMS_BACKEND / KOPILKA_SMS_OPTIONS for SMS (default: console), and
    KOPILKA_EMAIL_CHANNEL_BACKEND / KOPILKA_EMAIL_CHANNEL_OPTIONS for email (default: Django's
    mail framework, itself set by the KOPILKA_EMAIL_* transport variables), and
    KOPILKA_PUSH_BACKEND / KOPILKA_PUSH_OPTIONS for web push (default: webpush). A backend is an
    alias above or a dotted path; options are a JSON object of its keyword arguments."""
    return {
        "sms": _channel(env, "KOPILKA_SMS", "console"),
        "email": _channel(env, "KOPILKA_EMAIL_CHANNEL", "email"),
        "push": _channel(env, "KOPILKA_PUSH", "webpush"),
    }


def mailer_settings(env: Mapping[str, str]) -> dict:
    """Django's default mailer: SMTP to KOPILKA_EMAIL_HOST (KOPILKA_EMAIL_PORT, 587;
    KOPILKA_EMAIL_USER / _PASSWORD; KOPILKA_EMAIL_TLS, on for port 587), or the console when
    no host is set, so development prints mail instead of failing to connect. Production
    without a host keeps Django's own console backend, which `check --deploy` flags (mail.E001);
    development gets the same console made readable (kopilka/core/mail.py)."""
    host = env.get("KOPILKA_EMAIL_HOST", "").strip()
    if not host:
        if env.get("KOPILKA_ENV", "").strip() == "production":
            return {"BACKEND": "django.core.mail.backends.console.EmailBackend"}
        return {"BACKEND": "kopilka.core.mail.EmailBackend"}
    port = int(env.get("KOPILKA_EMAIL_PORT", "").strip() or 587)
    tls = env.get("KOPILKA_EMAIL_TLS", "").strip().lower()
    return {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {
            "host": host, "port": port, "timeout": 30,
            "username": env.get("KOPILKA_EMAIL_USER", ""),
            "password": env.get("KOPILKA_EMAIL_PASSWORD", ""),
            "use_tls": tls in ("1", "true", "yes", "on") if tls else port == 587,
        },
    }


def _whole_number(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit()):
        raise ImproperlyConfigured(f"{name} must be a whole number >= 0; got {raw!r}")
    return int(raw)


def sms_billing_settings(env: Mapping[str, str]) -> dict:
    """SMS billing (docs/messaging.md, "SMS billing"): KOPILKA_SMS_CURRENCY, the platform's
    billing currency (ISO 4217, default RUB); KOPILKA_SMS_PRICE, the price of one SMS part in
    its minor units (default 250: 2.50 RUB; 0 makes SMS free and never held); and
    KOPILKA_SMS_FREE_PARTS, the free parts each merchant starts with (default 100)."""
    from babel.numbers import list_currencies

    currency = env.get("KOPILKA_SMS_CURRENCY", "").strip().upper() or "RUB"
    if currency not in list_currencies():
        raise ImproperlyConfigured(
            f"KOPILKA_SMS_CURRENCY must be an ISO 4217 currency code; got {currency!r}")
    return {
        "SMS_CURRENCY": currency,
        "SMS_PRICE": _whole_number(env, "KOPILKA_SMS_PRICE", 250),
        "SMS_FREE_PARTS": _whole_number(env, "KOPILKA_SMS_FREE_PARTS", 100),
    }
