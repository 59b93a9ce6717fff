"""Loading millions of rows for a benchmark in minutes: PostgreSQL's COPY (psycopg's
`cursor.copy`), SQLite's `executemany`, both fed plain tuples instead of model instances.

Not for the application: rows go in as given, without `save()` or signals, ids are taken from
the table's sequence in one block. Each model's columns a caller does not give are filled with
the field's default (a callable default, such as a unique token, is called per row).
"""

from collections.abc import Iterable, Sequence

from django.db import connection
from django.db.models import Model


def reserve_ids(model: type[Model], count: int) -> int:
    """The first of `count` consecutive new primary keys of `model` (they are then taken)."""
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One statement: nextval hands out the first, setval moves past the block.
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence(%s, %s), nextval(pg_get_serial_sequence"
                "(%s, %s)) + %s - 1)",
                [table, model._meta.pk.column, table, model._meta.pk.column, count],
            )
            return cursor.fetchone()[0] - count + 1
        # SQLite: the benchmark is the only writer; ids above max(id) are free (AUTOINCREMENT
        # moves its counter past explicit ids).
        cursor.execute(f'SELECT COALESCE(MAX("{model._meta.pk.column}"), 0) FROM "{table}"')
        return cursor.fetchone()[0] + 1


class Table:
    """Insert rows of `model` giving only `columns` (attnames); the rest take defaults."""

    def __init__(self, model: type[Model], columns: Sequence[str]):
        self.model = model
        fields = {field.attname: field for field in model._meta.concrete_fields}
        self.given = [fields[name] for name in columns]
        # An auto primary key not given is left to the database.
        rest = [field for name, field in fields.items() if name not in columns
                and not (field.primary_key and field.get_internal_type().endswith("AutoField"))]
        self.per_row = [field for field in rest if callable(field.default) and field.unique]
        self.constant = [field for field in rest if field not in self.per_row]
        self.constants = tuple(self._prep(field, field.get_default()) for field in self.constant)
        self.fields = [*self.given, *self.constant, *self.per_row]

    def _prep(self, field, value):
        if connection.vendor == "postgresql":
            # psycopg adapts Python values itself; JSON needs its wrapper.
            return field.get_db_prep_save(value, connection) if field.get_internal_type() \
                == "JSONField" else value
        return field.get_db_prep_save(value, connection)

    def _rows(self, rows: Iterable[tuple]) -> Iterable[tuple]:
        given, constants, per_row = self.given, self.constants, self.per_row
        sqlite = connection.vendor != "postgresql"
        for row in rows:
            if sqlite:
                row = tuple(self._prep(field, value) for field, value in zip(given, row,
                                                                             strict=True))
            yield row + constants + tuple(self._prep(f, f.get_default()) for f in per_row)

    def insert(self, rows: Iterable[tuple]) -> None:
        table = connection.ops.quote_name(self.model._meta.db_table)
        names = ", ".join(connection.ops.quote_name(field.column) for field in self.fields)
        if connection.vendor == "postgresql":
            connection.ensure_connection()
            with connection.connection.cursor() as cursor, cursor.copy(
                f"COPY {table} ({names}) FROM STDIN"
            ) as copy:
                for row in self._rows(rows):
                    copy.write_row(row)
            return
        marks = ", ".join(["%s"] * len(self.fields))
        with connection.cursor() as cursor:
            cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})",
                               list(self._rows(rows)))
