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
"""

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Q

from kopilka.ledger.models import Account, Lot
from kopilka.ledger.services import Book, save_books

# Accounts per transaction. Larger chunks save statements and commits but hold more locks
# for longer; on PostgreSQL 500, 1 000 and 2 000 swept within noise of each other
# (docs/benchmarks.md).
CHUNK = 1_000


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


def materialise_chunk(merchant, account_ids: Sequence[int], at: datetime) -> int:
    """Journal what is due by `at` on these accounts of the merchant, in one transaction;
    return how many entries were written (0 for accounts with nothing due)."""
    with transaction.atomic():
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


def materialise_due(merchant, at: datetime, *, chunk: int | None = None,
                    progress: Callable[[int, int], None] | None = None) -> Swept:
    """Journal activations and expiries due by `at` on every account of the merchant, a chunk
    (default CHUNK) per transaction. `progress(done, total)` is called after each chunk."""
    chunk = chunk or CHUNK
    account_ids = due_accounts(merchant, at)
    swept = Swept(accounts=len(account_ids))
    for start in range(0, len(account_ids), chunk):
        swept.entries += materialise_chunk(merchant, account_ids[start:start + chunk], at)
        if progress is not None:
            progress(min(start + chunk, len(account_ids)), len(account_ids))
    return swept
