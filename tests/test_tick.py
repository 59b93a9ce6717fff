"""`kopilka tick`: the periodic pass — sends what a lost task left in the outboxes, purges old
idempotency records, and doing it twice does nothing twice."""

import re
import sys
from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine
from django_scopes import scope, scopes_disabled

from kopilka import cli
from kopilka.api.models import IdempotencyRecord
from kopilka.automation.models import JobRun
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
    # alice's seven daily jobs are due (12:00 in Moscow) and run once (automation/schedule.py).
    assert first == ("webhook deliveries due: 0; messages due: 1; offers resumed: 0; "
                     "review requests due: 0; "
                     "billing days charged: 0; "
                     "idempotency records purged: 0; merchant jobs run: 8")
    assert second == ("webhook deliveries due: 0; messages due: 0; offers resumed: 0; "
                      "review requests due: 0; "
                      "billing days charged: 0; "
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


def progress_lines(err: str) -> list[str]:
    """The progress lines of stderr, each job's time made constant."""
    return [re.sub(r"\(\d+\.\d\d s\)$", "(T s)", line) for line in err.splitlines()
            if line.startswith("kopilka tick: ")]


MERCHANT_JOBS = [  # alice's daily jobs at 12:00 in Moscow, after materialise
    "alice-coffee winback_attribution 2026-11-23: purchases 0 (T s)",
    "alice-coffee expiry_reminders 2026-11-23: members 0, messages 0 (T s)",
    "alice-coffee birthday_gifts 2026-11-23: gifts 0, messages 0 (T s)",
    "alice-coffee relative_birthday_gifts 2026-11-23: gifts 0, messages 0 (T s)",
    "alice-coffee activation_notices 2026-11-23: members 0, messages 0 (T s)",
    "alice-coffee inactivity_chains 2026-11-23: contacts 0, gifts 0, messages 0 (T s)",
    "alice-coffee rolling_tiers 2026-11-23: members 0, lowered 0 (T s)",
]


def test_tick_progress_tells_each_job_its_counts_and_time(alice, capsys):
    assert cli.main(["tick", "--at", "2026-11-23T12:00:00+03:00", "--progress"]) == 0
    out, err = capsys.readouterr()
    lines = [line.removeprefix("kopilka tick: ") for line in progress_lines(err)]
    assert lines[:6] == ["webhook deliveries due: 0 (T s)", "messages due: 0 (T s)",
                         "offers resumed: 0 (T s)",
                         "review requests due: 0 (T s)", "billing days charged: 0 (T s)",
                         "idempotency records purged: 0 (T s)"]
    # materialise's counts are the ledger sweep's business; its line comes first.
    assert lines[6].startswith("alice-coffee materialise 2026-11-23: accounts 0")
    assert lines[7:] == [*MERCHANT_JOBS, "merchant jobs run: 8 (T s)"]
    assert out.endswith("merchant jobs run: 8\n")  # the summary on stdout, as without


def test_tick_progress_is_the_default_on_a_terminal_and_quiet_silences_it(
        alice, capsys, monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert cli.main(["tick", "--at", "2026-11-23T12:00:00+03:00"]) == 0
    assert len(progress_lines(capsys.readouterr().err)) == 7 + 8
    assert cli.main(["tick", "--at", "2026-11-24T12:00:00+03:00", "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert progress_lines(err) == []
    assert out == ("webhook deliveries due: 0; messages due: 0; offers resumed: 0; "
                      "review requests due: 0; "
                   "billing days charged: 0; "
                   "idempotency records purged: 0; merchant jobs run: 8\n")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)  # cron, a pipe: no progress
    assert cli.main(["tick", "--at", "2026-11-25T12:00:00+03:00"]) == 0
    assert progress_lines(capsys.readouterr().err) == []


def test_tick_refuses_a_moment_in_the_future_unless_allowed(alice, capsys):
    """A tick --at tomorrow would expire points and send gifts a day early for every merchant."""
    with time_machine.travel(NOW, tick=False):
        with pytest.raises(SystemExit) as stopped:
            cli.main(["tick", "--at", "2026-11-24T12:00:00+03:00", "--quiet"])
        assert stopped.value.code == 2
        assert capsys.readouterr().err == (
            "kopilka: error: --at 2026-11-24T12:00:00+03:00 is more than 5 minutes ahead of "
            "now (2026-11-23T09:00:00+00:00); "
            "a tick in the future expires points and sends messages early for every "
            "merchant. Pass --allow-future if that is meant (a rehearsal on a copy of the "
            "data)\n")
        with scopes_disabled():
            assert not JobRun.objects.exists()
        # Within the five minutes of clock skew: accepted.
        assert cli.main(["tick", "--at", (NOW + timedelta(minutes=5)).isoformat(),
                         "--quiet"]) == 0
        assert cli.main(["tick", "--at", "2026-11-24T12:00:00+03:00", "--allow-future",
                         "--quiet"]) == 0
    assert capsys.readouterr().out == (
        "webhook deliveries due: 0; messages due: 0; offers resumed: 0; "
                      "review requests due: 0; "
        "billing days charged: 0; "
        "idempotency records purged: 0; "
        "merchant jobs run: 8\n" * 2)
    with scopes_disabled():
        assert sorted({str(run.day) for run in JobRun.objects.all()}) == [
            "2026-11-23", "2026-11-24"]


def test_tick_allow_future_needs_at(db, capsys):
    with pytest.raises(SystemExit) as stopped:
        cli.main(["tick", "--allow-future"])
    assert stopped.value.code == 2
    assert "--allow-future goes with --at" in capsys.readouterr().err
