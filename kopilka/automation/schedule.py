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
from django.db import connections, router, transaction
from django_scopes import scopes_disabled

from kopilka.automation import chains, gifts, jobs, notices, progress, tiers, winback
from kopilka.automation.models import JobRun
from kopilka.core import audit, clock
from kopilka.core.actor import Actor
from kopilka.ledger import bulk
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


def _claim(merchant: Merchant, job: str, day: date, now: datetime) -> JobRun | None:
    """Take over the run of `job` claimed before and unfinished, if it died: one conditional
    UPDATE, so of two ticks taking over a dead run only one matches."""
    stale = JobRun.objects.filter(merchant=merchant, job=job, day=day, finished_at__isnull=True,
                                  started_at__lt=now - LEASE)
    if not stale.update(started_at=now):
        return None
    return JobRun.objects.get(merchant=merchant, job=job, day=day)


def _claim_all(merchant: Merchant, due: list[DailyJob], day: date,
               materialised: bool) -> dict[str, JobRun]:
    """Claim the merchant's due runs of the day, by job name, in one transaction: one
    `INSERT … ON CONFLICT DO NOTHING RETURNING` of them all (whoever inserted a run owns it),
    then the takeover of each run claimed before that died (`_claim`). The jobs that message
    members are claimed only when the day's materialise is finished or claimed here: they
    read its balances. Otherwise their rows are deleted before the commit, unseen."""
    now = clock.now()
    rows = [JobRun(merchant=merchant, job=job.name, day=day, started_at=now) for job in due]
    connection = connections[router.db_for_write(JobRun)]
    sql, params = bulk.insert_statement(rows, connection, with_pk=False)
    quote = connection.ops.quote_name
    sql += (f" ON CONFLICT ({quote('merchant_id')}, {quote('job')}, {quote('day')}) DO NOTHING"
            f" RETURNING {quote('id')}, {quote('job')}")
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            inserted = dict((job, pk) for pk, job in cursor.fetchall())
        claimed = {}
        for row in rows:
            if row.job in inserted:
                row.pk = inserted[row.job]
                claimed[row.job] = row
        allowed = materialised or "materialise" in claimed
        for job in due:
            if job.name not in claimed and (allowed or not job.messages_members):
                run = _claim(merchant, job.name, day, now)
                if run is not None:
                    claimed[job.name] = run
                    allowed = allowed or job.name == "materialise"
        if not allowed:
            waiting = [job.name for job in due if job.messages_members and job.name in claimed]
            if waiting:
                JobRun.objects.filter(pk__in=[claimed[name].pk for name in waiting]).delete()
                for name in waiting:
                    del claimed[name]
    return claimed


@transaction.atomic
def _finish(merchant: Merchant, finished: list[tuple[JobRun, dict[str, int]]],
            unrun: list[JobRun]) -> None:
    """Mark the merchant's runs done, with their counts and audit entries, in one transaction,
    and give back the runs claimed but not run (their materialise failed): a later tick
    claims them again."""
    now = clock.now()
    for run, counts in finished:
        run.finished_at, run.counts = now, counts
    JobRun.objects.bulk_update([run for run, _counts in finished], ["finished_at", "counts"])
    for run, counts in finished:
        audit.record("automation.job.finished", actor=Actor.system(), merchant=merchant,
                     obj=run, data={"job": run.job, "day": run.day.isoformat(), **counts})
    if unrun:
        JobRun.objects.filter(pk__in=[run.pk for run in unrun], finished_at__isnull=True).delete()


def run_due(at: datetime) -> int:
    """Run every daily job due at `at` for every active merchant; how many runs were done.

    Per merchant: its due runs claimed in one transaction (`_claim_all`), each job's work in
    its own transactions (a chunk of members each, jobs.py), then every run marked finished
    in one transaction (`_finish`). A tick that dies between a job's work and that last
    transaction leaves the run unfinished: it is taken over after its lease and finds its
    work done (the jobs skip what they did), as for a run that died half-way."""
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
            claimed = _claim_all(merchant, due, moment.date(), materialised)
            if not claimed:
                continue
            program = programs.load(merchant)
            ran, unrun = [], []
            for job in due:
                run = claimed.get(job.name)
                if run is None:
                    continue
                if job.messages_members and not materialised:
                    unrun.append(run)
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
                ran.append((run, counts))
                materialised = materialised or job.name == "materialise"
                logger.info("%s %s %s: %s", merchant.slug, job.name, moment.date(), counts)
                progress.report(_line(merchant, job, moment.date(), counts,
                                      time.monotonic() - started))
            _finish(merchant, ran, unrun)
            done += len(ran)
    return done


def _line(merchant: Merchant, job: DailyJob, day: date, counts: dict[str, int],
          seconds: float) -> str:
    figures = ", ".join(f"{name} {count}" for name, count in counts.items())
    return f"{merchant.slug} {job.name} {day}: {figures} ({seconds:.2f} s)"
