"""`kopilka tick`: one pass over the periodic work that is due.

Each job is idempotent and safe beside itself and beside the workers, so a tick may run twice,
overlap another, or be skipped: the next one catches up. `kopilka up` and `kopilka worker` run
a tick every minute; at scale, cron or celery beat calls `kopilka tick` instead.

The jobs are the safety nets of the outboxes (a delivery whose task was lost is sent by the
next tick), the housekeeping of the apps above (the API registers the clean-up of old
idempotency records: `register()`, called from `api/apps.py`), and last the merchants' daily
jobs (activation and expiry, expiry reminders, gifts, notices, inactivity chains, win-back
attribution: automation/schedule.py), each run at most once per merchant and local day.

Apps on a higher floor register their jobs instead of being imported here: imports go down
the floors only (docs/architecture.md), and the API sits above automation.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from kopilka.automation import progress, schedule
from kopilka.core import clock, metrics
from kopilka.messaging import tasks as messaging
from kopilka.webhooks import tasks as webhooks


@dataclass(frozen=True)
class Job:
    name: str
    run: Callable[[datetime], int]  # does what is due at that moment; how many things it did


# Housekeeping first (quick, and the outboxes' safety nets should not wait behind a long
# run of daily jobs), then the merchants' daily jobs.
_HOUSEKEEPING = [
    Job("webhook deliveries due", lambda at: webhooks.deliver_due(at)),
    Job("messages due", lambda at: messaging.deliver_due(at)),
]
_DAILY = Job("merchant jobs run", schedule.run_due)


def register(name: str, run: Callable[[datetime], int]) -> None:
    """Add a housekeeping job, run by every tick after those already registered and before
    the merchants' daily jobs. Called once from an app's `ready()`; a name registered again
    replaces its job (Django may call `ready()` twice in tests)."""
    job = Job(name, run)
    for n, known in enumerate(_HOUSEKEEPING):
        if known.name == name:
            _HOUSEKEEPING[n] = job
            return
    _HOUSEKEEPING.append(job)


def jobs() -> tuple[Job, ...]:
    return (*_HOUSEKEEPING, _DAILY)


def run(at: datetime | None = None) -> dict[str, int]:
    """Run every job for the moment `at` (default: now); what each did, by job name. Each
    job's count and time are reported as progress (automation/progress.py) and counted in the
metrics (kopilka_tick_job_*)."""
    at = at or clock.now()
    done = {}
    for job in jobs():
        started = time.monotonic()
        done[job.name] = job.run(at)
        took = time.monotonic() - started
        metrics.TICK_JOB_DURATION.labels(job.name).observe(took)
        metrics.TICK_JOB_ITEMS.labels(job.name).inc(done[job.name])
        progress.report(f"{job.name}: {done[job.name]} ({took:.2f} s)")
    return done
