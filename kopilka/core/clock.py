"""The only source of "now" in Kopilka.

Services and jobs call `clock.now()` instead of `datetime.now()` so tests can move time
(time-machine) and offline uploads can pass their own moment explicitly.
"""

from datetime import datetime

from django.utils import timezone


def now() -> datetime:
    return timezone.now()

