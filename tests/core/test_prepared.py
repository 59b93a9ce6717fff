"""PreparedQuery gives the same instances as the queryset it was compiled from."""

import pytest
from django.db import connection
from django.db.models import Model
from django_scopes import scopes_disabled

from kopilka.core.prepared import PreparedQuery
from kopilka.members.models import Member
from kopilka.tenancy.models import Terminal

pytestmark = pytest.mark.django_db


def values(obj: Model) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def terminal_query(prefix):
    return Terminal.objects.select_related("merchant", "merchant__program", "store").filter(
        key_prefix=prefix)[:1]


def test_the_instances_and_their_joined_relations_equal_the_orms(shop, django_assert_num_queries):
    shop.program(welcome_bonus=500)
    with scopes_disabled():
        expected = Terminal.objects.select_related("merchant__program", "store").get(
            pk=shop.tenant.terminal.pk)
    prepared = PreparedQuery(terminal_query, kinds=(str,))

    with django_assert_num_queries(1):
        found = prepared.first(expected.key_prefix)
        # the joined rows came with it, converted as the ORM converts them (JSON, datetimes)
        assert found.merchant.program.config == expected.merchant.program.config
        assert found.store.name == expected.store.name
    assert values(found) == values(expected)
    assert values(found.merchant) == values(expected.merchant)
    assert found.merchant.program.config["welcome_bonus"] == 500
    assert found._state.adding is False


def test_no_row_is_none_and_arguments_change_per_call(shop):
    alice = shop.join(phone="+79990000001")
    bob = shop.join(phone="+79990000002")
    by_id = PreparedQuery(
        lambda merchant_id, member_id: Member.objects.filter(
            merchant_id=merchant_id, pk=member_id).select_related("person")[:1],
        kinds=(int, int))

    assert by_id.first(shop.merchant.pk, alice.pk).person.phone == "+79990000001"
    assert by_id.first(shop.merchant.pk, bob.pk).person.phone == "+79990000002"
    assert by_id.first(shop.merchant.pk + 1, bob.pk) is None  # another merchant's id


def test_a_placeholder_the_query_ignores_is_refused():
    ignored = PreparedQuery(lambda prefix, unused: terminal_query(prefix), kinds=(str, int))

    with pytest.raises(ValueError, match="every placeholder"):
        ignored.first("abc", 1)


@pytest.mark.skipif("connection.vendor != 'postgresql'",
                    reason="server-side prepared statements are PostgreSQL's")
def test_postgresql_plans_a_statement_once_it_has_run_five_times(shop):
    """core/config.py: server-side binding and psycopg's prepare_threshold=5."""
    alice = shop.join(phone="+79990000001")
    by_id = PreparedQuery(
        lambda merchant_id, member_id: Member.objects.filter(
            merchant_id=merchant_id, pk=member_id)[:1],
        kinds=(int, int))

    def prepared() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_prepared_statements "
                           "WHERE statement LIKE %s", ['%FROM "members_member"%'])
            return cursor.fetchone()[0]

    for _ in range(5):
        assert by_id.first(shop.merchant.pk, alice.pk).pk == alice.pk
    assert prepared() == 0
    assert by_id.first(shop.merchant.pk, alice.pk).pk == alice.pk
    assert prepared() == 1
