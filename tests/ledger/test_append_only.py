"""The database itself keeps the journal append-only (migration ledger 0004): raw SQL, a
queryset update and a queryset delete of an entry are refused on SQLite and PostgreSQL, and
emptying the whole database (`flush`, which transactional tests run) still works."""

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django_scopes import scope, scopes_disabled

from kopilka.ledger.models import Account, Entry
from kopilka.ledger.verify import verify
from tests.shop import Shop


@pytest.fixture
def entry(alice):
    with scope(merchant=alice.merchant):
        shop = Shop(alice).program(welcome_bonus=1_000)
        member = shop.join()
        shop.buy(member, 100_000)
    with scopes_disabled():
        return Entry.objects.filter(account__member=member).order_by("seq").last()


def refused(sql, params=()):
    """The error the database raised for `sql`, in a savepoint so the test can go on."""
    with pytest.raises(IntegrityError) as caught, transaction.atomic(), \
            connection.cursor() as cursor:
        cursor.execute(sql, params)
    return str(caught.value).splitlines()[0]


def message(operation, entry):
    if connection.vendor == "postgresql":
        return f"ledger entries are append-only: {operation} of entry {entry.pk} refused"
    return f"ledger entries are append-only: {operation} refused"


@pytest.mark.django_db
def test_raw_sql_update_of_an_entry_is_refused(entry):
    assert refused("UPDATE ledger_entry SET available_delta = 1000000 WHERE id = %s",
                   [entry.pk]) == message("UPDATE", entry)
    # A statement over the whole table fails at its first row, and nothing of it stays.
    assert refused("UPDATE ledger_entry SET cause_id = 'x'").startswith(
        "ledger entries are append-only: UPDATE")
    with scopes_disabled():
        assert Entry.objects.get(pk=entry.pk).available_delta == entry.available_delta
        assert verify() == (2, [])


@pytest.mark.django_db
def test_raw_sql_delete_of_an_entry_is_refused(entry):
    assert refused("DELETE FROM ledger_entry WHERE id = %s", [entry.pk]) == message(
        "DELETE", entry)
    with scopes_disabled():
        assert Entry.objects.filter(pk=entry.pk).exists()
        assert verify() == (2, [])


@pytest.mark.django_db
def test_queryset_update_and_delete_are_refused(entry):
    with scopes_disabled():
        with pytest.raises(IntegrityError), transaction.atomic():
            Entry.objects.filter(pk=entry.pk).update(available_delta=5)
        with pytest.raises(IntegrityError), transaction.atomic():
            Entry.objects.filter(pk=entry.pk).delete()
        assert Entry.objects.get(pk=entry.pk).hash == entry.hash


@pytest.mark.django_db
def test_the_migrated_database_has_the_triggers():
    """A later migration that rebuilds ledger_entry on SQLite drops its triggers with the old
    table: this fails until it installs them again."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT tgname, tgenabled FROM pg_trigger "
                           "WHERE tgrelid = 'ledger_entry'::regclass AND NOT tgisinternal")
            assert cursor.fetchall() == [("ledger_entry_append_only", "O")]
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' "
                           "AND tbl_name = 'ledger_entry' ORDER BY name")
            assert cursor.fetchall() == [("ledger_entry_no_delete",), ("ledger_entry_no_update",)]


@pytest.mark.django_db(transaction=True)
def test_flush_empties_the_ledger_and_the_guard_stays(entry):
    """Django's transactional tests flush the database after each test: TRUNCATE on
    PostgreSQL (no row triggers fire), DELETE on SQLite (the ledger's flush command lifts the
    triggers for its own transaction)."""
    call_command("flush", interactive=False, verbosity=0)
    with scopes_disabled():
        assert (Entry.objects.count(), Account.objects.count()) == (0, 0)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM ledger_entry")
        assert cursor.fetchone() == (0,)
    test_the_migrated_database_has_the_triggers()
