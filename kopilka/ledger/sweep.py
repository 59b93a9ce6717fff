"""The daily sweep: journal what time did to a merchant's points (activation of pending lots,
expiry at a lot's own date or at its account's inactivity deadline), set-based.

`Book.open()` per account costs five round trips and milliseconds of Python, about 90 lots a
second, so a million members would take hours. The sweep does the same work a chunk of accounts
at a time, in one transaction per chunk:

1. lock the chunk's accounts in id order (one SELECT … FOR UPDATE), the order every other
   multi-account lock takes, so the sweep cannot deadlock with transfers or with itself;
2. load their due lots (one SELECT);
3. build a `Book` per account from those rows and let `Book.materialise` decide — the rules
   exist once, in the Book;
4. write with `save_books`: one UPDATE of the lots, one INSERT of the hash-chained entries, one
   UPDATE of the accounts.

A Book built from the due lots only is enough for materialise, which looks at each lot alone;
lots with nothing due would journal nothing. A crash loses at most the chunk in hand, and a
rerun finds only what is still due: nothing is journalled twice.

On PostgreSQL steps 2-4 are one SQL statement instead (sqlsweep.py: the entries and their
SHA-256 chain computed by the database, the same rows to the byte), and the chunks go in
`STREAMS` parallel streams, each a thread with its own connection; accounts with open holds
still go through the Book. KOPILKA_SQL_SWEEP=0 keeps the Python path everywhere.
"""

import contextvars
import queue
import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connections, router, transaction
from django.db.models import Q

from kopilka.ledger import sqlsweep
from kopilka.ledger.models import Account, Lot
from kopilka.ledger.services import Book, save_books

# Accounts per transaction. Larger chunks save statements and commits but hold more locks
# for longer; on PostgreSQL 500, 1 000 and 2 000 swept within noise of each other
# (docs/benchmarks.md).
CHUNK = 1_000
# The SQL path on PostgreSQL (sqlsweep.py); KOPILKA_SQL_SWEEP=0 keeps the Python one.
SQL = settings.SQL_SWEEP
# Parallel streams of chunks on the SQL path (threads, a connection each): 2 measured faster
# than 1 on the 2-core VM (docs/benchmarks.md). KOPILKA_SWEEP_STREAMS overrides.
STREAMS = settings.SWEEP_STREAMS


def due(at: datetime) -> Q:
    """Open lots that `Book.materialise(at)` would journal: pending ones whose activation has
    come, and ones past their own expiry or their account's inactivity deadline."""
    return Q(remaining__gt=0) & (
        Q(activated=False, available_at__lte=at)
        | Q(expires_at__lte=at)
        | Q(account__inactivity_deadline__lte=at)
    )


def due_accounts(merchant, at: datetime) -> list[int]:
    """Ids of the merchant's accounts with anything due by `at`, ascending: one query."""
    return list(
        Lot.objects.filter(due(at), merchant=merchant)
        .order_by("account_id").values_list("account_id", flat=True).distinct()
    )


@dataclass
class Swept:
    accounts: int = 0
    entries: int = 0


def _connection():
    return connections[router.db_for_write(Account)]


def sql_path(connection=None) -> bool:
    return SQL and sqlsweep.supported(connection or _connection())


def _book_chunk(merchant, account_ids: Sequence[int], at: datetime) -> int:
    """The Python path, inside the caller's transaction: lock, load, Book.materialise, save."""
    accounts = list(
        Account.objects.select_for_update()
        .filter(merchant=merchant, pk__in=account_ids).order_by("pk")
    )
    lots: dict[int, list[Lot]] = defaultdict(list)
    for lot in (Lot.objects.filter(due(at), merchant=merchant, account_id__in=account_ids)
                .order_by("account_id", "pk")):
        lots[lot.account_id].append(lot)
    books = []
    for account in accounts:
        if account.pk in lots:
            book = Book(account, lots[account.pk])
            book.materialise(at)
            books.append(book)
    return save_books(books)


def _sql_chunk(merchant, account_ids: Sequence[int], at: datetime) -> int:
    """The SQL path, inside the caller's transaction; accounts with open holds (whose
    materialise may release one) go through the Book."""
    connection = _connection()
    locked = sqlsweep.lock(merchant.pk, account_ids, connection)
    holding = [account_id for account_id, held in locked if held]
    plain = [account_id for account_id, held in locked if not held]
    written = sqlsweep.materialise_locked(merchant.pk, plain, at, connection)
    if holding:
        written += _book_chunk(merchant, holding, at)
    return written


def materialise_chunk(merchant, account_ids: Sequence[int], at: datetime) -> int:
    """Journal what is due by `at` on these accounts of the merchant, in one transaction;
    return how many entries were written (0 for accounts with nothing due)."""
    with transaction.atomic():
        if sql_path():
            return _sql_chunk(merchant, account_ids, at)
        return _book_chunk(merchant, account_ids, at)


def materialise_due(merchant, at: datetime, *, chunk: int | None = None,
                    progress: Callable[[int, int], None] | None = None,
                    streams: int | None = None) -> Swept:
    """Journal activations and expiries due by `at` on every account of the merchant, a chunk
    (default CHUNK) per transaction. `progress(done, total)` is called after each chunk, in
    the order they committed. On the SQL path the chunks go in `streams` (default STREAMS)
    parallel threads — not inside a transaction already open (a test's), whose rows other
    connections would not see."""
    chunk = chunk or CHUNK
    account_ids = due_accounts(merchant, at)
    swept = Swept(accounts=len(account_ids))
    chunks = [account_ids[start:start + chunk] for start in range(0, len(account_ids), chunk)]
    streams = STREAMS if streams is None else streams
    connection = _connection()
    if (streams > 1 and len(chunks) > 1 and sql_path(connection)
            and not connection.in_atomic_block):
        swept.entries = _in_streams(merchant, chunks, at, min(streams, len(chunks)), progress,
                                    len(account_ids))
        return swept
    done = 0
    for ids in chunks:
        swept.entries += materialise_chunk(merchant, ids, at)
        done += len(ids)
        if progress is not None:
            progress(done, len(account_ids))
    return swept


# Called in each stream's thread, with its connection, before the thread closes it (the
# benchmark reads the server process's CPU time there).
on_stream_end: Callable[[object], None] | None = None


def _in_streams(merchant, chunks: list[list[int]], at: datetime, streams: int,
                progress: Callable[[int, int], None] | None, total: int) -> int:
    """Sweep the chunks in `streams` threads, each with its own connection, taking the next
    chunk as it finishes one. Chunks hold disjoint accounts, so streams never wait on each
    other's locks. The first error stops every stream after its chunk in hand and is raised
    here; the chunks committed before it stay, as with one stream."""
    todo: queue.SimpleQueue = queue.SimpleQueue()
    for ids in chunks:
        todo.put(ids)
    results: queue.SimpleQueue = queue.SimpleQueue()
    failed = threading.Event()

    def stream() -> None:
        try:
            while not failed.is_set():
                try:
                    ids = todo.get_nowait()
                except queue.Empty:
                    return
                results.put((len(ids), materialise_chunk(merchant, ids, at), None))
        except BaseException as error:  # handed to the caller's thread
            failed.set()
            results.put((0, 0, error))
        finally:
            try:
                if on_stream_end is not None:
                    on_stream_end(_connection())
            finally:
                connections.close_all()  # this thread's connections

    # Each thread runs in a copy of the caller's context (scopes, the test clock).
    threads = [threading.Thread(target=contextvars.copy_context().run, args=(stream,),
                                name=f"sweep-{n}", daemon=True) for n in range(streams)]
    for thread in threads:
        thread.start()
    done = entries = 0
    error = None
    alive = True
    try:
        while alive or not results.empty():
            try:
                accounts, written, failure = results.get(timeout=0.2)
            except queue.Empty:
                alive = any(thread.is_alive() for thread in threads)
                continue
            if failure is not None:
                error = error or failure
                continue
            done += accounts
            entries += written
            if progress is not None:
                progress(done, total)
    finally:  # a failing progress callback stops the streams too
        failed.set()
        for thread in threads:
            thread.join()
    if error is not None:
        raise error
    return entries
