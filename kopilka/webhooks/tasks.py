"""Sending deliveries: the task, retries with backoff, and the sweep for due deliveries.

At least once, never twice at the same time. A worker *claims* a delivery with one conditional
UPDATE (still pending, due, and nobody else's lease) that pushes `next_attempt_at` a lease
ahead; a second worker's identical UPDATE then matches no row. The HTTP request is made outside
any transaction (a slow receiver must not hold a database lock), and the outcome is written
only if the claim is still the current one (the lease moment identifies it). A worker that dies
mid-request leaves the delivery due again when its lease runs out; the receiver may then see the
event twice and deduplicates on the event id, which is the same on every attempt.

Each failure schedules the next attempt after `BACKOFF` (as a task deferred with `run_after`,
where the backend can defer) and records `next_attempt_at`; `deliver_due`, which `kopilka tick`
calls, sends whatever is due, so a lost task or a backend that cannot defer loses nothing.
"""

import json
import logging
import time
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.tasks import task
from django_scopes import scope, scopes_disabled

from kopilka import __version__
from kopilka.core import clock
from kopilka.webhooks import signing, transport
from kopilka.webhooks.models import Attempt, Delivery

logger = logging.getLogger(__name__)

# The wait after the 1st, 2nd, ... failed attempt; after the last one the delivery has failed
# (8 attempts over about 45 hours).
BACKOFF = (
    timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
    timedelta(hours=6), timedelta(hours=12), timedelta(hours=24),
)
TIMEOUT = 10  # seconds, for connecting and for each read
# How long a claim keeps other workers off a delivery: well over TIMEOUT for a whole request.
LEASE = timedelta(minutes=2)
USER_AGENT = f"Kopilka-Webhooks/{__version__}"


def body_bytes(payload: dict) -> bytes:
    """The request body: compact JSON, UTF-8. The signature covers exactly these bytes."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def enqueue(delivery_id: int, at: datetime | None = None) -> None:
    """Queue the delivery's task (now, or to run at `at`). Called with on_commit."""
    if at is None:
        deliver.enqueue(delivery_id)
    elif deliver.get_backend().supports_defer:
        deliver.using(run_after=at).enqueue(delivery_id)
    # else: a backend that cannot defer (ImmediateBackend) leaves the retry to deliver_due.


def enqueue_on_commit(delivery_id: int) -> None:
    # robust: a failed enqueue must not turn a committed operation into an error; the
    # delivery is in the outbox and deliver_due sends it.
    transaction.on_commit(lambda: enqueue(delivery_id), robust=True)


@task()
def deliver(delivery_id: int) -> str:
    """Make one attempt at a delivery if it is due (a late or duplicate task does nothing)."""
    return attempt(delivery_id)


def _clean(text: str, limit: int) -> str:
    # PostgreSQL cannot store NUL in text; a receiver's answer may contain anything.
    return text.replace("\x00", "")[:limit]


def attempt(delivery_id: int, now: datetime | None = None) -> str:
    """Claim, send and record one attempt. Returns the delivery's status afterwards, or
    "skipped" when it was not due, not pending, paused or claimed by another worker."""
    now = now or clock.now()
    with scopes_disabled():  # one narrow look-up by id to learn the tenant; then scoped
        merchant_id = (Delivery.objects.filter(pk=delivery_id)
                       .values_list("merchant_id", flat=True).first())
    if merchant_id is None:
        return "skipped"  # its endpoint was deleted
    with scope(merchant=merchant_id):
        rows = Delivery.objects.filter(merchant_id=merchant_id, pk=delivery_id)
        delivery = rows.select_related("endpoint").first()
        if delivery is None or not delivery.endpoint.active:
            return "skipped"  # gone, or its endpoint is paused: sent when enabled again
        lease = now + LEASE
        claimed = rows.filter(status=Delivery.Status.PENDING, next_attempt_at__lte=now).update(
            next_attempt_at=lease, attempts=F("attempts") + 1
        )
        if not claimed:
            return "skipped"
        return _send(delivery, lease)


def _send(delivery: Delivery, lease: datetime) -> str:
    endpoint = delivery.endpoint
    body = body_bytes(delivery.payload)
    started = clock.now()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Kopilka-Event": delivery.event,
        "Kopilka-Delivery": str(delivery.event_id),
        "Kopilka-Signature": signing.signature_header(
            endpoint.secret, body, int(started.timestamp())
        ),
    }
    clock_start = time.monotonic()
    status_code, error, excerpt = None, "", ""
    try:
        answer = transport.post(endpoint.url, body, headers, TIMEOUT)
        status_code, excerpt = answer.status, answer.body
    except transport.Refused as exc:
        error = str(exc)
    duration_ms = int((time.monotonic() - clock_start) * 1000)
    finished = started + timedelta(milliseconds=duration_ms)
    ok = status_code is not None and 200 <= status_code < 300
    with transaction.atomic():
        Attempt.objects.create(
            merchant_id=delivery.merchant_id, delivery=delivery, started_at=started,
            duration_ms=duration_ms, status_code=status_code, error=_clean(error, 500),
            response_body=_clean(excerpt, transport.EXCERPT),
        )
        ours = Delivery.objects.filter(merchant_id=delivery.merchant_id, pk=delivery.pk,
                                       next_attempt_at=lease)
        if ok:
            ours.update(status=Delivery.Status.DELIVERED, delivered_at=finished,
                        next_attempt_at=finished, last_status_code=status_code)
            return Delivery.Status.DELIVERED
        failures = delivery.failures + 1
        if failures > len(BACKOFF):
            ours.update(status=Delivery.Status.FAILED, failures=failures,
                        next_attempt_at=finished, last_status_code=status_code)
            return Delivery.Status.FAILED
        next_at = finished + BACKOFF[failures - 1]
        if ours.update(failures=failures, next_attempt_at=next_at,
                       last_status_code=status_code):
            transaction.on_commit(lambda: enqueue(delivery.pk, next_at), robust=True)
        return Delivery.Status.PENDING


def deliver_due(now: datetime | None = None, limit: int = 500) -> int:
    """Attempt every pending delivery whose time has come (oldest due first, at most `limit`),
    whichever merchant it belongs to. Returns how many were attempted. Safe to run beside the
    workers and beside itself: each delivery is claimed before it is sent."""
    now = now or clock.now()
    with scopes_disabled():  # the sweep is across merchants by nature; attempt() scopes
        due = list(
            Delivery.objects.filter(status=Delivery.Status.PENDING, next_attempt_at__lte=now,
                                    endpoint__active=True)
            .order_by("next_attempt_at").values_list("pk", flat=True)[:limit]
        )
    return sum(attempt(pk, now) != "skipped" for pk in due)
