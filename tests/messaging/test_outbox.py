"""The outbox: a message is written in the caller's transaction, sent after commit by the real
task worker, retried with backoff on failure, refused without retry, and never sent by two
workers at once."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import transaction
from django.test import override_settings
from django_scopes import scope, scopes_disabled

from kopilka.core.errors import InvalidInput
from kopilka.members.models import Member
from kopilka.messaging import services, tasks
from kopilka.messaging.backends.base import BaseBackend, DeliveryError, Outgoing, Refused, Sent
from kopilka.messaging.models import Message
from tests.webhooks.tools import run_worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow,
              pytest.mark.usefixtures("sending")]

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


class FlakyBackend(BaseBackend):
    """Fails `failures` times with a passing error, then accepts; records every call."""

    name = "flaky"
    failures = 2
    calls: list[int] = []
    sent: list[Outgoing] = []

    def send(self, message: Outgoing) -> Sent:
        self.calls.append(message.id)
        if len(self.calls) <= self.failures:
            raise DeliveryError(f"gateway busy (call {len(self.calls)})")
        self.sent.append(message)
        return Sent(provider_id=f"flaky-{len(self.calls)}", parts=2)


class RefusingBackend(BaseBackend):
    name = "refusing"
    calls = 0

    def send(self, message: Outgoing) -> Sent:
        RefusingBackend.calls += 1
        raise Refused("invalid destination address")


class ReentrantBackend(BaseBackend):
    """While sending, a second worker tries the same message: it must find it claimed."""

    name = "reentrant"
    second_worker: list[str] = []
    sent: list[int] = []

    def send(self, message: Outgoing) -> Sent:
        self.second_worker.append(tasks.attempt(message.id))
        self.second_worker.append(str(tasks.deliver_due()))
        self.sent.append(message.id)
        return Sent(provider_id="once")


def sms_backend(cls):
    return override_settings(MESSAGING={"sms": {"BACKEND": f"{__name__}.{cls.__name__}"},
                                        "email": {"BACKEND": f"{__name__}.{cls.__name__}"}})


def queue(alice, **overrides):
    arguments = {"event": "accrual", "member": alice.member,
                 "context": {"points": 2_100, "amount": 150_000, "balance": 10_500}}
    with scope(merchant=alice.merchant):
        return services.queue(alice.merchant, **{**arguments, **overrides})


def stored(message_id) -> Message:
    with scopes_disabled():
        return Message.objects.get(pk=message_id)


def test_a_rolled_back_transaction_sends_nothing(alice, outbox):
    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        assert queue(alice) is not None
        raise Abort
    run_worker()
    with scopes_disabled():
        assert not Message.objects.exists()
    assert outbox == []


def test_a_committed_message_is_sent_after_commit_by_the_worker(alice, outbox):
    with time_machine.travel(T0, tick=False):
        with transaction.atomic():
            message = queue(alice)
            assert outbox == []  # written, not sent: the task is queued on commit
        assert outbox == []
        run_worker()
    [sent] = outbox
    assert sent == Outgoing(id=message.pk, channel="sms", recipient="+79160000001",
                            body="Alice Coffee: +21 бонус за покупку на 1 500,00 ₽. "
                                 "Баланс: 105 бонусов")
    row = stored(message.pk)
    assert (row.status, row.attempts, row.provider, row.provider_id, row.parts, row.cost,
            row.error) == ("sent", 1, "locmem", "locmem-1", 1, 0, "")
    assert row.sent_at == row.created_at == T0
    run_worker()  # nothing left to do: a second run sends nothing
    assert len(outbox) == 1


def test_a_failing_gateway_is_retried_with_backoff_until_it_accepts(alice):
    FlakyBackend.calls, FlakyBackend.sent = [], []
    with sms_backend(FlakyBackend):
        with time_machine.travel(T0, tick=False):
            message = queue(alice)
            run_worker()
        first = stored(message.pk)
        assert (first.status, first.attempts, first.error) == (
            "queued", 1, "DeliveryError: gateway busy (call 1)")
        assert first.next_attempt_at == T0 + timedelta(minutes=1)
        with time_machine.travel(T0 + timedelta(seconds=59), tick=False):
            assert tasks.deliver_due() == 0  # not due yet
        with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
            run_worker()
        second = stored(message.pk)
        assert (second.status, second.attempts) == ("queued", 2)
        assert second.next_attempt_at == T0 + timedelta(minutes=6)
        with time_machine.travel(T0 + timedelta(minutes=6), tick=False):
            run_worker()
            run_worker()
    row = stored(message.pk)
    assert FlakyBackend.calls == [message.pk] * 3
    assert [m.id for m in FlakyBackend.sent] == [message.pk]
    assert (row.status, row.attempts, row.provider, row.provider_id, row.parts, row.error) == (
        "sent", 3, "flaky", "flaky-3", 2, "")
    assert row.sent_at == T0 + timedelta(minutes=6)


def test_a_message_fails_after_its_last_retry(alice):
    FlakyBackend.calls, FlakyBackend.sent = [], []
    with sms_backend(FlakyBackend):
        FlakyBackend.failures = 99
        try:
            moment = T0
            with time_machine.travel(moment, tick=False):
                message = queue(alice)
            waits = [timedelta(0)] + list(tasks.BACKOFF)
            for wait in waits:
                moment += wait
                with time_machine.travel(moment, tick=False):
                    assert tasks.deliver_due() == 1
            with time_machine.travel(moment + timedelta(days=1), tick=False):
                assert tasks.deliver_due() == 0
        finally:
            FlakyBackend.failures = 2
    row = stored(message.pk)
    assert (row.status, row.attempts, row.error) == ("failed", 5,
                                                     "DeliveryError: gateway busy (call 5)")
    assert len(FlakyBackend.calls) == 5 and FlakyBackend.sent == []
    # 1 + 5 + 30 + 120 minutes after the first attempt.
    assert row.next_attempt_at == T0 + timedelta(minutes=156)


def test_a_refusal_is_final(alice):
    RefusingBackend.calls = 0
    with sms_backend(RefusingBackend), time_machine.travel(T0, tick=False):
        message = queue(alice)
        run_worker()
        assert tasks.deliver_due(T0 + timedelta(days=1)) == 0
    row = stored(message.pk)
    assert (row.status, row.attempts, row.provider, row.error) == (
        "refused", 1, "refusing", "invalid destination address")
    assert RefusingBackend.calls == 1


def test_a_second_worker_cannot_send_a_message_being_sent(alice):
    ReentrantBackend.second_worker, ReentrantBackend.sent = [], []
    with sms_backend(ReentrantBackend):
        message = queue(alice)
        assert tasks.attempt(message.pk) == "sent"
        assert tasks.attempt(message.pk) == "skipped"  # a late duplicate task
    assert ReentrantBackend.second_worker == ["skipped", "0"]
    assert ReentrantBackend.sent == [message.pk]
    assert stored(message.pk).attempts == 1


def test_a_lost_task_is_sent_by_deliver_due(alice, outbox):
    with time_machine.travel(T0, tick=False):
        message = queue(alice)  # outside a transaction: its task is queued at once ...
    from django_tasks_db.models import DBTaskResult

    DBTaskResult.objects.all().delete()  # ... and lost
    assert tasks.deliver_due(T0 - timedelta(seconds=1)) == 0
    assert tasks.deliver_due(T0) == 1
    assert [m.id for m in outbox] == [message.pk]


def test_recipients(alice, outbox):
    # Email goes to the member's address; a member without one gets nothing.
    assert queue(alice, channel="email") is None
    with scopes_disabled():
        Member.objects.filter(pk=alice.member.pk).update(email="anna@example.com")
        alice.member.refresh_from_db()
    email = queue(alice, channel="email", language="en")
    assert (email.recipient, email.subject, email.parts) == (
        "anna@example.com", "Added to your balance", 1)
    # An explicit recipient: a phone in the merchant's country format, or an email address.
    code = queue(alice, member=None, recipient="8 (916) 555-12-34", event="one_time_code",
                 context={"code": "4821"})
    assert (code.recipient, code.member_id, code.body) == (
        "+79165551234", None, "Alice Coffee: код 4821. Никому его не сообщайте.")
    for channel, bad in (("sms", "12"), ("email", "not-an-address")):
        with pytest.raises(InvalidInput) as error:
            queue(alice, member=None, recipient=bad, channel=channel)
        assert error.value.field == "recipient"
