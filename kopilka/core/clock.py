"""The only source of "now" in Kopilka.

Services and jobs call `clock.now()` instead of `datetime.now()` so tests can move time
(time-machine) and offline uploads can pass their own moment explicitly.
"""

from datetime import datetime
from zoneinfo import ZoneInfo

from django.utils import timezone


def now() -> datetime:
    return timezone.now()


def local_now(tz_name: str) -> datetime:
    return now().astimezone(ZoneInfo(tz_name))
