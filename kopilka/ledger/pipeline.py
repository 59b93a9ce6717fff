"""PostgreSQL's pipeline mode for a hot transaction: statements travel together, the client
waits once per batch of answers instead of once per statement.

psycopg sends each statement as it is executed and reads answers only when somebody asks for
one (a fetch): every statement executed before that fetch shares its round trip. A commit can
then read everything it needs in one round trip (`Pending`: queries sent now, rows read
later) and send every write and the COMMIT in another (`Pipeline.close(commit=True)`).

Two things Django's ORM does not expect of pipeline mode are handled here:

* a row count is only known once the statement's answer has been read: Django's `save()` of
  an existing row and `QuerySet.update()` read `cursor.rowcount` straight after executing, so
  while a `Pipeline` is open the connection's cursors read their answer first when asked for
  it (`_RowcountCursor`); a write nobody asks about stays in flight;
* the COMMIT is sent inside the pipeline and its answer read with the others; Django's own
  commit then finds the transaction closed and has nothing to send (psycopg's `commit()` is a
  no-op on an idle connection), and runs the `on_commit` callbacks as usual.

`save_book` writes what a `Book` changed with statements that read nothing back: the lots'
ids are reserved beforehand (`reserve_ids`), so entries can carry them in the hash chain.
"""

from django.db import connections

from kopilka.core import clock
from kopilka.core.prepared import PreparedQuery
from kopilka.ledger.bulk import update_rows, write_fields, write_rows
from kopilka.ledger.models import Lot

ATTRIBUTE = "kopilka_pipeline"
# A member's open lots by the member, so they can be read in the round trip that locks the
# account (whose id is not known yet); in id order, as Book.open loads them.
OPEN_LOTS_OF_MEMBER = PreparedQuery(lambda member_id: Lot.objects.filter(
    account__member_id=member_id, remaining__gt=0).order_by("pk"), kinds=(int,))
_cursor_classes: dict[type, type] = {}


def _rowcount_cursor(base: type) -> type:
    """`base` (the connection's cursor class) whose rowcount waits for the answer."""
    found = _cursor_classes.get(base)
    if found is None:
        class _RowcountCursor(base):
            @property
            def rowcount(self):
                self._fetch_pipeline()  # reads this statement's answer (psycopg, no-op if read)
                return self._rowcount

        found = _cursor_classes[base] = _RowcountCursor
    return found


class Pipeline:
    """The connection (a Django connection to PostgreSQL) in pipeline mode until `close()`."""

    def __init__(self, connection):
        self.connection = connection
        connection.ensure_connection()
        self.pg = connection.connection
        self._factory = self.pg.cursor_factory
        self.pg.cursor_factory = _rowcount_cursor(self._factory)
        self._context = self.pg.pipeline()
        self._context.__enter__()
        setattr(connection, ATTRIBUTE, self)

    @classmethod
    def of(cls, connection) -> "Pipeline | None":
        """The open pipeline of this connection's transaction, if one was opened here."""
        return getattr(connection, ATTRIBUTE, None)

    def close(self, *, commit: bool, check: bool | None = None) -> None:
        """Leave pipeline mode, reading every answer still due (one round trip); with
        `commit`, the COMMIT goes with them. Errors of any statement sent are raised here as
        Django's (an IntegrityError for a duplicate key) when committing or `check`; else
        they are dropped: the transaction is being rolled back anyway."""
        check = commit if check is None else check
        setattr(self.connection, ATTRIBUTE, None)
        try:
            with self.connection.wrap_database_errors:
                try:
                    if commit:
                        self.pg.execute("COMMIT")
                finally:
                    self._context.__exit__(None, None, None)
        except Exception:
            if check:
                raise
        finally:
            self.pg.cursor_factory = self._factory


class Pending:
    """A `PreparedQuery` sent now and read later: `rows()` gives the instances, as its
    `all()` would have."""

    def __init__(self, query: PreparedQuery, *args, using: str = "default"):
        compiled = query._compiled.get(using)
        if compiled is None:  # compiled once per process, as PreparedQuery._run does
            with query._lock:
                compiled = query._compiled.get(using) or query._compile(using)
                query._compiled[using] = compiled
        self.compiled = compiled
        self.using = using
        sql, params, slots = compiled[0], compiled[1], compiled[2]
        values = [p if s is None else args[s] for p, s in zip(params, slots, strict=True)]
        self.cursor = connections[using].cursor()
        self.cursor.execute(sql, values)

    def rows(self) -> list:
        (_sql, _params, _slots, compiler, converters, model, start, end, init_list, populators,
         fetch_mode) = self.compiled
        rows = self.cursor.fetchall()
        self.cursor.close()
        if converters:
            rows = compiler.apply_converters(rows, converters)
        found = []
        for row in rows:
            obj = model.from_db(self.using, init_list, row[start:end], fetch_mode=fetch_mode)
            for populator in populators:
                populator.populate(row, obj)
            found.append(obj)
        return found


class Ids:
    """Ids taken from the tables' sequences in the round trip of the reads: `send()` now,
    `take()` once the answers are in."""

    def __init__(self, connection, wanted: dict[type, int]):
        self.models = list(wanted)
        quote = connection.ops.quote_name
        parts = [
            f"ARRAY(SELECT nextval(pg_get_serial_sequence('{quote(model._meta.db_table)}', "
            f"'{model._meta.pk.column}')) FROM generate_series(1, {int(count)}))"
            for model, count in wanted.items()
        ]
        self.cursor = connection.cursor()
        self.cursor.execute(f"SELECT {', '.join(parts)}")

    def take(self) -> dict[type, list[int]]:
        row = self.cursor.fetchone()
        self.cursor.close()
        return dict(zip(self.models, (list(ids) for ids in row), strict=True))


def save_book(book, lot_ids: list[int]) -> None:
    """What `ledger.save_books([book])` writes, as statements that read nothing back: the
    new lots with ids from `lot_ids` (as many as the book made, or more), the changed lots,
    the hash-chained entries, the account. The caller checked that there are ids enough and
    that the book holds no hold changes (those take the ORM's path)."""
    if book._new_holds or book._changed_holds:
        raise ValueError("holds are written by ledger.save_books")  # a programming error
    new_lots = book._new_lots
    if len(new_lots) > len(lot_ids):
        raise ValueError("not enough lot ids reserved")  # a programming error
    for lot, pk in zip(new_lots, lot_ids, strict=False):
        lot.pk = pk
        lot._state.adding = False
        lot._state.db = "default"
    write_rows(new_lots, with_pk=True)
    changed = list(book._changed_lots.values())
    if changed:
        update_rows(changed, ["remaining", "activated"])
    write_rows(book._chained_entries(), with_pk=False)
    if book._account_fields:
        book.account.updated_at = clock.now()
        write_fields(book.account, [*sorted(book._account_fields), "updated_at"])
    book._written()
