"""The sale: quote a basket, commit a purchase.

A commit is one transaction that locks the member's account first, lets `ledger` journal what
time has done (activation, expiry), then applies the program through the pure engine and writes
the result through `ledger`. It is idempotent by the receipt id per source (a terminal's
receipts are unique per terminal): a replay returns what the first call did and changes
nothing.

The counter passes plain input (`sale_from`: the lines as mappings); processing builds the
engine's objects and the terminal's idempotency scope itself.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from kopilka.codes import services as codes
from kopilka.codes.models import OneTimeCode, Purpose
from kopilka.core import audit, clock, events
from kopilka.core.actor import Actor
from kopilka.core.errors import Conflict, InvalidInput
from kopilka.core.prepared import PreparedQuery
from kopilka.ledger import services as ledger
from kopilka.ledger.models import Account, Entry, Lot
from kopilka.members.models import Member
from kopilka.processing import _book, tiers
from kopilka.processing.models import Purchase, PurchaseLine
from kopilka.processing.queries import terminal_source
from kopilka.programs import engine
from kopilka.programs import services as programs
from kopilka.tenancy.models import Merchant, Staff

CLOCK_SKEW = timedelta(minutes=5)  # a POS clock a little ahead is not "the future"
EARLIEST_SALE = datetime(2000, 1, 1, tzinfo=UTC)
MAX_QUANTITY = 1_000_000


@dataclass(frozen=True)
class Sale:
    """What the counter sends: the basket and the circumstances of the sale."""

    lines: tuple[engine.BasketLine, ...]
    points_to_spend: int = 0
    payment_method: str = ""
    occurred_at: datetime | None = None
    store_id: int | None = None
    cashier_id: int | None = None
    #: A promo code's rule for this sale (campaigns.promo.for_sale); the engine evaluates it,
    #: campaigns records its use by hearing the sale's event.
    promo: engine.Promo | None = None


def sale_from(lines: Iterable[Mapping], *, points_to_spend: int = 0, payment_method: str = "",
              occurred_at: datetime | None = None, store=None, cashier=None,
              promo: engine.Promo | None = None) -> Sale:
    """A Sale from plain input: each line a mapping with line_id and amount, and optionally
    quantity, sku and product_group (what the API's LineIn dumps)."""
    return Sale(
        lines=tuple(engine.BasketLine(line_id=line["line_id"], amount=line["amount"],
                                      sku=line.get("sku"),
                                      product_group=line.get("product_group"),
                                      quantity=line.get("quantity", 1))
                    for line in lines),
        points_to_spend=points_to_spend, payment_method=payment_method,
        occurred_at=occurred_at, store_id=store.pk if store is not None else None,
        cashier_id=cashier.pk if cashier is not None else None, promo=promo,
    )


@dataclass(frozen=True, kw_only=True)
class Receipt:
    """Where and by whom a sale is recorded: its idempotency key (`receipt_id` per `source`)
    and the till it came from."""

    receipt_id: str
    source: str
    actor: Actor
    terminal: object = None  # tenancy.Terminal
    store: object = None  # tenancy.Store
    cashier: Staff | None = None


@dataclass
class PurchaseResult:
    purchase: Purchase
    replayed: bool
    available: int
    pending: int
    tier_changed: bool


def _check_sale(sale: Sale, now: datetime) -> datetime:
    if not sale.lines:
        raise InvalidInput(_("A purchase needs at least one line."), field="lines")
    ids = [line.line_id for line in sale.lines]
    if len(set(ids)) != len(ids):
        raise InvalidInput(_("Line ids must be unique within a purchase."), field="lines")
    for n, line in enumerate(sale.lines):
        if line.amount < 0:
            raise InvalidInput(_("A line amount cannot be negative."),
                               field=f"lines.{n}.amount")
        if line.quantity < 1:
            raise InvalidInput(_("Quantity must be at least 1."), field=f"lines.{n}.quantity")
        if line.quantity > MAX_QUANTITY:
            raise InvalidInput(_("Must be at most %(le)s.") % {"le": MAX_QUANTITY},
                               field=f"lines.{n}.quantity")
    if not any(line.amount for line in sale.lines):
        # Nothing was bought: refused, not recorded, so a basket of free lines cannot count as
        # a purchase (the member's first, with its gift) nor move points (#13).
        raise InvalidInput(_("A purchase's total must be more than zero."), field="lines")
    if sale.points_to_spend < 0:
        raise InvalidInput(_("points_to_spend cannot be negative."), field="points_to_spend")
    return sale_time(sale.occurred_at or now, now)


def sale_time(at: datetime, now: datetime | None = None, *, field: str = "occurred_at",
              future: bool = False) -> datetime:
    """The moment of a sale in UTC (PostgreSQL keeps offsets up to ±15:59 only, and zone
    arithmetic near year 1 overflows), from 2000 on and, unless `future` (a trial of a
    program may imagine one), at most a few minutes from now. The one check of a sale's
    time: the API passes the moment through and answers this error."""
    if at.tzinfo is None:
        raise InvalidInput(_("Must have a time zone offset (RFC 3339)."), field=field)
    try:
        at = at.astimezone(UTC)
    except OverflowError:
        at = None
    if at is None or at < EARLIEST_SALE:
        raise InvalidInput(_("Must be at least %(ge)s.") % {"ge": "2000-01-01T00:00:00Z"},
                           field=field)
    if not future and at > (now or clock.now()) + CLOCK_SKEW:
        raise InvalidInput(_("occurred_at is in the future."), field=field)
    return at


def _quote(merchant, program, member, account, balances, sale: Sale, at) -> engine.Quote:
    context = engine.QuoteContext(
        at=at, tz=merchant.timezone, store_id=sale.store_id, cashier_id=sale.cashier_id,
        payment_method=sale.payment_method or None, points_to_spend=sale.points_to_spend,
        promo=sale.promo,
    )
    return engine.quote(program, _book.state(program, member, account, balances),
                        engine.Basket(sale.lines), context)


def quote_purchase(merchant: Merchant, member: Member, sale: Sale,
                   code: str | None = None) -> engine.Quote:
    """What committing `sale` now would do. Writes nothing — but a one-time code given for a
    program that confirms spending with one is checked (not used up), and a wrong one costs
    an attempt, as at the commit: the quote must not be a free oracle for guessing."""
    at = _check_sale(sale, clock.now())
    program = programs.load(merchant)
    if code is not None and _needs_code(program, sale):
        codes.check(merchant, phone=_phone_of(member), purpose=Purpose.SPENDING, code=code)
    account = _book.account(member, program)
    return _quote(merchant, program, member, account, ledger.balances(account), sale, at)


def _replay_purchase(existing: Purchase, member: Member, sale: Sale) -> None:
    same = (
        existing.member_id == member.pk
        and existing.total == sum(line.amount for line in sale.lines)
        and existing.quote.get("points_requested") == sale.points_to_spend
    )
    if not same:
        raise Conflict(
            _("This receipt was already recorded with different contents."), field="receipt_id"
        )


def _needs_code(program: engine.CompiledProgram, sale: Sale) -> bool:
    return bool(sale.points_to_spend) and program.redeem_requires_code


def _phone_of(member: Member) -> str:
    return str(member.person.phone) if member.person.phone else ""


def _confirm_spending(merchant: Merchant, member: Member, sale: Sale, code: str | None,
                      receipt: Receipt) -> OneTimeCode | None:
    """The checked one-time code when the program confirms spending with one (ENG-6), before
    the purchase's transaction: a wrong code's lost attempt must outlive its rollback. None
    when no code is needed — a program without codes pays no query here — or when the receipt
    was committed already (a replay needs no new code)."""
    if not sale.points_to_spend or not _needs_code(programs.load(merchant), sale):
        return None
    _check_sale(sale, clock.now())  # a malformed sale is told as such, not as a code problem
    if Purchase.objects.filter(merchant=merchant, source=receipt.source,
                               receipt_id=receipt.receipt_id).exists():
        return None
    return codes.check(merchant, phone=_phone_of(member), purpose=Purpose.SPENDING, code=code)


def commit_purchase(
    merchant: Merchant,
    member: Member,
    sale: Sale,
    *,
    receipt_id: str,
    actor: Actor,
    source: str | None = None,
    terminal=None,
    store=None,
    cashier: Staff | None = None,
    code: str | None = None,
) -> PurchaseResult:
    """Record a sale. `source` scopes the receipt id; a terminal's sale leaves it out and
    gets the terminal's scope. `code`: the one-time code the member received, needed to spend
    points when the program says `redeem_requires_code`; used up with the purchase (a
    purchase that rolls back leaves it valid)."""
    receipt_id = (receipt_id or "").strip()
    if not receipt_id:
        raise InvalidInput(_("receipt_id is required."), field="receipt_id")
    if source is None:
        if terminal is None:
            raise ValueError("commit_purchase needs a source or a terminal")  # a programming error
        source = terminal_source(terminal)
    receipt = Receipt(receipt_id=receipt_id, source=source, actor=actor, terminal=terminal,
                      store=store, cashier=cashier)
    confirmed = _confirm_spending(merchant, member, sale, code, receipt)
    from kopilka.processing import fastsale  # the usual sale on PostgreSQL: two round trips

    pipelined = fastsale.commit(merchant, member, sale, receipt=receipt, confirmed=confirmed)
    if pipelined is not None:
        return pipelined
    try:
        with transaction.atomic():
            return _commit(merchant, member, sale, receipt=receipt, confirmed=confirmed)
    except IntegrityError:
        # The same receipt committed at the same moment for another member's account (the
        # account lock serialises duplicates for the same member): one purchase, never two.
        existing = Purchase.objects.filter(
            merchant=merchant, source=source, receipt_id=receipt_id
        ).first()
        if existing is None:
            raise
        _replay_purchase(existing, member, sale)
        return _result(existing, replayed=True, tier_changed=False)


def _result(purchase: Purchase, *, replayed: bool, tier_changed: bool,
            book: ledger.Book | None = None) -> PurchaseResult:
    if book is None:
        balances = ledger.balances(Account.objects.get(pk=purchase.account_id))
    else:
        balances = book.balances()
    return PurchaseResult(purchase, replayed, balances.available, balances.pending, tier_changed)


# Every commit asks whether its receipt was committed already (a retry): compiled once.
_BY_RECEIPT = PreparedQuery(lambda merchant_id, source, receipt_id: Purchase.objects.filter(
    merchant_id=merchant_id, source=source, receipt_id=receipt_id)[:1], kinds=(int, str, str))


def _commit(merchant: Merchant, member: Member, sale: Sale, *, receipt: Receipt,
            confirmed: OneTimeCode | None) -> PurchaseResult:
    now = clock.now()
    at = _check_sale(sale, now)
    program = programs.load(merchant)
    book = _book.book(member, program)
    existing = _BY_RECEIPT.first(merchant.pk, receipt.source, receipt.receipt_id)
    if existing is not None:
        _replay_purchase(existing, member, sale)
        return _result(existing, replayed=True, tier_changed=False, book=book)
    _book.require_active(member, "member")
    if _needs_code(program, sale):
        if confirmed is None:  # the program changed since _confirm_spending looked
            raise codes.code_required()
        codes.consume(confirmed, at=now)
    _book.check_tier(program, book)
    account = book.account
    quote = _quote(merchant, program, member, account, book.balances(now), sale, at)
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
    purchase = Purchase.objects.create(
        merchant=merchant, member=member, account=account, source=receipt.source,
        receipt_id=receipt.receipt_id, terminal=receipt.terminal, store=receipt.store,
        cashier=receipt.cashier, payment_method=sale.payment_method, occurred_at=at,
        recorded_at=now, total=quote.total, discount=quote.discount,
        points_spent=quote.points_spent, points_spent_money=quote.points_spent_money,
        points_accrued=quote.accrual_points, tier_before=tier_before, tier_after=tier_after,
        quote=_quote_record(quote),
    )
    PurchaseLine.objects.bulk_create(_lines(merchant, purchase, quote, sale))
    actor = receipt.actor
    gift = _book_sale(book, program, merchant, purchase, quote, actor=actor, spend=spend,
                      at=at, now=now, tier_before=tier_before, tier_after=tier_after)
    book.save()
    audit.record(
        "processing.purchase.committed", actor=actor, merchant=merchant, obj=purchase,
        data={**_audit_data(receipt, quote, tier_before, tier_after),
              **({"confirmed_by_code": confirmed.pk} if confirmed is not None else {})},
    )
    return _committed(merchant, member, program, purchase, book, gift=gift,
                      tier_before=tier_before, tier_after=tier_after)


def _audit_data(receipt, quote, tier_before: str, tier_after: str) -> dict:
    """The committed purchase's audit entry data (both commit paths write it)."""
    return {"receipt_id": receipt.receipt_id, "total": quote.total,
            "spent": quote.points_spent, "accrued": quote.accrual_points,
            "tier": [tier_before, tier_after]}


def _committed(merchant, member, program, purchase: Purchase, book, *, gift, tier_before: str,
               tier_after: str) -> PurchaseResult:
    """The new purchase's answer, with its PurchaseCommitted event published (both commit
    paths end here; subscribers write in the sale's transaction)."""
    result = _result(purchase, replayed=False, tier_changed=tier_after != tier_before,
                     book=book)
    events.publish(events.PurchaseCommitted(
        merchant=merchant, member=member, purchase=purchase, available=result.available,
        pending=result.pending, first=book.account.purchase_count == 1, gift_points=gift,
        tier=events.TierMove(before=tier_before, after=tier_after,
                             after_name=program.tiers[tier_after].name),
    ))
    return result


def _lines(merchant, purchase: Purchase, quote, sale: Sale) -> list[PurchaseLine]:
    """The purchase's lines as the quote priced them (not saved: each commit path writes
    them its own way)."""
    return [
        PurchaseLine(
            merchant=merchant, purchase=purchase, line_id=line.line_id, sku=basket.sku or "",
            product_group=basket.product_group or "", quantity=basket.quantity,
            amount=line.amount, discount=line.discount, points_money=line.redeem_money,
            accrual=line.accrual_points,
        )
        for line, basket in zip(quote.lines, sale.lines, strict=True)
    ]


def _book_sale(book: ledger.Book, program: engine.CompiledProgram, merchant,
               purchase: Purchase, quote, *, actor, spend: int, at, now,
               tier_before: str, tier_after: str) -> int:
    """The sale's effects on the member's book, for both commit paths: points spent and
    accrued, the purchase on record, the first-purchase gift, the tier. Nothing saved yet;
    returns the gift's points."""
    cause = ledger.Cause("purchase", str(purchase.pk), actor.label)
    if quote.points_spent:
        book.debit(quote.points_spent, entry_kind=Entry.Kind.REDEEM, cause=cause, at=at)
    for lot in quote.accrual_lots:
        book.credit(
            lot.points, lot_kind=Lot.Kind.ACCRUAL, entry_kind=Entry.Kind.ACCRUE, cause=cause,
            at=at, available_at=lot.available_at, expires_at=lot.expires_at,
        )
    book.record_purchase(
        spend=spend, at=at,
        inactivity_deadline=engine.expiry_deadline_after_last_purchase(
            program, at, merchant.timezone
        ),
    )
    gift = _first_purchase_gift(program, book, purchase, now, merchant.timezone)
    if tier_after != tier_before:
        book.set_tier(tier_after)
    return gift


def _first_purchase_gift(program: engine.CompiledProgram, book: ledger.Book,
                         purchase: Purchase, now: datetime, tz: str) -> int:
    """The program's first-purchase gift (AUT-1), granted with the receipt; its points.
    Once per member: under the account's lock the purchase count reaches 1 only once."""
    gift = program.config.first_purchase_gift
    if gift is None or book.account.purchase_count != 1:
        return 0
    book.credit(gift.points, lot_kind=Lot.Kind.GIFT, entry_kind=Entry.Kind.GRANT,
                cause=ledger.Cause("first_purchase", str(purchase.pk), "system"), at=now,
                expires_at=engine.expires_at_for(program, now, tz, gift.validity_days))
    return gift.points


def _quote_record(quote: engine.Quote) -> dict:
    """What the purchase remembers of its quote (for audit and for replays)."""
    record = {
        "points_requested": quote.points_requested,
        "effective_accrual_bp": quote.effective_accrual_bp,
        "lines": [
            {"line_id": line.line_id, "rules": list(line.rules),
             "accrual_percent_bp": line.accrual_percent_bp, "redeem_points": line.redeem_points}
            for line in quote.lines
        ],
    }
    if quote.promo is not None:  # campaigns.promo records the use from this (or refuses)
        promo = quote.promo
        record["promo"] = {"id": promo.ref, "code": promo.code, "applied": promo.applied,
                           "points": promo.points, "refusal": promo.refusal}
    return record
