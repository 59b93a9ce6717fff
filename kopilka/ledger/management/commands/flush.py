"""Django's `flush` (empty every table), with the ledger's append-only triggers lifted on SQLite.

Emptying the whole database — an operator resetting a test installation, or Django's
transactional tests after each test — is the one legitimate removal of ledger entries.
PostgreSQL empties tables with TRUNCATE, which fires no row triggers, so there this is Django's
command unchanged. SQLite has no TRUNCATE: `flush` runs `DELETE FROM` per table, and the
BEFORE DELETE trigger of migration ledger 0004 would refuse it. So on SQLite the triggers on
`ledger_entry` are dropped, the tables emptied and the triggers created again from their own
stored SQL, all in one transaction: if anything fails, the triggers stay as they were, and no
other connection ever sees the table unguarded (SQLite has one writer at a time).
"""

from django.core.management.commands import flush
from django.db import DEFAULT_DB_ALIAS, connections, transaction

TABLE = "ledger_entry"


class Command(flush.Command):
    def handle(self, **options):
        connection = connections[options.get("database") or DEFAULT_DB_ALIAS]
        if connection.vendor != "sqlite":
            return super().handle(**options)
        with transaction.atomic(using=connection.alias):
            with connection.cursor() as cursor:
                cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                               "AND tbl_name = %s", [TABLE])
                triggers = cursor.fetchall()
                for name, _sql in triggers:
                    cursor.execute(f"DROP TRIGGER {connection.ops.quote_name(name)}")
            super().handle(**options)
            with connection.cursor() as cursor:
                for _name, sql in triggers:
                    cursor.execute(sql)
