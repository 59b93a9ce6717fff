"""Row-level security (kopilka/core/rls.py, KOPILKA_RLS=on) on PostgreSQL: a query that
forgets its scope sees nothing, one in the wrong scope sees only that merchant, and the POS
works as before — as an application role that is neither a superuser nor the tables' owner.

Each test installs the policies and a role of its own inside its transaction (PostgreSQL's DDL
is transactional), so both are gone when it ends and the rest of the suite never sees them.
"""

import uuid

import pytest
from django.db import connection, transaction
from django.db.utils import ProgrammingError
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django_scopes import scope, scopes_disabled

from kopilka.core import rls
from kopilka.members.models import Member
from kopilka.processing.models import Purchase

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_app_role(alice, bob):
    if connection.vendor != "postgresql":
        pytest.skip("row-level security is PostgreSQL's")
    role = f"kopilka_rls_{uuid.uuid4().hex[:10]}"
    with connection.cursor() as cursor:
        # The fixtures' rows were written in this transaction: their deferred foreign-key
        # checks run now, or PostgreSQL refuses to ALTER those tables.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"CREATE ROLE {role} NOLOGIN NOSUPERUSER NOBYPASSRLS")
        cursor.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
    with override_settings(KOPILKA_RLS=True):
        covered = rls.install(app_role=role)
        rls.watch(connection)
        with connection.cursor() as cursor:
            cursor.execute(f"SET ROLE {role}")
        try:
            yield covered
        finally:
            connection.execute_wrappers.remove(rls._keep_in_step)
            with connection.cursor() as cursor:
                cursor.execute("RESET ROLE")


def count(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")
        return cursor.fetchone()[0]


def test_every_tenant_table_is_covered(as_app_role):
    tables = dict(rls.tenant_tables())
    assert as_app_role == len(tables) > 20
    for table in ("members_member", "ledger_entry", "processing_purchase", "messaging_message"):
        assert tables.get(table) == "merchant_id", table
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_policies WHERE policyname = %s", [rls.POLICY])
        assert cursor.fetchone()[0] == len(tables)


def test_a_query_that_forgets_its_scope_returns_nothing(as_app_role, alice, bob):
    # No scope entered: raw SQL and the unscoped base manager see no member at all.
    assert count("members_member") == 0
    assert Member._base_manager.count() == 0
    # In alice's scope, a query that forgets to filter by merchant still sees only hers.
    with scope(merchant=alice.merchant):
        assert count("members_member") == 1
        assert list(Member._base_manager.values_list("pk", flat=True)) == [alice.member.pk]
        # ... and cannot touch bob's rows, or write one for him.
        with connection.cursor() as cursor:
            cursor.execute("UPDATE members_member SET first_name = 'x' WHERE id = %s",
                           [bob.member.pk])
            assert cursor.rowcount == 0
    # Scopes switched off on purpose (the tick, the admin): everything, as before.
    with scopes_disabled():
        assert count("members_member") == 2
        assert Member._base_manager.get(pk=bob.member.pk).first_name == "Bob Bakery"


def test_a_row_for_another_merchant_cannot_be_written(as_app_role, alice, bob):
    with (scope(merchant=alice.merchant),
          pytest.raises(ProgrammingError, match="row-level security"),
          transaction.atomic(), connection.cursor() as cursor):
        cursor.execute("UPDATE members_member SET merchant_id = %s WHERE id = %s",
                       [bob.merchant.pk, alice.member.pk])
    # The savepoint's rollback undid the setting too: the next query sets it again.
    with scope(merchant=alice.merchant):
        assert count("members_member") == 1


def test_the_pos_works_under_row_level_security(as_app_role, alice, bob):
    sets = getattr(connection, "kopilka_rls_sets", 0)
    with CaptureQueriesContext(connection) as queries:
        answer = alice.pos().post("/api/v1/pos/purchases", {
            "receipt_id": "RLS-1", "member": {"id": alice.member.pk},
            "lines": [{"line_id": "1", "amount": 20000}], "points_to_spend": 0},
            content_type="application/json", headers={"Idempotency-Key": "RLS-1"})
    assert answer.status_code == 201, answer.content
    # What keeping the setting in step costs: a round trip when the scope changes (before
    # authentication: none; then the merchant's), not one per query.
    extra = connection.kopilka_rls_sets - sets
    assert extra <= 3 < len(queries)
    print(f"\nPOS commit under RLS: {len(queries)} queries, {extra} set_config round trips")
    assert answer.json()["points_accrued"] == 1000
    with scope(merchant=bob.merchant):
        assert count("processing_purchase") == 0
    with scopes_disabled():
        assert Purchase.objects.get().receipt_id == "RLS-1"


def test_migrate_makes_the_database_match_the_setting(alice):
    if connection.vendor != "postgresql":
        pytest.skip("row-level security is PostgreSQL's")
    from django.apps import apps

    core = apps.get_app_config("core")

    def policies() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_policies WHERE policyname = %s",
                           [rls.POLICY])
            return cursor.fetchone()[0]

    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    assert policies() == 0
    with override_settings(KOPILKA_RLS=True):
        rls.on_post_migrate(core)
    assert policies() == len(rls.tenant_tables())
    with override_settings(KOPILKA_RLS=False):
        rls.on_post_migrate(core)
    assert policies() == 0
    assert rls.uninstall() == 0  # nothing left to remove
