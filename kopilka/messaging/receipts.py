"""Delivery receipts: what the provider later says became of a message it accepted.

A message is `sent` once the provider takes it; its receipt (an SMPP deliver_sm, a gateway's
status callback) then says `delivered` or that it failed. Both paths end here, in `apply`:

- **delivered**: the message becomes `delivered` with `delivered_at`. A message sent in several
  parts has one provider id per part (a `MessagePart` row each, written with its `sent`
  status) and becomes delivered only when every part is: until then each part's receipt marks
  that part delivered.
- **failed** (undeliverable, rejected, expired, deleted): the part and its message become
  `failed` with the provider's error, and the message is not retried — the provider did try.
- **pending** (accepted, en route, buffered): nothing changes.

A receipt finds its part by provider and exact provider id across all merchants (a receipt
names no tenant): one look-up of the (provider, provider_id) index, the newest message's part
when a provider ever reused an id. Receipts are idempotent: a receipt repeated, or arriving
after the part's or the message's outcome is settled, changes nothing; the first final word
wins. Each change is a compare-and-set: a part is marked only while it is unsettled, a message
changes only while it is `sent`, and it becomes delivered only when no part of it is left
undelivered. Each of those statements commits on its own (no transaction around them), so of
two parts' receipts arriving at once on two sessions, the one that checks last sees both parts
delivered; and a receipt repeated after a crash between its two statements completes the
message.

A receipt can overtake its own message: a fast SMSC sends it before the worker has stored the
provider ids the SMSC just gave. `later` keeps such receipts and tries them again for a minute
before counting them as unknown.
"""

import enum
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from django.db import close_old_connections, connection
from django.db.models import Exists, OuterRef
from django_scopes import scopes_disabled

from kopilka.core import clock, outbox
from kopilka.messaging.models import Message, MessagePart

logger = logging.getLogger(__name__)

DELIVERED, FAILED, PENDING = "delivered", "failed", "pending"
STATES = (DELIVERED, FAILED, PENDING)
PROVIDER_ID_LENGTH = 100  # MessagePart.provider_id's max_length
# Outcomes since the process started, for the log and the receiver's summary.
counts: Counter = Counter()
_counting = threading.Lock()


class Outcome(enum.Enum):
    UPDATED = "updated"  # the message changed
    UNCHANGED = "unchanged"  # the message is known; the receipt changes nothing (any more)
    UNKNOWN = "unknown"  # no message of this provider has this id

    def __bool__(self):
        return self is Outcome.UPDATED


@dataclass(frozen=True)
class Receipt:
    provider: str  # the backend's name: "smpp", "http"
    provider_id: str  # the id of the message (or of one of its parts) at the provider
    state: str  # DELIVERED, FAILED or PENDING
    error: str = ""  # the provider's words on a failure: "UNDELIV err:001"


def _find(provider: str, provider_id: str) -> tuple[int, int, str] | None:
    """(message pk, part number, message status) of the part with this id, or None."""
    with scopes_disabled():  # a receipt names no merchant: provider and id are the key
        return (MessagePart.objects.filter(provider=provider, provider_id=provider_id)
                .order_by("-message_id", "number")
                .values_list("message_id", "number", "message__status").first())


def apply(provider: str, provider_id: str, state: str, error: str = "",
          at: datetime | None = None) -> Outcome:
    """Record what the provider says of the message (or message part) `provider_id`: see the
    module's description. `at` is when it was delivered (default: now). The outcome is truthy
    when the message or its part changed."""
    outcome = _settle(provider, provider_id, state, error, at or clock.now())
    _record(provider, provider_id, state, outcome)
    return outcome


def take(receipt: Receipt, at: datetime | None = None) -> Outcome:
    """`apply` for a receipt that may have overtaken its message (an SMPP session): one whose
    message is not known yet is kept by `later` and tried again, instead of given up."""
    at = at or clock.now()
    outcome = _settle(receipt.provider, receipt.provider_id, receipt.state, receipt.error, at)
    if outcome is Outcome.UNKNOWN and _storable(receipt.provider_id):
        later.add(receipt, at)
    else:
        _record(receipt.provider, receipt.provider_id, receipt.state, outcome)
    return outcome


def _record(provider: str, provider_id: str, state: str, outcome: Outcome, note: str = ""):
    with _counting:
        counts[outcome.value] += 1
    if outcome is Outcome.UNKNOWN:
        logger.warning("receipt for an unknown message: provider %s, id %r, %s%s", provider,
                       provider_id, state, note)
    else:
        logger.info("receipt: provider %s, id %r, %s: %s%s", provider, provider_id, state,
                    outcome.value, note)


def _storable(provider_id: str) -> bool:
    return (0 < len(provider_id) <= PROVIDER_ID_LENGTH and "\x00" not in provider_id
            and provider_id == provider_id.strip())


def _settle(provider, provider_id, state, error, at) -> Outcome:
    if state not in STATES:
        raise ValueError(f"state must be one of {STATES}, not {state!r}")
    if not _storable(provider_id):
        return Outcome.UNKNOWN  # no stored id can look like that
    found = _find(provider, provider_id)
    if found is None:
        return Outcome.UNKNOWN
    message_id, number, status = found
    if status != Message.Status.SENT or state == PENDING:
        return Outcome.UNCHANGED  # settled already (the first final word wins), or news
    with scopes_disabled():
        # This id's parts of this message (one, unless a provider repeats an id), while
        # unsettled; and the message, while nothing settled it.
        part = MessagePart.objects.filter(message_id=message_id, provider=provider,
                                          provider_id=provider_id)
        unsettled = part.filter(delivered_at__isnull=True, error="")
        message = Message.objects.filter(pk=message_id, status=Message.Status.SENT)
        if state == FAILED:
            error = outbox.scrub(error or "failed", 500)
            marked = unsettled.update(error=error)
            count = MessagePart.objects.filter(message_id=message_id).count()
            if count > 1:
                error = f"part {number} of {count}: {error}"[:500]
            # Only if this part did fail: a part delivered before keeps its word.
            failed = part.exclude(error="").filter(message_id=OuterRef("pk"))
            settled = message.filter(Exists(failed)).update(status=Message.Status.FAILED,
                                                            error=error)
        else:
            marked = unsettled.update(delivered_at=at)
            undelivered = MessagePart.objects.filter(message_id=OuterRef("pk"),
                                                     delivered_at__isnull=True)
            settled = message.filter(~Exists(undelivered)).update(
                status=Message.Status.DELIVERED, delivered_at=at)
    return Outcome.UPDATED if marked or settled else Outcome.UNCHANGED


class Later:
    """Receipts whose message is not known yet, tried again every `every` seconds for `grace`
    seconds by one background thread (started when needed, gone when nothing waits)."""

    def __init__(self, grace: float = 60, every: float = 1):
        self.grace, self.every = grace, every
        self._waiting: list[tuple[Receipt, datetime, float]] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, receipt: Receipt, at: datetime) -> None:
        with self._lock:
            self._waiting.append((receipt, at, time.monotonic() + self.grace))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="kopilka-receipts",
                                                daemon=True)
                self._thread.start()

    def waiting(self) -> int:
        with self._lock:
            return len(self._waiting)

    def retry(self) -> None:
        """One pass: apply what can be applied now, give up what waited out its grace."""
        with self._lock:
            batch, self._waiting = self._waiting, []
        kept = []
        for receipt, at, deadline in batch:
            try:
                outcome = _settle(receipt.provider, receipt.provider_id, receipt.state,
                                  receipt.error, at)
            except Exception:  # the database is away for a moment: keep it for the next pass
                logger.exception("receipt for %s %r: retry failed", receipt.provider,
                                 receipt.provider_id)
                outcome = Outcome.UNKNOWN
            if outcome is not Outcome.UNKNOWN or time.monotonic() >= deadline:
                _record(receipt.provider, receipt.provider_id, receipt.state, outcome,
                        " (after waiting for its message)")
            else:
                kept.append((receipt, at, deadline))
        with self._lock:
            self._waiting = kept + self._waiting

    def _run(self) -> None:
        try:
            while True:
                time.sleep(self.every)
                try:
                    close_old_connections()
                    self.retry()
                except Exception:  # keep the thread (and the receipts) alive
                    logger.exception("retrying receipts failed")
                with self._lock:
                    if not self._waiting:
                        self._thread = None
                        return
        finally:
            connection.close()  # this thread's own connection: the thread is done with it

    def join(self, timeout: float | None = None) -> None:
        """Wait until nothing waits any more and the thread is gone (tests, shutdown)."""
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join(timeout)


later = Later()
