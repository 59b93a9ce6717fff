"""The processing centre: look-up, quote, purchase, refund, transfer, manual grants.

Each write is one transaction that locks the member's account first, lets `ledger` journal
what time has done (activation, expiry), then applies the program through the pure engine and
writes the result through `ledger`. Every write is idempotent by a client key (the receipt id
per source, the refund id per purchase, a transfer/adjustment key): a replay returns what the
first call did and changes nothing.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from kopilka.codes import services as codes
from kopilka.codes.models import OneTimeCode, Purpose
from kopilka.core import audit, clock
from kopilka.core.actor import Actor
from kopilka.core.errors import Conflict, Forbidden, InvalidInput
from kopilka.core.money import split
from kopilka.core.phones import normalize_phone
from kopilka.core.prepared import PreparedQuery
from kopilka.ledger import services as ledger
from kopilka.ledger.models import Account, Entry, Lot
from kopilka.members import services as members
from kopilka.members.models import Member
from kopilka.messaging import notify as messages
from kopilka.processing.models import (
    Adjustment,
    Allowance,
    Purchase,
    PurchaseLine,
    Refund,
    Transfer,
)
from kopilka.programs import engine
from kopilka.programs import services as programs
from kopilka.tenancy.models import Merchant, Staff
from kopilka.webhooks import payloads
from kopilka.webhooks import services as webhooks

CLOCK_SKEW = timedelta(minutes=5)  # a POS clock a little ahead is not "the future"
EARLIEST_SALE = datetime(2000, 1, 1, tzinfo=UTC)
MAX_QUANTITY = 1_000_000


@dataclass
class MemberCard:
    member: Member
    account: Account
    available: int
    pending: int
    hints: tuple[engine.Hint, ...]
    tier: str  # the account's, or the starting tier if the program no longer has that one


@dataclass
class PurchaseResult:
    purchase: Purchase
    replayed: bool
    available: int
    pending: int
    tier_changed: bool


@dataclass
class RefundResult:
    refund: Refund
    replayed: bool
    available: int
    pending: int


@dataclass
class TransferResult:
    transfer: Transfer
    replayed: bool


@dataclass
class AdjustmentResult:
    adjustment: Adjustment
    replayed: bool


# --- accounts and member state ---------------------------------------------------------------


def _account(member: Member, program: engine.CompiledProgram) -> Account:
    """The member's account; opened on first use for a member registered before the merchant
    had a program (get_or_create: two first purchases at once still make one account).
    A member found at the counter comes with the account joined: no query then."""
    if Member.account.is_cached(member):
        account = getattr(member, "account", None)  # None cached: the join found none
        if account is not None:
            return account
    account, _created = Account.objects.get_or_create(
        member=member,
        defaults={"merchant_id": member.merchant_id, "tier_code": program.start_tier,
                  "updated_at": clock.now()},
    )
    return account


def _book(member: Member, program: engine.CompiledProgram) -> ledger.Book:
    """The member's account, locked, with time's effects journalled."""
    try:
        book = ledger.Book.open(member_id=member.pk)
    except Account.DoesNotExist:
        _account(member, program)
        book = ledger.Book.open(member_id=member.pk)
    _attach(member, book.account)
    return book


def _attach(member: Member, account: Account) -> None:
    """Give the caller's member the live, locked account the write changes, so a member
    object kept across writes never shows a balance or tier from before them."""
    Member.account.related.set_cached_value(member, account)


def _state(program: engine.CompiledProgram, member: Member, account: Account,
           balances: ledger.Balances) -> engine.MemberState:
    return engine.MemberState(
        tier_code=_tier_in(program, account),
        lifetime_spend=account.lifetime_spend,
        available_points=balances.available,
        pending_lots=tuple(engine.DatedPoints(p, t) for p, t in balances.activating),
        expiring_lots=tuple(engine.DatedPoints(p, t) for p, t in balances.expiring),
        birth_date=member.birth_date,
        tags=frozenset(member.tags),
        purchase_count=account.purchase_count,
    )


def _require_active(member: Member, field: str) -> None:
    """Blocked, departed and erased members neither buy nor receive points (refunds and
    deductions still work: they settle what already happened)."""
    if member.status != Member.Status.ACTIVE:
        raise Conflict(_("This member's card is blocked or has left the program."),
                       field=field)


def _tier_in(program: engine.CompiledProgram, account: Account) -> str:
    """The member's tier, or the starting tier if the owner removed theirs from the program
    (the next write records the move: _check_tier)."""
    return account.tier_code if account.tier_code in program.tiers else program.start_tier


def _check_tier(program: engine.CompiledProgram, book: ledger.Book) -> None:
    if book.account.tier_code not in program.tiers:
        book.set_tier(program.start_tier)


def enrol(merchant: Merchant, *, phone: str, actor: Actor, channel: str, staff=None,
          consents=(), code: str | None = None, **profile) -> Member:
    """Register a member, open the points account in the starting tier, grant the welcome
    bonus — one transaction, so there is never a member without an account or bonus.

    With `code` (the registration code sent to `phone`, codes.request_code) the phone is
    recorded as verified and the consents as confirmed by it. The code is checked first, so a
    wrong one costs an attempt whatever happens next, and used up inside the registration: a
    registration refused for another reason leaves it valid for the retry."""
    confirmed = None
    if code is not None:
        e164 = normalize_phone(phone, merchant.country)
        confirmed = codes.check(merchant, phone=e164, purpose=Purpose.REGISTRATION, code=code)
    return _enrol(merchant, phone=phone, actor=actor, channel=channel, staff=staff,
                  consents=consents, confirmed=confirmed, **profile)


@transaction.atomic
def _enrol(merchant: Merchant, *, phone: str, actor: Actor, channel: str, staff, consents,
           confirmed: OneTimeCode | None, **profile) -> Member:
    program = programs.load(merchant)
    if confirmed is not None:
        codes.consume(confirmed)
    member = members.register_member(
        merchant, phone=phone, actor=actor, channel=channel, staff=staff, consents=consents,
        confirmed_by=confirmed, **profile,
    )
    account = ledger.open_account(member, tier_code=program.start_tier)
    now = clock.now()
    welcome = engine.welcome_lot(program, now, merchant.timezone)
    if welcome is not None:
        book = ledger.Book(account, [])  # just created inside this transaction: no lock needed
        book.credit(
            welcome.points, lot_kind=Lot.Kind.WELCOME, entry_kind=Entry.Kind.GRANT,
            cause=ledger.Cause("welcome", str(member.pk), actor.label), at=now,
            expires_at=welcome.expires_at,
        )
        book.save()
    webhooks.emit(merchant, "member.registered", payloads.member_registered(
        member, tier=account.tier_code, welcome_points=welcome.points if welcome else 0))
    messages.registered(merchant, member, balance=account.available)
    return member


def member_card(merchant: Merchant, member: Member, at: datetime | None = None) -> MemberCard:
    """Balances, tier and cashier hints as of `at` — computed, not dependent on jobs."""
    at = at or clock.now()
    program = programs.load(merchant)
    account = _account(member, program)
    balances = ledger.balances(account, at)
    hints = engine.hints_for(program, _state(program, member, account, balances), at,
                             merchant.timezone)
    return MemberCard(member, account, balances.available, balances.pending, hints,
                      _tier_in(program, account))


def lookup(merchant: Merchant, *, phone=None, card=None, qr=None) -> MemberCard:
    member = members.find_member(merchant, phone=phone, card=card, qr=qr)
    return member_card(merchant, member)


# --- quote and purchase ----------------------------------------------------------------------


@dataclass(frozen=True)
class Sale:
    """What the counter sends: the basket and the circumstances of the sale."""

    lines: tuple[engine.BasketLine, ...]
    points_to_spend: int = 0
    payment_method: str = ""
    occurred_at: datetime | None = None
    store_id: int | None = None
    cashier_id: int | None = None


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
    if sale.points_to_spend < 0:
        raise InvalidInput(_("points_to_spend cannot be negative."), field="points_to_spend")
    return _sale_time(sale.occurred_at or now, now)


def _sale_time(at: datetime, now: datetime) -> datetime:
    """The moment of a sale in UTC (PostgreSQL keeps offsets up to ±15:59 only, and zone
    arithmetic near year 1 overflows), between 2000 and a few minutes from now."""
    if at.tzinfo is None:
        raise InvalidInput(_("Must have a time zone offset (RFC 3339)."), field="occurred_at")
    try:
        at = at.astimezone(UTC)
    except OverflowError:
        at = None
    if at is None or at < EARLIEST_SALE:
        raise InvalidInput(_("Must be at least %(ge)s.") % {"ge": "2000-01-01T00:00:00Z"},
                           field="occurred_at")
    if at > now + CLOCK_SKEW:
        raise InvalidInput(_("occurred_at is in the future."), field="occurred_at")
    return at


def _quote(merchant, program, member, account, balances, sale: Sale, at) -> engine.Quote:
    context = engine.QuoteContext(
        at=at, tz=merchant.timezone, store_id=sale.store_id, cashier_id=sale.cashier_id,
        payment_method=sale.payment_method or None, points_to_spend=sale.points_to_spend,
    )
    return engine.quote(program, _state(program, member, account, balances),
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
    account = _account(member, program)
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
                      source: str, receipt_id: str) -> OneTimeCode | None:
    """The checked one-time code when the program confirms spending with one (ENG-6), before
    the purchase's transaction: a wrong code's lost attempt must outlive its rollback. None
    when no code is needed — a program without codes pays no query here — or when the receipt
    was committed already (a replay needs no new code)."""
    if not sale.points_to_spend or not _needs_code(programs.load(merchant), sale):
        return None
    _check_sale(sale, clock.now())  # a malformed sale is told as such, not as a code problem
    if Purchase.objects.filter(merchant=merchant, source=source, receipt_id=receipt_id).exists():
        return None
    return codes.check(merchant, phone=_phone_of(member), purpose=Purpose.SPENDING, code=code)


def commit_purchase(
    merchant: Merchant,
    member: Member,
    sale: Sale,
    *,
    receipt_id: str,
    source: str,
    actor: Actor,
    terminal=None,
    store=None,
    cashier: Staff | None = None,
    code: str | None = None,
) -> PurchaseResult:
    """Record a sale. `code`: the one-time code the member received, needed to spend points
    when the program says `redeem_requires_code`; used up with the purchase (a purchase that
    rolls back leaves it valid)."""
    receipt_id = (receipt_id or "").strip()
    if not receipt_id:
        raise InvalidInput(_("receipt_id is required."), field="receipt_id")
    confirmed = _confirm_spending(merchant, member, sale, code, source, receipt_id)
    try:
        with transaction.atomic():
            return _commit(merchant, member, sale, receipt_id, source, actor, terminal, store,
                           cashier, confirmed)
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


def _commit(merchant, member, sale, receipt_id, source, actor, terminal, store, cashier,
            confirmed: OneTimeCode | None = None):
    now = clock.now()
    at = _check_sale(sale, now)
    program = programs.load(merchant)
    book = _book(member, program)
    existing = _BY_RECEIPT.first(merchant.pk, source, receipt_id)
    if existing is not None:
        _replay_purchase(existing, member, sale)
        return _result(existing, replayed=True, tier_changed=False, book=book)
    _require_active(member, "member")
    if _needs_code(program, sale):
        if confirmed is None:  # the program changed since _confirm_spending looked
            raise codes.code_required()
        codes.consume(confirmed, at=now)
    _check_tier(program, book)
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
        tier_after = engine.tier_for_lifetime(program, account.lifetime_spend + spend,
                                              tier_before)
    purchase = Purchase.objects.create(
        merchant=merchant, member=member, account=account, source=source,
        receipt_id=receipt_id, terminal=terminal, store=store, cashier=cashier,
        payment_method=sale.payment_method, occurred_at=at, recorded_at=now,
        total=quote.total, discount=quote.discount, points_spent=quote.points_spent,
        points_spent_money=quote.points_spent_money, points_accrued=quote.accrual_points,
        tier_before=tier_before, tier_after=tier_after, quote=_quote_record(quote),
    )
    PurchaseLine.objects.bulk_create([
        PurchaseLine(
            merchant=merchant, purchase=purchase, line_id=line.line_id, sku=basket.sku or "",
            product_group=basket.product_group or "", quantity=basket.quantity,
            amount=line.amount, discount=line.discount, points_money=line.redeem_money,
            accrual=line.accrual_points,
        )
        for line, basket in zip(quote.lines, sale.lines, strict=True)
    ])
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
    book.save()
    audit.record(
        "processing.purchase.committed", actor=actor, merchant=merchant, obj=purchase,
        data={"receipt_id": receipt_id, "total": quote.total, "spent": quote.points_spent,
              "accrued": quote.accrual_points, "tier": [tier_before, tier_after],
              **({"confirmed_by_code": confirmed.pk} if confirmed is not None else {})},
    )
    result = _result(purchase, replayed=False, tier_changed=tier_after != tier_before,
                     book=book)
    webhooks.emit(merchant, "purchase.committed", payloads.purchase_committed(
        purchase, available=result.available, pending=result.pending))
    if result.tier_changed:
        webhooks.emit(merchant, "member.tier_changed", payloads.tier_changed(
            member.pk, before=tier_before, after=tier_after, manual=False, cause="purchase",
            at=at))
    messages.purchased(merchant, member, first=account.purchase_count == 1, amount=quote.total,
                       accrued=quote.accrual_points + gift, spent=quote.points_spent,
                       balance=result.available)
    if result.tier_changed:
        messages.tier_changed(merchant, member, tier=program.tiers[tier_after].name)
    return result


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
    return {
        "points_requested": quote.points_requested,
        "effective_accrual_bp": quote.effective_accrual_bp,
        "lines": [
            {"line_id": line.line_id, "rules": list(line.rules),
             "accrual_percent_bp": line.accrual_percent_bp, "redeem_points": line.redeem_points}
            for line in quote.lines
        ],
    }


# --- refunds ---------------------------------------------------------------------------------


def _refund_split(purchase: Purchase, lines: list[PurchaseLine], by_line: dict | None,
                  amount: int | None) -> dict[str, int]:
    """How much of each line this refund returns; validated against what is left."""
    left = {line.line_id: line.paid - line.refunded_amount for line in lines}
    if by_line:
        for line_id, part in by_line.items():
            field = f"lines.{line_id}"
            if line_id not in left:
                raise InvalidInput(
                    _("The purchase has no line %(line)r.") % {"line": line_id}, field=field
                )
            if type(part) is not int or part <= 0:
                raise InvalidInput(_("A refund amount must be a positive integer."),
                                   field=field)
            if part > left[line_id]:
                raise Conflict(
                    # Translators: amount is money in minor units (kopecks, cents).
                    _("At most %(amount)s of line %(line)r can be refunded.")
                    % {"amount": left[line_id], "line": line_id},
                    field=field,
                )
        return dict(by_line)
    remaining = sum(left.values())
    if remaining == 0:
        raise Conflict(_("This purchase has been refunded in full already."), field="amount")
    if amount is None:
        amount = remaining
    if type(amount) is not int or amount <= 0:
        raise InvalidInput(_("A refund amount must be a positive integer."), field="amount")
    if amount > remaining:
        raise Conflict(
            # Translators: amount is money in minor units (kopecks, cents).
            _("At most %(amount)s can be refunded.") % {"amount": remaining}, field="amount"
        )
    ids = list(left)
    parts = split(amount, [left[i] for i in ids])
    return {line_id: part for line_id, part in zip(ids, parts, strict=True) if part}


def _proportional(total_points: int, refunded: int, paid: int) -> int:
    """Points that belong to `refunded` of `paid` money, cumulatively: after the last refund of
    a line, exactly all of its points; before, never more than their share (floor)."""
    if paid <= 0:
        return total_points if refunded >= paid else 0
    return total_points * refunded // paid


def _return_expiry(purchase: Purchase) -> datetime | None:
    """Returned points keep the latest expiry of the lots the purchase spent (None if any of
    those never expired): a refund gives back what was paid, not fresh, longer-lived points."""
    spent_lots = ledger.lots_of(ledger.Cause("purchase", purchase.pk), Entry.Kind.REDEEM,
                                account_id=purchase.account_id)
    expiries = [lot.expires_at for lot in spent_lots]
    if not expiries or any(expiry is None for expiry in expiries):
        return None
    return max(expiries)


def refund_purchase(
    merchant: Merchant,
    purchase: Purchase,
    *,
    refund_id: str,
    actor: Actor,
    lines: dict[str, int] | None = None,
    amount: int | None = None,
) -> RefundResult:
    refund_id = (refund_id or "").strip()
    if not refund_id:
        raise InvalidInput(_("refund_id is required."), field="refund_id")
    with transaction.atomic():
        book = ledger.Book.open(account_id=purchase.account_id)
        existing = Refund.objects.filter(purchase=purchase, refund_id=refund_id).first()
        if existing is not None:
            # A retry may omit the amount (it meant "the rest" the first time), but it may
            # not ask for something else under the same id.
            if (amount is not None and amount != existing.amount) or (
                lines is not None and lines != existing.lines
            ):
                raise Conflict(_("This refund id was already used for another refund."),
                               field="refund_id")
            return _refund_result(existing, book, replayed=True)
        purchase = Purchase.objects.get(pk=purchase.pk)  # fresh totals under the lock
        rows = list(purchase.lines.order_by("pk"))
        parts = _refund_split(purchase, rows, lines, amount)
        now = clock.now()
        reverse_target = return_target = 0
        for row in rows:
            row.refunded_amount += parts.get(row.line_id, 0)
            reverse_target += _proportional(row.accrual, row.refunded_amount, row.paid)
        spent_by_line = {
            line["line_id"]: line["redeem_points"] for line in purchase.quote.get("lines", [])
        }
        for row in rows:
            return_target += _proportional(spent_by_line.get(row.line_id, 0),
                                           row.refunded_amount, row.paid)
        to_reverse = reverse_target - purchase.points_reversed
        to_return = return_target - purchase.points_returned
        refund_amount = sum(parts.values())
        refund = Refund.objects.create(
            merchant=merchant, purchase=purchase, refund_id=refund_id, amount=refund_amount,
            lines=parts, occurred_at=now, actor=actor.label,
        )
        cause = ledger.Cause("refund", str(refund.pk), actor.label)
        if to_return:
            book.credit(to_return, lot_kind=Lot.Kind.RETURN, entry_kind=Entry.Kind.RETURN,
                        cause=cause, at=now, expires_at=_return_expiry(purchase))
        unrecovered = 0
        if to_reverse:
            own = {lot.pk for lot in ledger.lots_of(ledger.Cause("purchase", purchase.pk),
                                                    Entry.Kind.ACCRUE,
                                                    account_id=purchase.account_id)}
            unrecovered = book.reverse(to_reverse, own_lot_ids=own, cause=cause, at=now)
        book.materialise(now)  # returned points whose expiry has passed expire now
        book.record_refund(spend=refund_amount)
        account = book.account
        tier_before = account.tier_code
        program = programs.load(merchant)
        if not account.tier_manual and account.tier_code in program.tiers:
            tier = engine.tier_for_lifetime(program, account.lifetime_spend, account.tier_code)
            if tier != account.tier_code:
                book.set_tier(tier)
        book.save()
        PurchaseLine.objects.bulk_update(rows, ["refunded_amount"])
        purchase.refunded_amount += refund_amount
        purchase.points_reversed += to_reverse
        purchase.points_returned += to_return
        purchase.save(update_fields=["refunded_amount", "points_reversed", "points_returned"])
        refund.points_reversed = to_reverse - unrecovered
        refund.points_returned = to_return
        refund.points_unrecovered = unrecovered
        refund.save(update_fields=["points_reversed", "points_returned", "points_unrecovered"])
        audit.record(
            "processing.purchase.refunded", actor=actor, merchant=merchant, obj=purchase,
            data={"refund_id": refund_id, "amount": refund_amount, "reversed": to_reverse,
                  "returned": to_return, "unrecovered": unrecovered},
        )
        if unrecovered:
            audit.record(
                "processing.refund.points_unrecovered", actor=actor, merchant=merchant,
                obj=refund, data={"points": unrecovered, "purchase": purchase.pk},
            )
        result = _refund_result(refund, book, replayed=False)
        webhooks.emit(merchant, "purchase.refunded", payloads.purchase_refunded(
            purchase, refund, tier=account.tier_code, available=result.available,
            pending=result.pending))
        if account.tier_code != tier_before:
            webhooks.emit(merchant, "member.tier_changed", payloads.tier_changed(
                purchase.member_id, before=tier_before, after=account.tier_code, manual=False,
                cause="refund", at=now))
        return result


def _refund_result(refund: Refund, book: ledger.Book, *, replayed: bool) -> RefundResult:
    balances = book.balances()
    return RefundResult(refund, replayed, balances.available, balances.pending)


# --- transfers between members (ENG-12) ------------------------------------------------------


def transfer_points(merchant: Merchant, *, sender: Member, recipient: Member, points: int,
                    key: str, actor: Actor) -> TransferResult:
    """Send points to another member of the same merchant. The recipient gets lots with the
    sender's expiry dates: a transfer never makes points live longer."""
    program = programs.load(merchant)
    limits = program.config.transfers
    if limits is None or not limits.enabled:
        raise Forbidden(_("This program does not allow sending points."), field="points")
    if type(points) is not int or points <= 0:
        raise InvalidInput(_("points must be a positive integer."), field="points")
    if sender.pk == recipient.pk:
        raise InvalidInput(_("Points cannot be sent to oneself."), field="to_member_id")
    if recipient.merchant_id != merchant.pk or sender.merchant_id != merchant.pk:
        raise InvalidInput(_("Both members must belong to this merchant."),
                           field="to_member_id")
    if points < limits.min_points or (limits.max_points and points > limits.max_points):
        if limits.max_points:
            message = ngettext(
                "A transfer must be between %(min)s and %(max)s point.",
                "A transfer must be between %(min)s and %(max)s points.",
                limits.max_points,
            ) % {"min": limits.min_points, "max": limits.max_points}
        else:  # no upper limit: only the minimum was missed
            message = ngettext(
                "A transfer must be at least %(min)s point.",
                "A transfer must be at least %(min)s points.",
                limits.min_points,
            ) % {"min": limits.min_points}
        raise Conflict(message, field="points")
    with transaction.atomic():
        sender_book, recipient_book = ledger.Book.open_pair(
            _account(sender, program).pk, _account(recipient, program).pk
        )
        sender_account, recipient_account = sender_book.account, recipient_book.account
        _attach(sender, sender_account)
        _attach(recipient, recipient_account)
        existing = Transfer.objects.filter(merchant=merchant, sender=sender_account,
                                           key=key).first()
        if existing is not None:
            if (existing.recipient_id, existing.points) != (recipient_account.pk, points):
                raise Conflict(_("This key was already used for another transfer."), field="key")
            return TransferResult(existing, replayed=True)
        _require_active(sender, "from_member_id")
        _require_active(recipient, "to_member_id")
        now = clock.now()
        if limits.max_points_per_day:
            sent_today = Transfer.objects.filter(
                sender=sender_account, occurred_at__gte=now - timedelta(days=1)
            ).aggregate(total=Sum("points"))["total"] or 0
            if sent_today + points > limits.max_points_per_day:
                raise Conflict(
                    ngettext(
                        "At most %(points)s point can be sent per 24 hours.",
                        "At most %(points)s points can be sent per 24 hours.",
                        limits.max_points_per_day,
                    ) % {"points": limits.max_points_per_day},
                    field="points",
                )
        transfer = Transfer.objects.create(merchant=merchant, sender=sender_account,
                                           recipient=recipient_account, points=points, key=key,
                                           occurred_at=now)
        cause = ledger.Cause("transfer", str(transfer.pk), actor.label)
        taken = sender_book.debit(points, entry_kind=Entry.Kind.TRANSFER_OUT, cause=cause,
                                  at=now)
        for lot, part in taken:
            recipient_book.credit(part, lot_kind=Lot.Kind.TRANSFER_IN,
                                  entry_kind=Entry.Kind.TRANSFER_IN, cause=cause, at=now,
                                  expires_at=ledger.effective_expiry(lot, sender_account))
        sender_book.save()
        recipient_book.save()
        audit.record("processing.points.transferred", actor=actor, merchant=merchant,
                     obj=transfer, data={"points": points, "from": sender.pk, "to": recipient.pk})
        webhooks.emit(merchant, "points.transferred", payloads.points_transferred(
            transfer, sender_id=sender.pk, recipient_id=recipient.pk,
            sender_available=sender_book.balances(now).available,
            recipient_available=recipient_book.balances(now).available))
        messages.received(merchant, recipient, points=points,
                          balance=recipient_book.balances(now).available)
        return TransferResult(transfer, replayed=False)


# --- manual grants and deductions (ENG-13) ---------------------------------------------------


@transaction.atomic
def set_allowance(merchant: Merchant, *, staff: Staff, points: int, by: Staff,
                  actor: Actor) -> Allowance:
    """The owner sets how many points an employee may still hand out."""
    if by.role != Staff.Role.OWNER or by.merchant_id != merchant.pk:
        raise Forbidden(_("Only the owner sets allowances."))
    if type(points) is not int or points < 0:
        raise InvalidInput(_("points must be a non-negative integer."), field="points")
    allowance, _created = Allowance.objects.select_for_update().get_or_create(
        merchant=merchant, staff=staff, defaults={"updated_at": clock.now()}
    )
    allowance.remaining = points
    allowance.updated_at = clock.now()
    allowance.save(update_fields=["remaining", "updated_at"])
    audit.record("processing.allowance.set", actor=actor, merchant=merchant, obj=allowance,
                 data={"staff": staff.pk, "points": points})
    return allowance


def adjust_points(merchant: Merchant, member: Member, *, points: int, by: Staff, reason: str,
                  key: str, actor: Actor,
                  validity_days: int | None = None) -> AdjustmentResult:
    """Grant (points > 0) or deduct (points < 0) by hand, with a reason. Grants by anyone but
    the owner use up the employee's allowance; a deduction never takes more than is spendable."""
    if type(points) is not int or points == 0:
        raise InvalidInput(_("points must be a non-zero integer."), field="points")
    if not reason.strip():
        raise InvalidInput(_("Say why the points are changed."), field="reason")
    if by.merchant_id != merchant.pk:
        raise Forbidden(_("Not an employee of this merchant."))
    program = programs.load(merchant)
    with transaction.atomic():
        book = _book(member, program)
        account = book.account
        existing = Adjustment.objects.filter(merchant=merchant, staff=by, key=key).first()
        if existing is not None:
            if (existing.account_id, existing.points) != (account.pk, points):
                raise Conflict(_("This key was already used for another change."), field="key")
            return AdjustmentResult(existing, replayed=True)
        if points > 0:
            _require_active(member, "member")
        now = clock.now()
        if points > 0 and by.role != Staff.Role.OWNER:
            allowance = Allowance.objects.select_for_update().filter(staff=by).first()
            if allowance is None or allowance.remaining < points:
                left = allowance.remaining if allowance else 0
                raise Conflict(
                    ngettext(
                        "Your allowance has %(points)s point left.",
                        "Your allowance has %(points)s points left.",
                        left,
                    ) % {"points": left},
                    field="points",
                )
            allowance.remaining -= points
            allowance.updated_at = now
            allowance.save(update_fields=["remaining", "updated_at"])
        adjustment = Adjustment.objects.create(
            merchant=merchant, account=account, staff=by, points=points,
            reason=reason.strip()[:300], key=key, occurred_at=now,
        )
        cause = ledger.Cause("adjustment", str(adjustment.pk), actor.label)
        if points > 0:
            expires = engine.expires_at_for(program, now, merchant.timezone, validity_days)
            book.credit(points, lot_kind=Lot.Kind.ADJUSTMENT, entry_kind=Entry.Kind.GRANT,
                        cause=cause, at=now, expires_at=expires)
        else:
            book.debit(-points, entry_kind=Entry.Kind.DEDUCT, cause=cause, at=now)
        book.save()
        audit.record(
            "processing.points.granted" if points > 0 else "processing.points.deducted",
            actor=actor, merchant=merchant, obj=adjustment,
            data={"points": points, "reason": adjustment.reason, "member": member.pk},
        )
        balances = book.balances(now)
        webhooks.emit(merchant, "points.adjusted", payloads.points_adjusted(
            adjustment, member.pk, available=balances.available, pending=balances.pending))
        return AdjustmentResult(adjustment, replayed=False)


@transaction.atomic
def assign_tier(merchant: Merchant, member: Member, *, tier_code: str | None, actor: Actor):
    """Put a member in a tier by hand (it then stays until changed by hand), or hand the
    member back to automatic tiers with tier_code=None."""
    program = programs.load(merchant)
    book = _book(member, program)
    account = book.account
    tier_before = account.tier_code
    if tier_code is None:
        tier = engine.tier_for_lifetime(program, account.lifetime_spend, program.start_tier)
        book.set_tier(tier, manual=False)
    else:
        if tier_code not in program.tiers:
            raise InvalidInput(_("No tier %(tier)r.") % {"tier": tier_code}, field="tier")
        book.set_tier(tier_code, manual=True)
    book.save()
    audit.record("processing.tier.assigned", actor=actor, merchant=merchant, obj=member,
                 data={"tier": account.tier_code, "manual": account.tier_manual})
    if account.tier_code != tier_before:
        webhooks.emit(merchant, "member.tier_changed", payloads.tier_changed(
            member.pk, before=tier_before, after=account.tier_code, manual=account.tier_manual,
            cause="manual", at=clock.now()))
    return account
