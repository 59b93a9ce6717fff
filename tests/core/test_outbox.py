"""The outbox helper both outboxes deliver with: NUL scrubbing, the backoff table's end, and a
claim that only one of two workers wins."""

from datetime import UTC, datetime, timedelta

import pytest

from kopilka.core import outbox
from kopilka.messaging.models import Message

NOW = datetime(2027, 1, 1, 12, 0, tzinfo=UTC)
BACKOFF = (timedelta(minutes=1), timedelta(minutes=5))


def test_scrub_drops_nul_and_cuts_to_the_column():
    assert outbox.scrub("a\x00b\x00cdef", 4) == "abcd"


def test_retry_at_follows_the_table_then_gives_up():
    assert outbox.retry_at(1, BACKOFF, NOW) == NOW + timedelta(minutes=1)
    assert outbox.retry_at(2, BACKOFF, NOW) == NOW + timedelta(minutes=5)
    assert outbox.retry_at(3, BACKOFF, NOW) is None


@pytest.mark.django_db
def test_of_two_claims_on_one_row_only_the_first_wins(shop):
    message = Message.objects.create(
        merchant=shop.merchant, event="registration", channel="sms", recipient="+79990000001",
        language="ru", body="hi", parts=1, next_attempt_at=NOW, created_at=NOW)
    rows = Message.objects.filter(merchant=shop.merchant, pk=message.pk)
    lease = timedelta(minutes=2)
    first = outbox.claim(rows, waiting=Message.Status.QUEUED, now=NOW, lease=lease)
    second = outbox.claim(rows, waiting=Message.Status.QUEUED, now=NOW, lease=lease)
    assert (first, second) == (NOW + lease, None)
    message.refresh_from_db()
    assert (message.attempts, message.next_attempt_at) == (1, NOW + lease)
    # Once the lease has run out (a worker died mid-send), the row is due again.
    assert outbox.claim(rows, waiting=Message.Status.QUEUED, now=NOW + lease,
                        lease=lease) == NOW + 2 * lease


@pytest.mark.django_db
def test_an_attempt_on_a_row_that_is_gone_is_skipped():
    assert outbox.in_scope(Message, 987654321, lambda rows: "sent") == outbox.SKIPPED
