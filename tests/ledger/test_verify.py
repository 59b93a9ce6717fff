"""`kopilka verify-ledger` proves the history and names the first row edited behind its back."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django_scopes import scope, scopes_disabled

from kopilka.ledger.models import Account, Entry, Lot
from tests.ledger.tampering import unguarded
from tests.shop import Shop

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(alice):
    with scope(merchant=alice.merchant):
        shop = Shop(alice).program(welcome_bonus=1_000)
        member = shop.join()
        shop.buy(member, 100_000)
        shop.buy(member, 10_000, spend=500)
    with scopes_disabled():
        yield Account.objects.get(member=member)


def run_verify(*args):
    try:
        call_command("verify_ledger", *args)
    except CommandError as error:
        return str(error)
    return "OK"


def test_untouched_ledger_verifies(history, capsys):
    assert run_verify() == "OK"
    assert "OK: 2 accounts verified." in capsys.readouterr().out


def test_entries_are_hash_chained(history):
    entries = list(history.entries.order_by("seq"))
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    assert entries[0].prev_hash == ""
    assert all(b.prev_hash == a.hash for a, b in zip(entries, entries[1:], strict=False))
    assert history.last_hash == entries[-1].hash


def test_an_edited_amount_is_named(history, capsys):
    entry = history.entries.order_by("seq")[1]
    with unguarded():
        Entry.objects.filter(pk=entry.pk).update(available_delta=entry.available_delta + 1_000)
    assert run_verify() == "1 of 2 accounts are broken."
    assert f"entry {entry.pk} (#2): content does not match its hash (edited)" in (
        capsys.readouterr().err
    )


def test_a_deleted_entry_is_named(history, capsys):
    victim = history.entries.order_by("seq")[1]
    following = history.entries.get(seq=victim.seq + 1)
    with unguarded():
        Entry.objects.filter(pk=victim.pk).delete()  # queryset delete: behind the model's back
    assert run_verify() != "OK"
    assert f"entry {following.pk} (#3): sequence gap: expected #2" in capsys.readouterr().err


def test_a_cached_balance_edited_is_named(history, capsys):
    Account.objects.filter(pk=history.pk).update(available=history.available + 50)
    assert run_verify() != "OK"
    assert "cached balance" in capsys.readouterr().err


def test_a_lot_edited_is_named(history, capsys):
    lot = history.lots.filter(remaining__gt=0).first()
    Lot.objects.filter(pk=lot.pk).update(remaining=lot.remaining - 1)
    assert run_verify() != "OK"
    assert f"lot {lot.pk}: remaining" in capsys.readouterr().err


def test_entries_cannot_be_changed_through_the_model(history):
    entry = history.entries.first()
    entry.available_delta = 1
    with pytest.raises(ValueError, match="append-only"):
        entry.save()
    with pytest.raises(ValueError, match="append-only"):
        entry.delete()


def test_database_refuses_a_negative_balance(history):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.filter(pk=history.pk).update(available=-1)


def test_unknown_merchant(history):
    assert run_verify("--merchant", "nope") == "No merchant with slug 'nope'."
