"""Sending messages: the task, retries with backoff, and the sweep for due messages.

At least once, never twice at the same time, in the shape kopilka/core/outbox.py describes
(claim by a conditional UPDATE with a lease, send outside any transaction, write the outcome
only while the claim holds, retry after BACKOFF, deliver_due for whatever is due). A sent
message's status is written together with one `MessagePart` per id the provider gave (what its
delivery receipts name, kopilka/messaging/receipts.py). A worker that dies mid-send leaves the
message due again when its lease runs out; gateways that deduplicate on a client reference get
the message id, which is the same on every attempt.

An SMS is paid for after the claim and before the backend sees it (`billing.reserve`): one
the merchant's SMS money does not pay for is held instead (status `held`, which this module
never picks up; a top-up queues it again). One that fails for good gets its charge back in
the transaction that records the failure.
"""

import json
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db import transaction
from django.tasks import task

from kopilka.core import clock, metrics, outbox
from kopilka.messaging import billing, push, sms
from kopilka.messaging.backends import get_backend
from kopilka.messaging.backends.base import Gone, Outgoing, Refused
from kopilka.messaging.models import Channel, Event, Message, MessagePart
from kopilka.messaging.receipts import PROVIDER_ID_LENGTH

logger = logging.getLogger(__name__)

# The wait after the 1st, 2nd, ... failed attempt; after the last one the message has failed
# (5 attempts over about 2.6 hours: a message about a purchase is worthless a day later).
BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30),
           timedelta(hours=2))
# How long a claim keeps other workers off a message: well over any backend's timeout.
LEASE = timedelta(minutes=2)


def enqueue(message_id: int, at: datetime | None = None) -> None:
    """Queue the message's task (now, or to run at `at`)."""
    outbox.enqueue(deliver, message_id, at)


def enqueue_on_commit(message_id: int, at: datetime | None = None) -> None:
    outbox.enqueue_on_commit(deliver, message_id, at)


def enqueue_many_on_commit(message_ids: Sequence[int], at: datetime | None = None) -> None:
    """`enqueue_on_commit` for many messages (messaging.queue_many): after the commit, their
    tasks are queued in one transaction — with the database tasks backend one commit for all
    instead of one per task. Should that fail, each is queued alone; one that still fails is
    logged and left to the tick's `deliver_due`, as with `enqueue_on_commit`."""
    if message_ids:
        ids = list(message_ids)
        transaction.on_commit(lambda: _enqueue_many(ids, at), robust=True)


def _enqueue_many(message_ids: list[int], at: datetime | None) -> None:
    try:
        with transaction.atomic():
            for message_id in message_ids:
                enqueue(message_id, at)
        return
    except Exception:
        logger.exception("queuing %s message tasks at once failed; queuing each alone",
                         len(message_ids))
    for message_id in message_ids:
        try:
            enqueue(message_id, at)
        except Exception:
            logger.exception("queuing the task of message %s failed; deliver_due sends it",
                             message_id)


@task()
def deliver(message_id: int) -> str:
    """Make one attempt at a message if it is due (a late or duplicate task does nothing)."""
    return attempt(message_id)


def attempt(message_id: int, now: datetime | None = None) -> str:
    """Claim, send and record one attempt. Returns the message's status afterwards, or
    "skipped" when it was not due, not queued, or claimed by another worker."""
    now = now or clock.now()

    def claimed(rows) -> str:
        lease = outbox.claim(rows, waiting=Message.Status.QUEUED, now=now, lease=LEASE)
        if lease is None:
            return outbox.SKIPPED
        message = rows.get()
        if not billing.reserve(message, lease):
            return Message.Status.HELD
        return _send(message, lease)

    return outbox.in_scope(Message, message_id, claimed)


def _send(message: Message, lease: datetime) -> str:
    address = message.recipient
    subscription = None
    if message.channel == Channel.PUSH:
        subscription = push.of_recipient(message.recipient)
        if subscription is None:  # switched off or gone since it was queued
            return _by_sms_instead(message, lease)
        address = json.dumps(push.subscription_info(subscription))
    outgoing = Outgoing(id=message.pk, channel=message.channel, recipient=address,
                        body=message.body, subject=message.subject)
    sent, error, refused, provider = None, "", False, ""
    try:
        backend = get_backend(message.channel)
        provider = backend.name
        sent = backend.send(outgoing)
        if subscription is not None:
            push.sent(subscription.pk)
    except Gone:
        push.gone(subscription.pk)
        return _by_sms_instead(message, lease)
    except Refused as exc:
        error, refused = str(exc) or type(exc).__name__, True
    except Exception as exc:  # any failure of a gateway or its connection: try again later
        logger.warning("message %s: sending failed: %s", message.pk, exc)
        error = f"{type(exc).__name__}: {exc}"
    finished = clock.now()
    backend_label = (message.channel, provider or "unknown")
    ours = Message.objects.filter(merchant_id=message.merchant_id, pk=message.pk,
                                  next_attempt_at=lease)
    error = outbox.scrub(error, 500)
    if sent is not None:
        metrics.MESSAGES_SENT.labels(*backend_label).inc()
        ids = [_stored_id(part_id) for part_id in sent.ids]
        with transaction.atomic():  # the parts exist exactly when the message is `sent`
            if ours.update(status=Message.Status.SENT, provider=provider,
                           provider_id=ids[0] if ids else "", parts=sent.parts or message.parts,
                           sent_at=finished, next_attempt_at=finished, error="",
                           **_scrubbed(message)):
                MessagePart.objects.bulk_create(
                    MessagePart(merchant_id=message.merchant_id, message_id=message.pk,
                                number=number, provider=provider, provider_id=part_id)
                    for number, part_id in enumerate(ids, start=1))
        return Message.Status.SENT
    if refused:
        metrics.MESSAGES_FAILED.labels(*backend_label, "refused").inc()
        _finish(message, ours, status=Message.Status.REFUSED, provider=provider, error=error,
                next_attempt_at=finished, **_scrubbed(message))
        return Message.Status.REFUSED
    next_at = outbox.retry_at(message.attempts, BACKOFF, finished)
    metrics.MESSAGES_FAILED.labels(*backend_label, "failed" if next_at is None else "retry").inc()
    if next_at is None:
        _finish(message, ours, status=Message.Status.FAILED, provider=provider, error=error,
                next_attempt_at=finished, **_scrubbed(message))
        return Message.Status.FAILED
    with transaction.atomic():
        if ours.update(next_attempt_at=next_at, provider=provider, error=error):
            outbox.enqueue_on_commit(deliver, message.pk, next_at)
    return Message.Status.QUEUED


def _by_sms_instead(message: Message, lease: datetime) -> str:
    """A push whose subscription is gone goes as the SMS it replaced: the row becomes that SMS
    (the member's number, its parts) and is queued again, to be paid for and sent as any SMS."""
    phone = message.member.person.phone if message.member_id else None
    ours = Message.objects.filter(merchant_id=message.merchant_id, pk=message.pk,
                                  next_attempt_at=lease)
    if not phone:  # erased since: nobody to send it to
        _finish(message, ours, status=Message.Status.FAILED, provider="webpush",
                error="push subscription gone and no phone number", next_attempt_at=clock.now())
        return Message.Status.FAILED
    now = clock.now()
    with transaction.atomic():
        if ours.update(channel=Channel.SMS, recipient=str(phone), subject="",
                       parts=len(sms.segment(message.body).parts), next_attempt_at=now):
            outbox.enqueue_on_commit(deliver, message.pk, None)
    return Message.Status.QUEUED


def _stored_id(provider_id: str) -> str:
    """A provider's id as a column holds it (PostgreSQL text cannot hold NUL; one longer than
    the column is cut, and no receipt naming it can match: receipts.apply refuses such ids)."""
    return outbox.scrub(provider_id, PROVIDER_ID_LENGTH)


# What a one-time code's text becomes once it is sent or given up: the code must not outlive
# its delivery in the database (its hash in kopilka.codes is all the check needs).
SCRUBBED = "[one-time code]"


def _scrubbed(message: Message) -> dict[str, str]:
    return {"body": SCRUBBED} if message.event == Event.ONE_TIME_CODE else {}


def _finish(message: Message, ours, **final) -> None:
    """Record that the message failed for good and, if our claim still held, give its SMS
    charge back in the same transaction: the account is locked first, as every billing write
    locks it, so this never waits on a worker that holds the account and wants the message."""
    with transaction.atomic():
        if message.channel == Channel.SMS:
            billing.lock(message.merchant_id)
        if ours.update(**final) and message.channel == Channel.SMS:
            billing.refund(message)


def deliver_due(now: datetime | None = None, limit: int = 500) -> int:
    """Attempt every queued message whose time has come (oldest due first, at most `limit`),
    whichever merchant it belongs to; how many were attempted."""
    return outbox.deliver_due(Message, attempt, now=now or clock.now(), limit=limit,
                              status=Message.Status.QUEUED)
