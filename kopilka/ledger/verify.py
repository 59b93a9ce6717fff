"""Re-prove every ledger invariant from the rows themselves (`kopilka verify-ledger`).

For each account: entries are numbered 1..n without gaps, each entry's hash matches its
content and its predecessor's hash, the account's cached balances equal the sums of its
entries and of its lots, and every lot's remaining equals the sum of the entries that touched
it, and its held points equal its open holds. The first broken row of each account is
reported, named by table and id.

All of it reads one snapshot of the database, so it can run beside live traffic: otherwise an
account read before a purchase commits and its entries read after would disagree, and a sound
ledger would be reported broken. PostgreSQL: one REPEATABLE READ, READ ONLY transaction (it
holds back VACUUM's horizon while it runs; `--merchant` keeps a run short). SQLite: one
deferred read transaction, which in WAL mode sees the database as of its first read and
blocks no writer (the WAL cannot be checkpointed past it while it runs).
"""

from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django_scopes import scopes_disabled

from kopilka.ledger.chain import entry_hash
from kopilka.ledger.models import Account, Entry, Hold, Lot


@dataclass(frozen=True)
class Breach:
    account_id: int
    row: str  # "entry 17", "lot 4", "account 3"
    problem: str

    def __str__(self):
        return f"account {self.account_id}: {self.row}: {self.problem}"


@contextmanager
def snapshot(using: str = DEFAULT_DB_ALIAS):
    """One read-only transaction that sees one state of the database from its first read.

    Inside a transaction already open (a test's, or a caller's), that transaction is used as
    it is: its isolation was fixed by whoever opened it."""
    connection = connections[using]
    if connection.in_atomic_block:
        yield
        return
    if connection.vendor == "postgresql":
        with transaction.atomic(using=using):
            with connection.cursor() as cursor:  # must be the transaction's first statement
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield
        return
    if connection.vendor == "sqlite":
        # Kopilka's SQLite transactions are IMMEDIATE: they take the write lock at BEGIN, and
        # a long read would block every sale. A reader needs BEGIN DEFERRED: it takes no lock
        # until its first read and then keeps that read's snapshot (WAL).
        connection.ensure_connection()  # connecting would reset transaction_mode
        mode, connection.transaction_mode = connection.transaction_mode, "DEFERRED"
        try:
            with transaction.atomic(using=using):  # BEGIN DEFERRED, here
                connection.transaction_mode = mode
                yield
        finally:
            connection.transaction_mode = mode
        return
    raise NotImplementedError(f"no read snapshot for {connection.vendor}")


def verify(merchant_id: int | None = None) -> tuple[int, list[Breach]]:
    """Return (accounts checked, breaches), all read from one snapshot."""
    with snapshot(), scopes_disabled():
        accounts = Account.objects.order_by("pk")
        if merchant_id is not None:
            accounts = accounts.filter(merchant_id=merchant_id)
        checked, breaches = 0, []
        for account in accounts.iterator(chunk_size=500):
            checked += 1
            breach = verify_account(account)
            if breach is not None:
                breaches.append(breach)
    return checked, breaches


def verify_account(account: Account) -> Breach | None:
    def breach(row, problem):
        return Breach(account.pk, row, problem)

    lot_sums = defaultdict(int)
    available = pending = 0
    prev_hash = ""
    count = 0
    for expected_seq, entry in enumerate(
        Entry.objects.filter(account=account).order_by("seq").iterator(chunk_size=2000), start=1
    ):
        row = f"entry {entry.pk} (#{entry.seq})"
        if entry.seq != expected_seq:
            return breach(row, f"sequence gap: expected #{expected_seq}")
        if entry.prev_hash != prev_hash:
            return breach(row, "does not chain to the previous entry")
        if entry_hash(prev_hash, entry) != entry.hash:
            return breach(row, "content does not match its hash (edited)")
        prev_hash = entry.hash
        count = expected_seq
        available += entry.available_delta
        pending += entry.pending_delta
        lot_sums[entry.lot_id] += entry.available_delta + entry.pending_delta
    if account.entry_seq != count:
        return breach(f"account {account.pk}", "entry counter does not match the entries")
    if account.last_hash != prev_hash:
        return breach(f"account {account.pk}", "hash head does not match the last entry")
    if (account.available, account.pending) != (available, pending):
        return breach(
            f"account {account.pk}",
            f"cached balance {account.available}/{account.pending} "
            f"!= entries {available}/{pending}",
        )
    lot_available = lot_pending = 0
    for lot in Lot.objects.filter(account=account).order_by("pk"):
        if not 0 <= lot.remaining <= lot.amount:
            return breach(f"lot {lot.pk}", f"remaining {lot.remaining} outside 0..{lot.amount}")
        if lot.remaining != lot_sums.get(lot.pk, 0):
            return breach(
                f"lot {lot.pk}",
                f"remaining {lot.remaining} != its entries {lot_sums.get(lot.pk, 0)}",
            )
        if lot.activated:
            lot_available += lot.remaining
        else:
            lot_pending += lot.remaining
    if (lot_available, lot_pending) != (available, pending):
        return breach(f"account {account.pk}", "lots do not add up to the balance")
    if available < 0 or pending < 0:
        return breach(f"account {account.pk}", "negative balance")
    held = sum(Hold.objects.filter(account=account, state=Hold.State.OPEN)
               .values_list("amount", flat=True))
    if account.held != held:
        return breach(f"account {account.pk}", f"held {account.held} != its open holds {held}")
    return None
