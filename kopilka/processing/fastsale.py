"""The usual purchase commit on PostgreSQL in two round trips (psycopg pipeline mode).

`sale.commit_purchase` asks `commit()` first; None means "not for this path" and the ORM path
(`sale._commit`) does the work, as it always does on SQLite. The two paths write the same rows
(tests/processing/test_fastsale.py compares them row by row on the same scenarios).

1. **Reads**, one round trip: lock the member's account (`SELECT … FOR UPDATE`, by member),
   its open lots, the receipt's earlier purchase (a retry), and ids reserved from the
   sequences of the purchase, the audit entry and the lots the sale will make
   (`ledger.pipeline.Ids`).
2. **Python**: the same steps as `sale._commit` — the book materialises time's effects, the
   engine quotes, points are spent and accrued, the tier moves, the first-purchase gift, the
   hash chain — with the same functions.
3. **Writes**, one round trip: the purchase and its lines, the new and changed lots, the
   entries, the account, the audit entry (statements built from the models' metadata by
   `ledger.bulk`, reading nothing back), the subscribers' writes (webhook deliveries, the
   member's message, the analytics upsert), and the COMMIT. Under the POS's lean path the
   COMMIT is the request's (`api.idempotency.PosIdempotencyMiddleware`), sent with the stored
   answer; the member's look-up and the key's authentication stay round trips of their own.

What takes the ORM path (anything unusual; the fast path returns None before writing):
SQLite; `KOPILKA_PIPELINED_COMMIT=0`; a spending code (ENG-6); a promo code; a program with
referral rewards (their subscriber locks other members' accounts); a member without an
account yet (opened on first use) or with open holds; a purchase that makes more lots than were
reserved; a transaction opened elsewhere (only the lean path's pipelined transaction, or
none, is taken: elsewhere a savepoint would be needed around an error that surfaces only at
the end).
"""

from django.conf import settings
from django.db import IntegrityError, connections, router, transaction
from django.utils.translation import ngettext

from kopilka.core import clock
from kopilka.core.errors import Conflict
from kopilka.core.models import AuditEntry
from kopilka.ledger import services as ledger
from kopilka.ledger.bulk import write_rows
from kopilka.ledger.models import Lot
from kopilka.ledger.pipeline import OPEN_LOTS_OF_MEMBER, Ids, Pending, Pipeline, save_book
from kopilka.members.models import Member
from kopilka.processing import _book, tiers
from kopilka.processing.models import Purchase
from kopilka.programs import services as programs


class _Fallback(Exception):
    """Nothing written yet: the ORM path takes this sale."""


def enabled(connection) -> bool:
    return connection.vendor == "postgresql" and getattr(settings, "PIPELINED_COMMIT", True)


def commit(merchant, member, sale, *, receipt, confirmed):
    """The sale committed in two round trips, or None for the ORM path (see the module)."""
    from kopilka.processing import sale as sales  # sale imports this module lazily

    connection = connections[router.db_for_write(Purchase)]
    if not enabled(connection):
        return None
    request = Pipeline.of(connection)  # the lean path's transaction: it sends our COMMIT
    account = Member.account.related.get_cached_value(member, default=None)
    program = programs.load(merchant)
    # A promo code (Sale.promo, being added by campaigns) takes the ORM path until the two
    # paths are compared with one (tests/processing/test_fastsale.py).
    if (confirmed is not None or getattr(sale, "promo", None) is not None
            or (account is not None and account.held)
            or program.config.referral is not None or sales._needs_code(program, sale)):
        if request is not None:
            request.close(commit=False, check=True)  # the ORM path runs as it always does
        return None
    if request is not None:
        try:
            return _commit(merchant, member, sale, receipt, program, account, connection)
        except _Fallback:
            request.close(commit=False, check=True)
            return None
    if connection.in_atomic_block:
        return None
    try:
        with transaction.atomic(using=connection.alias):
            pipeline = Pipeline(connection)
            try:
                result = _commit(merchant, member, sale, receipt, program, account,
                                 connection)
            except BaseException:
                pipeline.close(commit=False)
                raise
            pipeline.close(commit=True)
            return result
    except _Fallback:
        return None
    except IntegrityError:
        # The same receipt committed at the same moment for another account: as sale.py.
        existing = Purchase.objects.filter(merchant=merchant, source=receipt.source,
                                           receipt_id=receipt.receipt_id).first()
        if existing is None:
            raise
        sales._replay_purchase(existing, member, sale)
        return sales._result(existing, replayed=True, tier_changed=False)


def _lots_wanted(program, joined) -> int:
    """Lot ids to reserve: the accrual's, and the first-purchase gift's when this looks like
    the member's first purchase (the account as joined, before the lock: if it was wrong,
    more lots than reserved send the sale to the ORM path). Exactly as many as the usual sale
    makes, so the sequence has no gaps (and the two paths give the same ids)."""
    first = program.config.first_purchase_gift is not None and (
        joined is None or joined.purchase_count == 0)
    return 1 + first


def _commit(merchant, member, sale, receipt, program, joined, connection):
    from kopilka.processing import sale as sales

    now = clock.now()
    at = sales._check_sale(sale, now)
    # Round trip 1: everything the commit reads, sent together, read once.
    alias = connection.alias
    locking = Pending(ledger._LOCK_BY_MEMBER, member.pk, using=alias)
    lots = Pending(OPEN_LOTS_OF_MEMBER, member.pk, using=alias)
    earlier = Pending(sales._BY_RECEIPT, merchant.pk, receipt.source, receipt.receipt_id,
                      using=alias)
    ids = Ids(connection, {Purchase: 1, AuditEntry: 1, Lot: _lots_wanted(program, joined)})
    locked = locking.rows()
    lots, earlier, reserved = lots.rows(), earlier.rows(), ids.take()
    if not locked or locked[0].held or locked[0].member_id != member.pk:
        raise _Fallback
    account = locked[0]
    # As Book.open: the locked account, its open lots, time's effects journalled.
    book = ledger.Book(account, lots)
    book.materialise(clock.now())  # Book.open's own moment, as the ORM path takes it
    _book.attach(member, account)
    if earlier:
        sales._replay_purchase(earlier[0], member, sale)
        return sales._result(earlier[0], replayed=True, tier_changed=False, book=book)
    # From here on, sale._commit's steps, with the same functions.
    _book.require_active(member, "member")
    _book.check_tier(program, book)
    quote = sales._quote(merchant, program, member, account, book.balances(now), sale, at)
    if quote.points_spent < sale.points_to_spend:
        raise Conflict(
            ngettext(
                "At most %(points)s point can be spent on this purchase.",
                "At most %(points)s points can be spent on this purchase.",
                quote.points_spent,
            ) % {"points": quote.points_spent},
            field="points_to_spend",
        )
    tier_before = account.tier_code
    tier_after = tier_before
    spend = quote.amount_after_discount
    if not account.tier_manual:
        tier_after = tiers.tier_after_purchase(program, account, spend, at, tier_before)
    purchase = Purchase(
        pk=reserved[Purchase][0],
        merchant=merchant, member=member, account=account, source=receipt.source,
        receipt_id=receipt.receipt_id, terminal=receipt.terminal, store=receipt.store,
        cashier=receipt.cashier, payment_method=sale.payment_method, occurred_at=at,
        recorded_at=now, total=quote.total, discount=quote.discount,
        points_spent=quote.points_spent, points_spent_money=quote.points_spent_money,
        points_accrued=quote.accrual_points, tier_before=tier_before, tier_after=tier_after,
        quote=sales._quote_record(quote),
    )
    purchase._state.adding, purchase._state.db = False, alias
    lines = sales._lines(merchant, purchase, quote, sale)
    actor = receipt.actor
    gift = sales._book_sale(book, program, merchant, purchase, quote, actor=actor, spend=spend,
                            at=at, now=now, tier_before=tier_before, tier_after=tier_after)
    if len(book._new_lots) > len(reserved[Lot]):
        raise _Fallback  # nothing written: the ORM path gives the lots their ids
    # Round trip 2: every write, sent without waiting (the COMMIT closes it).
    write_rows([purchase], with_pk=True)
    write_rows(lines, with_pk=False)
    save_book(book, reserved[Lot])
    audit = AuditEntry(
        pk=reserved[AuditEntry][0], merchant=merchant, actor_kind=actor.kind,
        actor_label=actor.label[:200], actor_user_id=actor.user_id,
        action="processing.purchase.committed", object_type=Purchase._meta.label_lower,
        object_id=str(purchase.pk),
        data=sales._audit_data(receipt, quote, tier_before, tier_after),
        ip=actor.ip, created_at=clock.now(),
    )
    write_rows([audit], with_pk=True)
    return sales._committed(merchant, member, program, purchase, book, gift=gift,
                            tier_before=tier_before, tier_after=tier_after)

