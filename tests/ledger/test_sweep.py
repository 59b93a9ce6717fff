"""The set-based sweep (ledger/sweep.py) journals exactly what `Book.open` per account would:
activation, expiry at a lot's own date (after accrual, fixed dates, a gift's own validity) and
at the account's inactivity deadline, with the hash chain continued — a chunk of accounts per
transaction, nothing journalled twice."""

import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django_scopes import scope

from kopilka.ledger import bulk, sweep
from kopilka.ledger.models import Account, Entry, Lot
from kopilka.ledger.services import Book, Cause

pytestmark = pytest.mark.django_db

MSK = ZoneInfo("Europe/Moscow")  # alice's merchant's zone
GIFT = Cause("adjustment", "test", "tester")


def at(*moment) -> datetime:
    return datetime(*moment, tzinfo=MSK)


def account(member) -> Account:
    return Account.objects.get(member=member)


def journal(member, *kinds) -> list[tuple]:
    """(kind, available delta, pending delta, occurred at, cause type) of the member's entries
    of these kinds, in order."""
    return list(
        Entry.objects.filter(account__member=member, kind__in=kinds).order_by("seq")
        .values_list("kind", "available_delta", "pending_delta", "occurred_at", "cause_type")
    )


def verify_ledger(capsys) -> str:
    call_command("verify_ledger")
    return capsys.readouterr().out.strip()


def test_after_accrual_expiry_at_the_lots_own_date(shop, capsys):
    with time_machine.travel(at(2027, 3, 1, 12, 0), tick=False):
        shop.program(expiry={"mode": "after_accrual", "days": 30})
        anna = shop.join()
        shop.buy(anna, 100_000)  # 5 % of 1 000.00: 50.00 points until 00:00 on 1 April
    with time_machine.travel(at(2027, 3, 10, 12, 0), tick=False):
        shop.buy(anna, 40_000)  # 20.00 points until 00:00 on 10 April

    assert sweep.materialise_due(shop.merchant, at(2027, 3, 31, 23, 59)) == sweep.Swept(0, 0)
    assert sweep.materialise_due(shop.merchant, at(2027, 4, 1, 0, 0)) == sweep.Swept(1, 1)

    assert journal(anna, Entry.Kind.EXPIRE) == [("expire", -5_000, 0, at(2027, 4, 1), "time")]
    assert (account(anna).available, account(anna).pending) == (2_000, 0)
    assert sorted(Lot.objects.filter(account__member=anna).values_list("remaining", flat=True)) \
        == [0, 2_000]
    assert verify_ledger(capsys) == "OK: 2 accounts verified."


def test_fixed_dates_expiry(shop, capsys):
    with time_machine.travel(at(2027, 3, 1, 12, 0), tick=False):
        shop.program(expiry={"mode": "fixed_dates", "dates": ["01-01", "07-01"]})
        anna = shop.join()
        shop.buy(anna, 100_000)
    assert Lot.objects.get(account__member=anna).expires_at == at(2027, 7, 1)

    assert sweep.materialise_due(shop.merchant, at(2027, 8, 15, 3, 0)) == sweep.Swept(1, 1)
    # Dated at the moment the points burnt, not at the sweep.
    assert journal(anna, Entry.Kind.EXPIRE) == [("expire", -5_000, 0, at(2027, 7, 1), "time")]
    assert account(anna).available == 0
    assert verify_ledger(capsys) == "OK: 2 accounts verified."


def test_after_last_purchase_expires_every_lot_at_the_inactivity_deadline(shop, capsys):
    with time_machine.travel(at(2027, 3, 1, 12, 0), tick=False):
        shop.program(expiry={"mode": "after_last_purchase", "days": 10})
        anna = shop.join()
        shop.buy(anna, 100_000)
    with time_machine.travel(at(2027, 3, 5, 12, 0), tick=False):
        shop.buy(anna, 40_000)  # pushes the deadline to 00:00 on 16 March
    assert account(anna).inactivity_deadline == at(2027, 3, 16)

    assert sweep.materialise_due(shop.merchant, at(2027, 3, 15, 23, 59)) == sweep.Swept(0, 0)
    assert sweep.materialise_due(shop.merchant, at(2027, 3, 16, 0, 1)) == sweep.Swept(1, 2)

    assert journal(anna, Entry.Kind.EXPIRE) == [
        ("expire", -5_000, 0, at(2027, 3, 16), "time"),
        ("expire", -2_000, 0, at(2027, 3, 16), "time"),
    ]
    assert (account(anna).available, account(anna).entry_seq) == (0, 4)
    assert verify_ledger(capsys) == "OK: 2 accounts verified."


def test_a_gift_burns_at_its_own_date_before_the_inactivity_deadline(shop):
    with time_machine.travel(at(2027, 3, 1, 12, 0), tick=False):
        shop.program(expiry={"mode": "after_last_purchase", "days": 30})
        anna = shop.join()
        shop.buy(anna, 100_000)  # deadline: 00:00 on 1 April
        book = Book.open(member_id=anna.pk)
        book.credit(700, lot_kind=Lot.Kind.GIFT, entry_kind=Entry.Kind.GRANT, cause=GIFT,
                    at=at(2027, 3, 1, 12, 0), expires_at=at(2027, 3, 8))
        book.save()

    assert sweep.materialise_due(shop.merchant, at(2027, 3, 9)) == sweep.Swept(1, 1)
    assert journal(anna, Entry.Kind.EXPIRE) == [("expire", -700, 0, at(2027, 3, 8), "time")]
    assert account(anna).available == 5_000
    assert sweep.materialise_due(shop.merchant, at(2027, 4, 1)) == sweep.Swept(1, 1)
    assert account(anna).available == 0


def test_activation_moves_pending_to_available_at_the_activation_moment(shop, capsys):
    with time_machine.travel(at(2027, 3, 1, 12, 0), tick=False):
        shop.program(activation_delay_days=3)
        anna = shop.join()
        shop.buy(anna, 100_000)
    assert (account(anna).available, account(anna).pending) == (0, 5_000)
    available_at = Lot.objects.get(account__member=anna).available_at

    assert sweep.materialise_due(shop.merchant, available_at - timedelta(seconds=1)) \
        == sweep.Swept(0, 0)
    assert sweep.materialise_due(shop.merchant, available_at) == sweep.Swept(1, 1)
    assert journal(anna, Entry.Kind.ACTIVATE) == [("activate", 5_000, -5_000, available_at, "time")]
    assert (account(anna).available, account(anna).pending) == (5_000, 0)
    assert Lot.objects.get(account__member=anna).activated
    assert verify_ledger(capsys) == "OK: 2 accounts verified."


def test_points_that_expire_before_they_activate_leave_the_pending_balance(shop):
    with time_machine.travel(at(2027, 3, 1, 12, 0), tick=False):
        shop.program()
        anna = shop.join()
        book = Book.open(member_id=anna.pk)
        book.credit(900, lot_kind=Lot.Kind.GIFT, entry_kind=Entry.Kind.GRANT, cause=GIFT,
                    at=at(2027, 3, 1, 12, 0), available_at=at(2027, 3, 10),
                    expires_at=at(2027, 3, 5))
        book.save()

    assert sweep.materialise_due(shop.merchant, at(2027, 3, 11)) == sweep.Swept(1, 1)
    assert journal(anna, Entry.Kind.EXPIRE, Entry.Kind.ACTIVATE) == [
        ("expire", 0, -900, at(2027, 3, 5), "time")]
    assert (account(anna).available, account(anna).pending) == (0, 0)


def test_a_rerun_journals_nothing(shop):
    with time_machine.travel(at(2027, 3, 1, 12, 0), tick=False):
        shop.program(expiry={"mode": "after_accrual", "days": 30}, activation_delay_days=3)
        members = [shop.join(phone=f"+7999000000{n}") for n in range(3)]
        for member in members:
            shop.buy(member, 100_000)
    ids = [account(member).pk for member in members]
    assert sweep.materialise_due(shop.merchant, at(2027, 3, 10)) == sweep.Swept(3, 3)  # activate
    moment = at(2027, 4, 2)
    assert sweep.materialise_due(shop.merchant, moment) == sweep.Swept(3, 3)  # expire
    before = list(Entry.objects.order_by("pk").values_list("pk", "hash"))
    heads = list(Account.objects.order_by("pk").values_list("entry_seq", "last_hash",
                                                            "updated_at"))
    assert sweep.materialise_due(shop.merchant, moment) == sweep.Swept(0, 0)
    assert sweep.materialise_chunk(shop.merchant, ids, moment) == 0  # even when asked directly
    assert list(Entry.objects.order_by("pk").values_list("pk", "hash")) == before
    assert list(Account.objects.order_by("pk").values_list("entry_seq", "last_hash",
                                                           "updated_at")) == heads


def test_a_chunk_mixing_due_and_idle_accounts_writes_only_the_due_ones(shop, bob, capsys):
    with time_machine.travel(at(2027, 3, 1, 12, 0), tick=False):
        shop.program(expiry={"mode": "after_accrual", "days": 30})
        due = shop.join(phone="+79990000001")
        shop.buy(due, 100_000)
        fresh = shop.join(phone="+79990000002")
        empty = shop.join(phone="+79990000003")
    with time_machine.travel(at(2027, 3, 20, 12, 0), tick=False):
        shop.buy(fresh, 60_000)  # 30.00 points, valid until 20 April
    # bob's account, due too, but not alice's to sweep.
    with scope(merchant=bob.merchant), time_machine.travel(at(2027, 3, 1), tick=False):
        bob_account = Account.objects.get(member=bob.member)
        book = Book.open(account_id=bob_account.pk, at=at(2027, 3, 1))
        book.credit(400, lot_kind=Lot.Kind.GIFT, entry_kind=Entry.Kind.GRANT, cause=GIFT,
                    at=at(2027, 3, 1), available_at=at(2027, 3, 1), expires_at=at(2027, 3, 2))
        book.save()
    idle = {member.pk: account(member) for member in (fresh, empty)}
    chunk = sorted([account(due).pk, *(a.pk for a in idle.values()), bob_account.pk])

    assert sweep.materialise_chunk(shop.merchant, chunk, at(2027, 4, 5)) == 1

    assert journal(due, Entry.Kind.EXPIRE) == [("expire", -5_000, 0, at(2027, 4, 1), "time")]
    for member_pk, before in idle.items():
        after = Account.objects.get(pk=before.pk)
        assert (after.available, after.entry_seq, after.last_hash, after.updated_at) == (
            before.available, before.entry_seq, before.last_hash, before.updated_at), member_pk
    assert account(fresh).available == 3_000
    with scope(merchant=bob.merchant):
        assert Account.objects.get(pk=bob_account.pk).available == 400
    assert verify_ledger(capsys) == "OK: 5 accounts verified."


def test_chunks_commit_one_at_a_time_and_a_failed_chunk_writes_nothing(shop):
    with time_machine.travel(at(2027, 3, 1, 12, 0), tick=False):
        shop.program(expiry={"mode": "after_accrual", "days": 30})
        members = [shop.join(phone=f"+7999000000{n}") for n in range(3)]
        for member in members:
            shop.buy(member, 100_000)
    first, broken, last = (account(member) for member in members)
    # A cached balance edited behind the ledger's back: expiring 50.00 would take it below
    # zero, which the database refuses — the second chunk fails.
    Account.objects.filter(pk=broken.pk).update(available=1_000)
    seen = []

    with pytest.raises(IntegrityError):
        sweep.materialise_due(shop.merchant, at(2027, 4, 2), chunk=1,
                              progress=lambda done, total: seen.append((done, total)))

    assert seen == [(1, 3)]
    assert [account(member).available for member in members] == [0, 1_000, 5_000]
    assert Entry.objects.filter(kind=Entry.Kind.EXPIRE).count() == 1
    assert Lot.objects.get(account=broken).remaining == 5_000  # its lot rolled back too

    Account.objects.filter(pk=broken.pk).update(available=5_000)
    assert sweep.materialise_due(shop.merchant, at(2027, 4, 2), chunk=2,
                                 progress=lambda done, total: seen.append((done, total))) \
        == sweep.Swept(2, 2)
    assert seen == [(1, 3), (2, 2)]
    assert [account(member).available for member in members] == [0, 0, 0]
    assert Entry.objects.filter(kind=Entry.Kind.EXPIRE).count() == 3


class _Rollback(Exception):
    pass


def _snapshot(merchant) -> tuple[list, list, list]:
    entries = list(
        Entry.objects.filter(merchant=merchant).order_by("account_id", "seq").values_list(
            "account_id", "seq", "kind", "lot_id", "available_delta", "pending_delta",
            "cause_type", "cause_id", "occurred_at", "prev_hash", "hash")
    )
    accounts = list(Account.objects.filter(merchant=merchant).order_by("pk").values_list(
        "pk", "available", "pending", "entry_seq", "last_hash"))
    lots = list(Lot.objects.filter(merchant=merchant).order_by("pk").values_list(
        "pk", "remaining", "activated"))
    return entries, accounts, lots


def _random_ledger(shop, rng: random.Random, start: datetime, members: int) -> None:
    """Members with 1-4 lots each: pending or active, expiring or not, partly spent, some with
    an inactivity deadline — every case materialise distinguishes, around `start` + 3 days."""
    day = timedelta(days=1)
    for n in range(members):
        member = shop.join(phone=f"+7999100{n:04d}")
        with time_machine.travel(start, tick=False):
            book = Book.open(member_id=member.pk, at=start)
            for _ in range(rng.randint(1, 4)):
                book.credit(
                    rng.randint(1, 50) * 100, lot_kind=Lot.Kind.GIFT,
                    entry_kind=Entry.Kind.GRANT, cause=GIFT, at=start,
                    available_at=start + rng.randint(-2, 5) * day,
                    expires_at=rng.choice([None, start + rng.randint(1, 6) * day]),
                )
            if book.account.available and rng.random() < 0.5:
                book.debit(rng.randint(1, book.account.available), entry_kind=Entry.Kind.REDEEM,
                           cause=Cause("purchase", str(n)), at=start)
            if rng.random() < 0.4:
                book.record_purchase(spend=10_000, at=start,
                                     inactivity_deadline=start + rng.randint(1, 6) * day)
            book.save()


@pytest.mark.parametrize("chunk, copy_from", [(7, bulk.COPY_FROM), (1_000, 1)])
def test_the_sweep_writes_what_book_open_per_account_writes(shop, capsys, monkeypatch, chunk,
                                                            copy_from):
    # copy_from 1: the entries go in with COPY on PostgreSQL, as at sweep sizes.
    monkeypatch.setattr(bulk, "COPY_FROM", copy_from)
    shop.program()
    start = at(2027, 3, 1, 12, 0)
    _random_ledger(shop, random.Random(20270301), start, members=40)
    moment = start + timedelta(days=3)
    ids = sweep.due_accounts(shop.merchant, moment)

    try:
        with transaction.atomic():
            for account_id in ids:  # the old way: one Book per account
                Book.open(account_id=account_id, at=moment).save()
            one_by_one = _snapshot(shop.merchant)
            raise _Rollback
    except _Rollback:
        pass
    swept = sweep.materialise_due(shop.merchant, moment, chunk=chunk)

    assert _snapshot(shop.merchant) == one_by_one
    assert swept.accounts == len(ids)
    # The data really exercised every rule: activations, expiries of spendable and of pending
    # points, at their own dates and at inactivity deadlines.
    written = Entry.objects.filter(merchant=shop.merchant, cause_type="time")
    own = {(e.kind, e.available_delta < 0, e.pending_delta < 0,
            e.occurred_at == e.lot.expires_at) for e in written.select_related("lot")}
    assert {("activate", False, True, False), ("expire", True, False, True),
            ("expire", False, True, True), ("expire", True, False, False)} <= own
    assert swept.entries == written.count() > 40
    assert verify_ledger(capsys) == "OK: 41 accounts verified."
