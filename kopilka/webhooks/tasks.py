"""Sending deliveries: the task, retries with backoff, and the sweep for due deliveries.

At least once, never twice at the same time, in the shape kopilka/core/outbox.py describes
(claim by a conditional UPDATE with a lease, send outside any transaction, write the outcome
only while the claim holds, retry after BACKOFF, deliver_due for whatever is due). A worker that
dies mid-request leaves the delivery due again when its lease runs out; the receiver may then
see the event twice and deduplicates on the event id, which is the same on every attempt.
"""

import json
import logging
import time
from datetime import datetime, timedelta

from django.db import transaction
from django.tasks import task

from kopilka import __version__
from kopilka.core import clock, outbox
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
    """Queue the delivery's task (now, or to run at `at`)."""
    outbox.enqueue(deliver, delivery_id, at)


def enqueue_on_commit(delivery_id: int) -> None:
    outbox.enqueue_on_commit(deliver, delivery_id)


@task()
def deliver(delivery_id: int) -> str:
    """Make one attempt at a delivery if it is due (a late or duplicate task does nothing)."""
    return attempt(delivery_id)


def attempt(delivery_id: int, now: datetime | None = None) -> str:
    """Claim, send and record one attempt. Returns the delivery's status afterwards, or
    "skipped" when it was not due, not pending, paused or claimed by another worker."""
    now = now or clock.now()

    def claimed(rows) -> str:
        delivery = rows.select_related("endpoint").first()
        if delivery is None or not delivery.endpoint.active:
            return outbox.SKIPPED  # gone, or its endpoint is paused: sent when enabled again
        lease = outbox.claim(rows, waiting=Delivery.Status.PENDING, now=now, lease=LEASE)
        return outbox.SKIPPED if lease is None else _send(delivery, lease)

    return outbox.in_scope(Delivery, delivery_id, claimed)


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
            duration_ms=duration_ms, status_code=status_code, error=outbox.scrub(error, 500),
            response_body=outbox.scrub(excerpt, transport.EXCERPT),
        )
        ours = Delivery.objects.filter(merchant_id=delivery.merchant_id, pk=delivery.pk,
                                       next_attempt_at=lease)
        if ok:
            ours.update(status=Delivery.Status.DELIVERED, delivered_at=finished,
                        next_attempt_at=finished, last_status_code=status_code)
            return Delivery.Status.DELIVERED
        failures = delivery.failures + 1
        next_at = outbox.retry_at(failures, BACKOFF, finished)
        if next_at is None:
            ours.update(status=Delivery.Status.FAILED, failures=failures,
                        next_attempt_at=finished, last_status_code=status_code)
            return Delivery.Status.FAILED
        if ours.update(failures=failures, next_attempt_at=next_at,
                       last_status_code=status_code):
            outbox.enqueue_on_commit(deliver, delivery.pk, next_at)
        return Delivery.Status.PENDING


def deliver_due(now: datetime | None = None, limit: int = 500) -> int:
    """Attempt every pending delivery whose time has come (oldest due first, at most `limit`),
    whichever merchant it belongs to; how many were attempted. Deliveries of paused endpoints
    wait."""
    return outbox.deliver_due(Delivery, attempt, now=now or clock.now(), limit=limit,
                              status=Delivery.Status.PENDING, endpoint__active=True)
