"""Editing the journal behind the application's back, as only someone who can drop triggers
could: for the tests that prove `verify-ledger` notices."""

from contextlib import contextmanager

from django.db import connection


@contextmanager
def unguarded():
    """Lift the append-only triggers of `ledger_entry` (migration ledger 0004) and put them
    back. Inside the test's transaction, so a failure rolls the change back as well."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # A superuser's way round triggers, without ALTER TABLE (which the test's pending
            # deferred foreign-key checks on ledger_entry would refuse).
            cursor.execute("SET LOCAL session_replication_role = replica")
            try:
                yield
            finally:
                cursor.execute("SET LOCAL session_replication_role = DEFAULT")
            return
        cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                       "AND tbl_name = 'ledger_entry'")
        triggers = cursor.fetchall()
        assert len(triggers) == 2, triggers
        for name, _sql in triggers:
            cursor.execute(f'DROP TRIGGER "{name}"')
        try:
            yield
        finally:
            for _name, sql in triggers:
                cursor.execute(sql)
