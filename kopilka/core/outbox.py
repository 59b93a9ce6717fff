"""The shape both outboxes deliver with (messaging/tasks.py, webhooks/tasks.py): at least once,
never twice at the same time.

- An operation writes its outbox row in its own transaction and queues the row's task with
  `enqueue_on_commit` — robustly: a failed enqueue must not turn a committed operation into an
  error; the row is in the outbox and the tick's `deliver_due` sends it.
- A worker *claims* a row with one conditional UPDATE (still waiting, due, and nobody else's
  lease) that pushes `next_attempt_at` a lease ahead and counts the attempt; a second worker's
  identical UPDATE then matches no row (healthchecks' `sendalerts` claims the same way).
- It sends outside any transaction (a slow receiver must not hold a lock) and writes the
  outcome only while the claim is still its own: the lease moment identifies it.
- A failure waits `retry_at` (a BACKOFF table) and is queued again, deferred where the tasks
  backend can defer; `deliver_due` picks up whatever is due, so nothing is lost either way.

The rows are tenant rows: an attempt learns the merchant with one narrow look-up by id, then
works inside that merchant's scope.
"""

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from django.db import models, transaction
from django.db.models import F
from django_scopes import scope, scopes_disabled

SKIPPED = "skipped"  # what an attempt returns when the row was not its to send


def scrub(text: str, limit: int) -> str:
    """Text from outside (a gateway's error, a receiver's answer, a provider's id) as a column
    can hold it: PostgreSQL text cannot store NUL; cut to the column's length."""
    return text.replace("\x00", "")[:limit]


def enqueue(task, row_id: int, at: datetime | None = None) -> None:
    """Queue the row's task now, or to run at `at`. A tasks backend that cannot defer
    (ImmediateBackend, Celery through django.tasks) leaves a later attempt to deliver_due."""
    if at is None:
        task.enqueue(row_id)
    elif task.get_backend().supports_defer:
        task.using(run_after=at).enqueue(row_id)


def enqueue_on_commit(task, row_id: int, at: datetime | None = None) -> None:
    transaction.on_commit(lambda: enqueue(task, row_id, at), robust=True)


def in_scope(model: type[models.Model], row_id: int, work: Callable[[models.QuerySet], str]
             ) -> str:
    """Run `work(rows)` in the row's merchant scope, `rows` being the queryset of that one row
    (filtered by merchant and id); SKIPPED when the row is gone."""
    with scopes_disabled():  # one narrow look-up by id to learn the tenant; then scoped
        merchant_id = (model.objects.filter(pk=row_id)
                       .values_list("merchant_id", flat=True).first())
    if merchant_id is None:
        return SKIPPED
    with scope(merchant=merchant_id):
        return work(model.objects.filter(merchant_id=merchant_id, pk=row_id))


def claim(rows: models.QuerySet, *, waiting: str, now: datetime, lease: timedelta
          ) -> datetime | None:
    """Claim the row for one attempt if it is `waiting` (its status) and due at `now`: the
    lease moment that identifies this claim, or None when it is not ours to send."""
    until = now + lease
    claimed = rows.filter(status=waiting, next_attempt_at__lte=now).update(
        next_attempt_at=until, attempts=F("attempts") + 1
    )
    return until if claimed else None


def retry_at(failures: int, backoff: Sequence[timedelta], finished: datetime
             ) -> datetime | None:
    """When to try again after the `failures`-th failure; None once the table is used up
    (the row has failed for good)."""
    if failures > len(backoff):
        return None
    return finished + backoff[failures - 1]


def deliver_due(model: type[models.Model], attempt: Callable[[int, datetime], str], *,
                now: datetime, limit: int, **waiting) -> int:
    """Attempt every row matching `waiting` (its status, ...) that is due, oldest due first, at
    most `limit`, whichever merchant it belongs to; how many were attempted. Safe beside the
    workers and beside itself: each row is claimed before it is sent."""
    with scopes_disabled():  # the sweep is across merchants by nature; attempt() scopes
        due = list(model.objects.filter(next_attempt_at__lte=now, **waiting)
                   .order_by("next_attempt_at").values_list("pk", flat=True)[:limit])
    return sum(attempt(pk, now) != SKIPPED for pk in due)
