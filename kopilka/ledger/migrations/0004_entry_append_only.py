"""The database refuses to change or delete a ledger entry: BEFORE UPDATE and BEFORE DELETE
triggers on `ledger_entry`, for PostgreSQL and SQLite (the habit of django-hordak, which keeps
its ledger rules in per-database trigger SQL).

`Entry.save()` and `Entry.delete()` refuse already, but `QuerySet.update()`, `.delete()` and
raw SQL went around them; the hash chain would only notice afterwards (`verify-ledger`). Now
the statement fails with an integrity error (SQLSTATE 23000 on PostgreSQL, a constraint error
on SQLite) and nothing is written. Inserting stays free: the journal only grows.

Emptying the whole database is the one legitimate removal. PostgreSQL's TRUNCATE fires no row
triggers, so `flush` (which Django's transactional tests run after each test) works as it is;
SQLite's `flush` deletes row by row, so the ledger app's own `flush` command lifts these
triggers for its transaction and puts them back (ledger/management/commands/flush.py).

SQLite drops a table's triggers with the table, and Django's SQLite schema editor rebuilds a
table (create, copy, drop, rename) for most changes of a field: a later migration that alters
`ledger_entry` must run `install` again. tests/ledger/test_append_only.py fails if the
migrated database lacks them.
"""

from django.db import migrations

MESSAGE = "ledger entries are append-only"

POSTGRESQL_INSTALL = [
    f"""
    CREATE FUNCTION ledger_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '{MESSAGE}: % of entry % refused', TG_OP, OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END
    $$
    """,
    """
    CREATE TRIGGER ledger_entry_append_only BEFORE UPDATE OR DELETE ON ledger_entry
        FOR EACH ROW EXECUTE FUNCTION ledger_entry_append_only()
    """,
]
POSTGRESQL_REMOVE = [
    "DROP TRIGGER IF EXISTS ledger_entry_append_only ON ledger_entry",
    "DROP FUNCTION IF EXISTS ledger_entry_append_only()",
]
SQLITE_INSTALL = [
    f"""
    CREATE TRIGGER ledger_entry_no_{operation.lower()} BEFORE {operation} ON ledger_entry
    BEGIN
        SELECT RAISE(ABORT, '{MESSAGE}: {operation} refused');
    END
    """
    for operation in ("UPDATE", "DELETE")
]
SQLITE_REMOVE = [
    "DROP TRIGGER IF EXISTS ledger_entry_no_update",
    "DROP TRIGGER IF EXISTS ledger_entry_no_delete",
]
SQL = {
    "postgresql": (POSTGRESQL_INSTALL, POSTGRESQL_REMOVE),
    "sqlite": (SQLITE_INSTALL, SQLITE_REMOVE),
}


def _run(schema_editor, which: int) -> None:
    vendor = schema_editor.connection.vendor
    if vendor not in SQL:
        raise NotImplementedError(f"ledger entry triggers are written for {sorted(SQL)}, "
                                  f"not {vendor}: write them before using it")
    for statement in SQL[vendor][which]:
        schema_editor.execute(statement, params=None)  # no parameters: "%" is literal


def install(apps, schema_editor):
    _run(schema_editor, 0)


def remove(apps, schema_editor):
    _run(schema_editor, 1)


class Migration(migrations.Migration):

    dependencies = [
        ("ledger", "0003_lot_without_purchase"),
    ]

    operations = [
        migrations.RunPython(install, remove),
    ]
