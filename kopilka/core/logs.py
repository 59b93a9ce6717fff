"""Log lines for people and for machines, with nothing personal or secret in them.

`KOPILKA_LOG_FORMAT=json` writes one JSON object per line (a log shipper reads them as they
are); the default `plain` is for reading in a terminal. A record may carry `fields` (a dict,
passed as `extra={"fields": ...}`): the request log (kopilka/web/ops.py) puts the merchant,
the principal, the route, the status and the duration there, and the JSON line carries them
as keys of its own.

What Kopilka logs names things by id and route, never by phone number, code or key; `Redact`
is the net under that rule for text that comes from elsewhere (an exception's message, a
gateway's error): it masks international phone numbers and Kopilka's keys and tokens.
"""

import json
import logging
import re
import sys
from datetime import UTC, datetime

# +79161234567, +44 20 7946 0958: a plus and 10-15 digits, maybe spaced or dashed.
PHONE = re.compile(r"\+\d(?:[\s-]?\d){9,14}")
# Terminal keys and management tokens (kp_pos_..., kp_mgt_...), and any Bearer credential.
KEY = re.compile(r"\bkp_[a-z]+_[A-Za-z0-9_-]+|(?i:bearer)\s+\S+")


def redact(text: str) -> str:
    return KEY.sub("[key]", PHONE.sub("[phone]", text))


class Redact(logging.Filter):
    """Masks phone numbers and keys in the message and in the formatted exception."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, the record's
    `fields`, and the exception when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **getattr(record, "fields", {}),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, ensure_ascii=False, default=str)


class StderrHandler(logging.StreamHandler):
    """A console handler that writes to sys.stderr as it is at each record, not as it was at
    start-up: a test runner (or a daemon) swaps sys.stderr and closes the old one, and a request
    thread still logging into the closed stream printed a traceback per line."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):  # StreamHandler.__init__ sets it; the property always follows sys
        pass


def logging_settings(log_format: str, level: str) -> dict:
    """settings.LOGGING: one console handler in the chosen format, redacting."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
            "json": {"()": JsonFormatter},
        },
        "filters": {"redact": {"()": Redact}},
        "handlers": {"console": {"()": StderrHandler, "formatter": log_format,
                                 "filters": ["redact"]}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Django's own console handler would print every request warning a second time.
            "django": {"handlers": [], "propagate": True},
            # axes says INFO on every failed login; its warnings (failures, lockouts) are enough.
            "axes": {"level": "WARNING"},
        },
    }
