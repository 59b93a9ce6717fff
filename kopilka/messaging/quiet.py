"""Quiet hours: the local hours of the night in which a merchant's marketing messages wait.

The window is two local times of day in the merchant's time zone; one whose end comes before
its start runs over midnight (21:00-09:00, the default). Equal times mean no quiet hours.
"""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo


def release_at(now: datetime, start: time, end: time, timezone: str) -> datetime | None:
    """The end of the quiet window `now` falls in (UTC), or None when `now` is outside it."""
    if start == end:
        return None
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    moment = local.time().replace(tzinfo=None)
    inside = start <= moment < end if start < end else (moment >= start or moment < end)
    if not inside:
        return None
    # Before midnight the window ends tomorrow; after it (or in a same-day window), today.
    day = local.date() + timedelta(days=1) if moment >= end else local.date()
    return datetime.combine(day, end, tzinfo=zone).astimezone(UTC)
