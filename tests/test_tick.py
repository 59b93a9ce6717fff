"""`kopilka tick`: the periodic pass — sends what a lost task left in the outboxes, purges old
idempotency records, and doing it twice does nothing twice."""

from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine
from django_scopes import scope, scopes_disabled

from kopilka import cli
from kopilka.api.models import IdempotencyRecord
from kopilka.core.actor import Actor
from kopilka.messaging import services as messaging
from kopilka.messaging.models import Message

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def test_tick_sends_what_a_lost_task_left_and_only_once(alice, outbox, capsys):
    with time_machine.travel(NOW, tick=False):
        with scope(merchant=alice.merchant):
            messaging.save_settings(alice.merchant, transactional="all", quiet_from=time(0),
                                    quiet_to=time(0), actor=Actor.cli())
            # The test's transaction never commits, so the message's task is never queued:
            # exactly what a worker crash between commit and enqueue leaves behind.
            message = messaging.queue(alice.merchant, event="accrual", member=alice.member,
                                      context={"points": 2_100, "amount": 150_000,
                                               "balance": 10_500})
        assert cli.main(["tick"]) == 0
        assert cli.main(["tick"]) == 0
    first, second = capsys.readouterr().out.splitlines()
    # alice's daily jobs are due (12:00 in Moscow) and run once: materialise, expiry
    # reminders, birthday gifts.
    assert first == ("webhook deliveries due: 0; messages due: 1; "
                     "idempotency records purged: 0; merchant jobs run: 3")
    assert second == ("webhook deliveries due: 0; messages due: 0; "
                      "idempotency records purged: 0; merchant jobs run: 0")
    assert [sent.recipient for sent in outbox] == ["+79160000001"]
    with scopes_disabled():
        assert Message.objects.get(pk=message.pk).status == Message.Status.SENT


def test_tick_at_a_moment_purges_idempotency_records_older_than_a_day(db, capsys):
    for age in (timedelta(hours=25), timedelta(hours=23)):
        IdempotencyRecord.objects.create(scope="s" * 64, key=f"k{age}", fingerprint="f" * 64,
                                         created_at=NOW - age)
    assert cli.main(["tick", "--at", NOW.isoformat(), "--quiet"]) == 0
    assert "idempotency records purged: 1" in capsys.readouterr().out
    assert IdempotencyRecord.objects.count() == 1


@pytest.mark.parametrize(("argv", "message"), [
    (["--at", "yesterday"], "is not a date and time"),
    (["--at", "2026-11-23T09:00:00"], "needs a time zone offset"),
    (["--every", "0"], "--every needs a positive number"),
])
def test_tick_usage_errors_exit_2(db, capsys, argv, message):
    with pytest.raises(SystemExit) as stopped:
        cli.main(["tick", *argv])
    assert stopped.value.code == 2
    assert message in capsys.readouterr().err
