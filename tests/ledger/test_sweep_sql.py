"""The sweep's SQL path (ledger/sqlsweep.py, PostgreSQL) writes the very rows its Python path
writes: the same entries with the same hashes, the same lots, the same accounts, row by row —
for accounts with several due lots, activations and expiries mixed, fixed-date expiries,
inactivity deadlines, accounts mid-chain, odd microseconds, in one stream or two."""

import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django_scopes import scopes_disabled

from kopilka.ledger import sqlsweep, sweep
from kopilka.ledger.models import Account, Entry, Hold, Lot
from kopilka.ledger.services import Book, Cause

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql",
                                reason="the SQL sweep runs on PostgreSQL only")

MSK = ZoneInfo("Europe/Moscow")
GIFT = Cause("adjustment", "test", "tester")
DAY = timedelta(days=1)
START = datetime(2027, 3, 1, 12, 0, tzinfo=MSK)
SWEPT_AT = datetime(2027, 3, 4, 3, 0, 0, 250_001, tzinfo=MSK)


class _Rollback(Exception):
    pass


def snapshot(merchant) -> dict[str, list]:
    """Every row the sweep may write, all columns but the entries' ids (a sequence's)."""
    with scopes_disabled():
        return {
            "entries": list(Entry.objects.filter(merchant=merchant).order_by("account_id", "seq")
                            .values_list("merchant_id", "account_id", "seq", "kind", "lot_id",
                                         "available_delta", "pending_delta", "cause_type",
                                         "cause_id", "actor", "occurred_at", "prev_hash",
                                         "hash")),
            "lots": list(Lot.objects.filter(merchant=merchant).order_by("pk").values_list(
                "pk", "account_id", "amount", "remaining", "available_at", "expires_at",
                "activated")),
            "accounts": list(Account.objects.filter(merchant=merchant).order_by("pk")
                             .values_list("pk", "available", "pending", "held", "entry_seq",
                                          "last_hash", "updated_at", "inactivity_deadline")),
            "holds": list(Hold.objects.filter(merchant=merchant).order_by("pk").values_list(
                "pk", "state", "amount", "closed_at")),
        }


def ledger(shop, rng: random.Random, members: int) -> None:
    """Members with 1-6 lots each around START + 3 days: pending or active, expiring at their
    own (odd, microsecond) dates or not, partly spent, some with an inactivity deadline, some
    swept once before (mid-chain), one with an open hold that lapses."""
    for n in range(members):
        member = shop.join(phone=f"+7999200{n:04d}")
        with time_machine.travel(START, tick=False):
            book = Book.open(member_id=member.pk, at=START)
            for _ in range(rng.randint(1, 6)):
                odd = timedelta(microseconds=rng.choice([0, 1, 999_999, rng.randint(0, 10**6)]))
                book.credit(
                    rng.randint(1, 50) * 100, lot_kind=Lot.Kind.GIFT,
                    entry_kind=Entry.Kind.GRANT, cause=GIFT, at=START,
                    available_at=START + rng.randint(-2, 5) * DAY + odd,
                    expires_at=rng.choice([None, START + rng.randint(1, 6) * DAY - odd]),
                )
            if book.account.available and rng.random() < 0.5:
                book.debit(rng.randint(1, book.account.available), entry_kind=Entry.Kind.REDEEM,
                           cause=Cause("purchase", str(n)), at=START)
            if rng.random() < 0.4:
                book.record_purchase(spend=10_000, at=START,
                                     inactivity_deadline=START + rng.randint(1, 6) * DAY)
            if n == 3:  # a hold that lapses between the two sweeps
                book.credit(1_000, lot_kind=Lot.Kind.GIFT, entry_kind=Entry.Kind.GRANT,
                            cause=GIFT, at=START, available_at=START,
                            expires_at=START + 2 * DAY)
                book.hold(500, cause=Cause("reward_order", "7"), at=START,
                          expires_at=START + 2 * DAY)
            book.save()
    # Some accounts swept once already: the night's entries continue a chain mid-way.
    with time_machine.travel(START + DAY, tick=False):
        sweep.materialise_due(shop.merchant, START + DAY, chunk=5)


def both_paths(shop, monkeypatch, moment, **options) -> tuple[dict, dict, sweep.Swept]:
    """(rows after the Python path, rows after the SQL path, what the SQL path reported)."""
    with time_machine.travel(moment + timedelta(minutes=5), tick=False):
        monkeypatch.setattr(sweep, "SQL", False)
        try:
            with transaction.atomic():
                python_swept = sweep.materialise_due(shop.merchant, moment, **options)
                python = snapshot(shop.merchant)
                raise _Rollback
        except _Rollback:
            pass
        monkeypatch.setattr(sweep, "SQL", True)
        swept = sweep.materialise_due(shop.merchant, moment, **options)
    assert swept == python_swept
    return python, snapshot(shop.merchant), swept


def assert_same_rows(python: dict, sql: dict) -> None:
    for table in python:
        assert len(sql[table]) == len(python[table]), table
        for python_row, sql_row in zip(python[table], sql[table], strict=True):
            assert sql_row == python_row, table


def verify_ledger(capsys) -> str:
    call_command("verify_ledger")
    return capsys.readouterr().out.strip()


@pytest.mark.django_db
@pytest.mark.parametrize("chunk", [1, 7, 1_000])
def test_the_sql_path_writes_the_rows_the_python_path_writes(shop, monkeypatch, capsys, chunk):
    shop.program()
    ledger(shop, random.Random(20270304), members=40)
    before = snapshot(shop.merchant)

    python, sql, swept = both_paths(shop, monkeypatch, SWEPT_AT, chunk=chunk)

    assert_same_rows(python, sql)
    old = set(before["entries"])
    new = [entry for entry in sql["entries"] if entry not in old]
    assert swept == sweep.Swept(25, 40) and len(new) == 40
    # Every rule was exercised: activations, expiries of spendable and of pending points, at
    # their own dates and at inactivity deadlines; a hold released (the Python fallback).
    # (entry rows: merchant, account, seq, kind, lot, available, pending, cause type, cause id,
    # actor, occurred, prev_hash, hash; lot rows: id, account, amount, remaining, available
    # from, expires, activated)
    expires = {lot[0]: lot[5] for lot in before["lots"]}
    kinds = {(e[3], e[5] < 0, e[6] < 0, e[10] == expires[e[4]]) for e in new}
    assert {("activate", False, True, False), ("expire", True, False, True),
            ("expire", False, True, True), ("expire", True, False, False)} <= kinds
    assert any(hold[1] == Hold.State.RELEASED for hold in sql["holds"])
    # Mid-chain: accounts the first sweep journalled on, continued tonight.
    swept_before = {e[1] for e in before["entries"] if e[7] == "time"}
    assert swept_before & {e[1] for e in new}
    assert verify_ledger(capsys) == "OK: 41 accounts verified."
    assert sweep.materialise_due(shop.merchant, SWEPT_AT) == sweep.Swept(0, 0)


@pytest.mark.django_db
def test_fixed_dates_and_inactivity_deadlines_hash_alike(shop, monkeypatch, capsys):
    with time_machine.travel(datetime(2027, 3, 1, 12, 0, tzinfo=MSK), tick=False):
        shop.program(expiry={"mode": "fixed_dates", "dates": ["01-01", "07-01"]},
                     activation_delay_days=3)
        members = [shop.join(phone=f"+7999300000{n}") for n in range(4)]
        for n, member in enumerate(members):
            for k in range(n + 1):
                shop.buy(member, 10_000 * (k + 1), receipt=f"F{n}-{k}")
    with time_machine.travel(datetime(2027, 6, 30, 23, 59, tzinfo=MSK), tick=False):
        shop.buy(members[0], 20_000, receipt="late")  # pending until after 1 July

    python, sql, swept = both_paths(shop, monkeypatch,
                                    datetime(2027, 7, 2, 3, 0, tzinfo=MSK), chunk=2)

    assert_same_rows(python, sql)
    assert swept == sweep.Swept(4, 11)
    assert verify_ledger(capsys) == "OK: 5 accounts verified."


@pytest.mark.django_db(transaction=True)
def test_two_streams_write_the_rows_one_stream_writes(shop, monkeypatch, capsys):
    shop.program()
    ledger(shop, random.Random(7), members=25)
    seen = []

    python, sql, _swept = both_paths(shop, monkeypatch, SWEPT_AT, chunk=4, streams=2,
                                     progress=lambda done, total: seen.append((done, total)))

    assert_same_rows(python, sql)
    streamed = seen[len(seen) // 2:]  # the Python path's (one stream) came first
    total = streamed[0][1]
    assert streamed == [(min(done, total), total) for done in range(4, total + 4, 4)]
    with scopes_disabled():
        assert verify_ledger(capsys) == "OK: 26 accounts verified."


@pytest.mark.django_db(transaction=True)
def test_a_failed_chunk_in_a_stream_is_raised_and_writes_nothing(shop):
    shop.program(expiry={"mode": "after_accrual", "days": 30})
    with time_machine.travel(START, tick=False):
        members = [shop.join(phone=f"+7999400000{n}") for n in range(6)]
        for member in members:
            shop.buy(member, 100_000)
    broken = Account.objects.get(member=members[4])
    Account.objects.filter(pk=broken.pk).update(available=1_000)  # expiring 5 000 goes below 0

    with pytest.raises(IntegrityError):
        sweep.materialise_due(shop.merchant, START + 40 * DAY, chunk=1, streams=2)

    assert Lot.objects.get(account=broken).remaining == 5_000
    assert not Entry.objects.filter(account=broken, kind=Entry.Kind.EXPIRE).exists()
    # Every other chunk committed whole or not at all: an expiry entry iff a zero balance.
    for member in members:
        account = Account.objects.get(member=member)
        expired = Entry.objects.filter(account=account, kind=Entry.Kind.EXPIRE).count()
        assert (expired, account.available) in {(1, 0), (0, 5_000)} or account == broken


@pytest.mark.django_db
def test_kopilka_sql_sweep_0_keeps_the_python_path(shop, monkeypatch):
    shop.program(expiry={"mode": "after_accrual", "days": 30})
    with time_machine.travel(START, tick=False):
        member = shop.join()
        shop.buy(member, 100_000)
    monkeypatch.setattr(sweep, "SQL", False)

    def refuse(*args, **kwargs):
        raise AssertionError("the SQL path ran")

    monkeypatch.setattr(sqlsweep, "materialise_locked", refuse)
    assert sweep.materialise_due(shop.merchant, START + 40 * DAY) == sweep.Swept(1, 1)
