"""Refunds: all or part of a purchase, by money or per line. Accrued points are taken back in
proportion, spent points given back in proportion, never more than once per refund id."""

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils.translation import gettext as _

from kopilka.core import audit, clock, events
from kopilka.core.actor import Actor
from kopilka.core.errors import Conflict, InvalidInput
from kopilka.core.money import split
from kopilka.ledger import services as ledger
from kopilka.ledger.models import Entry, Lot
from kopilka.processing import queries
from kopilka.processing.models import Purchase, PurchaseLine, Refund
from kopilka.programs import engine
from kopilka.programs import services as programs
from kopilka.tenancy.models import Merchant


@dataclass
class RefundResult:
    refund: Refund
    replayed: bool
    available: int
    pending: int


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
        # With a tier window the daily job moves members down (automation/tiers.py).
        if (not account.tier_manual and account.tier_code in program.tiers
                and program.config.tier_window is None):
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
        events.publish(events.PurchaseRefunded(
            merchant=merchant, purchase=purchase, refund=refund, available=result.available,
            pending=result.pending, at=now,
            tier=events.TierMove(before=tier_before, after=account.tier_code,
                                 after_name=_tier_name(program, account.tier_code)),
        ))
        return result


def _refund_result(refund: Refund, book: ledger.Book, *, replayed: bool) -> RefundResult:
    balances = book.balances()
    return RefundResult(refund, replayed, balances.available, balances.pending)


def refund_receipt(merchant: Merchant, *, terminal, receipt_id: str, refund_id: str,
                   actor: Actor, lines: dict[str, int] | None = None,
                   amount: int | None = None) -> RefundResult:
    """Refund the purchase a terminal recorded under `receipt_id` (404 naming receipt_id when
    it recorded none): the POS's refund, scoped to its own receipts."""
    if amount is not None and lines is not None:
        raise InvalidInput(_("Give either amount or lines, not both."), field="amount")
    purchase = queries.purchase_for_receipt(merchant, terminal=terminal, receipt_id=receipt_id)
    return refund_purchase(merchant, purchase, refund_id=refund_id, actor=actor, lines=lines,
                           amount=amount)



def _tier_name(program: engine.CompiledProgram, code: str) -> str:
    """The tier's display name (its code if the owner has since removed it)."""
    tier = program.tiers.get(code)
    return tier.name if tier is not None else code
