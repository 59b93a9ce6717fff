"""Which merchant's daily jobs are due, and running each at most once per local day (AUT-4).

A job is due for a merchant once the merchant's local clock has reached the job's hour:
journalling activation and expiry from 00:00, anything that messages members from
`settings.AUTOMATION_HOUR` (10:00 by default), so nobody is woken up. The run is claimed by
inserting its `JobRun` (merchant, job, local day): whoever fails the insert leaves the day
alone. A run that died (not finished a `LEASE` after it started) is taken over by the next
tick; the jobs skip what it had already done (see jobs.py), so the day is finished without
doubling anything.
"""

import logging
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django_scopes import scopes_disabled

from kopilka.automation import chains, gifts, jobs, notices, progress, tiers, winback
from kopilka.automation.models import JobRun
from kopilka.core import audit, clock
from kopilka.core.actor import Actor
from kopilka.messaging import services as messaging
from kopilka.programs import services as programs
from kopilka.programs.engine import CompiledProgram
from kopilka.tenancy import access
from kopilka.tenancy.models import Merchant

logger = logging.getLogger("kopilka.automation")

LEASE = timedelta(hours=1)


@dataclass(frozen=True)
class DailyJob:
    name: str
    run: Callable[[Merchant, CompiledProgram, datetime, date], dict[str, int]]
    messages_members: bool  # waits for AUTOMATION_HOUR

    def hour(self) -> int:
        return settings.AUTOMATION_HOUR if self.messages_members else 0


# In this order: the day's journal first, then the purchases won back by yesterday's
# contacts, then what members are told.
DAILY_JOBS = (
    DailyJob("materialise", jobs.materialise, messages_members=False),
    DailyJob("winback_attribution", winback.attribute, messages_members=False),
    DailyJob("expiry_reminders", jobs.expiry_reminders, messages_members=True),
    DailyJob("birthday_gifts", jobs.birthday_gifts, messages_members=True),
    DailyJob("relative_birthday_gifts", gifts.relative_birthday_gifts, messages_members=True),
    DailyJob("activation_notices", notices.activation_notices, messages_members=True),
    DailyJob("inactivity_chains", chains.inactivity_chains, messages_members=True),
    DailyJob("rolling_tiers", tiers.rolling_tiers, messages_members=True),
)


def _claim(merchant: Merchant, job: str, day: date) -> JobRun | None:
    now = clock.now()
    try:
        with transaction.atomic():
            return JobRun.objects.create(merchant=merchant, job=job, day=day, started_at=now)
    except IntegrityError:
        pass  # claimed before: finished, running, or died
    # One conditional UPDATE: of two ticks taking over a dead run, only one matches.
    stale = JobRun.objects.filter(merchant=merchant, job=job, day=day, finished_at__isnull=True,
                                  started_at__lt=now - LEASE)
    if not stale.update(started_at=now):
        return None
    return JobRun.objects.get(merchant=merchant, job=job, day=day)


@transaction.atomic
def _finish(run: JobRun, counts: dict[str, int]) -> None:
    run.finished_at, run.counts = clock.now(), counts
    run.save(update_fields=["finished_at", "counts"])
    audit.record("automation.job.finished", actor=Actor.system(), merchant=run.merchant,
                 obj=run, data={"job": run.job, "day": run.day.isoformat(), **counts})


def run_due(at: datetime) -> int:
    """Run every daily job due at `at` for every active merchant; how many runs were done."""
    merchants = list(Merchant.objects.filter(status=Merchant.Status.ACTIVE, program__isnull=False)
                     .select_related("program").order_by("pk"))
    local = {merchant.pk: at.astimezone(ZoneInfo(merchant.timezone)) for merchant in merchants}
    with scopes_disabled():  # one look-up across merchants instead of one per merchant
        finished = set(
            JobRun.objects.filter(day__in={moment.date() for moment in local.values()},
                                  finished_at__isnull=False)
            .values_list("merchant_id", "job", "day")
        )
    done = 0
    for merchant in merchants:
        moment = local[merchant.pk]
        due = [job for job in DAILY_JOBS if moment.hour >= job.hour()
               and (merchant.pk, job.name, moment.date()) not in finished]
        if not due:
            continue
        # The member jobs read balances and activations as of the day's materialise: while
        # another tick still runs it (or it failed), they wait for a later tick.
        materialised = (merchant.pk, "materialise", moment.date()) in finished
        # Jobs that message members read the merchant's templates once, not per message.
        templates = (messaging.templates_read_once(merchant)
                     if any(job.messages_members for job in due) else nullcontext())
        # One context per merchant's run: the program, settings and subscription are read once.
        with access.enter(access.Principal.system(merchant)), templates:
            program = programs.load(merchant)
            for job in due:
                if job.messages_members and not materialised:
                    continue
                run = _claim(merchant, job.name, moment.date())
                if run is None:
                    continue
                started = time.monotonic()
                try:
                    counts = job.run(merchant, program, at, moment.date())
                except Exception:
                    # One merchant's failure must not starve the others; the run stays
                    # unfinished and is taken over after its lease.
                    logger.exception("%s %s %s failed", merchant.slug, job.name, moment.date())
                    progress.report(f"{merchant.slug} {job.name} {moment.date()}: failed "
                                    "(see the log)")
                    continue
                _finish(run, counts)
                materialised = materialised or job.name == "materialise"
                logger.info("%s %s %s: %s", merchant.slug, job.name, moment.date(), counts)
                progress.report(_line(merchant, job, moment.date(), counts,
                                      time.monotonic() - started))
                done += 1
    return done


def _line(merchant: Merchant, job: DailyJob, day: date, counts: dict[str, int],
          seconds: float) -> str:
    figures = ", ".join(f"{name} {count}" for name, count in counts.items())
    return f"{merchant.slug} {job.name} {day}: {figures} ({seconds:.2f} s)"
