"""Drop `ledger_lot.purchase_id` where an older 0002 created it.

A purchase's own lots are found by their entries' cause (`ledger.lots_of`, index
`entry_cause`), so the ledger needs no foreign key up to processing. 0002 no longer adds the
field, so in the migration state it never existed and this migration changes only the
database, and only where the column is there:

* a database that applied the old 0002 (it has the column, its foreign key and its index):
  the column is dropped; PostgreSQL drops its constraint and index with it, SQLite (3.35+,
  Django needs 3.37) drops it once its index is gone;
* a new database: 0002 never created the column, nothing to do.

Editing an applied migration is safe here because the only change is removing an operation
whose effect this migration undoes: every database ends with the same schema, and Django
records migrations by name, so 0002 is not run again. The column was nullable and nothing
reads it, so the code may run before or after this migration.
"""

from django.db import migrations

TABLE, COLUMN = "ledger_lot", "purchase_id"


def drop_purchase_column(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        columns = {c.name for c in connection.introspection.get_table_description(cursor, TABLE)}
        if COLUMN not in columns:
            return
        if connection.vendor == "sqlite":
            # SQLite refuses to drop an indexed column: drop the foreign key's index first.
            for name, info in connection.introspection.get_constraints(cursor, TABLE).items():
                if info["index"] and info["columns"] == [COLUMN]:
                    schema_editor.execute(f"DROP INDEX {schema_editor.quote_name(name)}")
    schema_editor.execute(
        f"ALTER TABLE {schema_editor.quote_name(TABLE)} DROP COLUMN {schema_editor.quote_name(COLUMN)}"
    )


class Migration(migrations.Migration):

    dependencies = [
        ("ledger", "0002_initial"),
    ]

    operations = [
        migrations.RunPython(drop_purchase_column, migrations.RunPython.noop, elidable=True),
    ]
