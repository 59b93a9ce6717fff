"""POS API, the sale itself: quote a basket, commit a purchase, refund it."""

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from django.utils.translation import gettext as _
from ninja import Field, Schema, Status
from pydantic import AwareDatetime, ConfigDict, StrictInt, model_validator
from pydantic_core import PydanticCustomError

from kopilka.api.auth import TerminalKey, merchant_router, requires
from kopilka.api.schemas import HintOut, PathText, Problem, StrictIn
from kopilka.campaigns import promo as promos
from kopilka.members import services as members
from kopilka.processing import hints, sale
from kopilka.processing import refund as refunds
from kopilka.processing.sale import MAX_QUANTITY

router = merchant_router(tags=["POS"], auth=TerminalKey())
ERRORS = {400: Problem, 401: Problem, 404: Problem, 409: Problem, 422: Problem}
Amount = Annotated[StrictInt, Field(ge=0, le=10**13)]
Points = Annotated[StrictInt, Field(ge=0, le=10**13)]


# The bounds of a sale's time are processing's (sale.sale_time): one rule, one error path.
SaleTime = AwareDatetime


class MemberRef(StrictIn):
    """Exactly one of: id (from a look-up), phone, card number, member-page QR token."""

    id: StrictInt | None = None
    phone: str | None = Field(None, min_length=1, max_length=32)
    card: str | None = Field(None, min_length=1, max_length=40)
    qr: str | None = Field(None, min_length=1, max_length=64)

    @model_validator(mode="after")
    def exactly_one(self):
        if sum(value is not None for value in (self.id, self.phone, self.card, self.qr)) != 1:
            # Not a ValueError: Pydantic would prefix it with an English "Value error, ".
            raise PydanticCustomError(
                "value_error",
                # Translators: id, phone, card and qr are field names: keep them.
                _("give exactly one of id, phone, card, qr"),
            )
        return self


class LineIn(StrictIn):
    line_id: str = Field(min_length=1, max_length=60, description="Unique within the receipt")
    amount: Amount = Field(description="Line total in minor units, after POS-side discounts")
    quantity: Annotated[StrictInt, Field(ge=1, le=MAX_QUANTITY)] = 1
    sku: str | None = Field(None, max_length=100)
    product_group: str | None = Field(None, max_length=100)


SALE_EXAMPLE = {
    "member": {"phone": "+79161234567"},
    "lines": [
        {"line_id": "1", "amount": 45000, "quantity": 1, "sku": "LATTE-L",
         "product_group": "coffee"},
        {"line_id": "2", "amount": 30000, "quantity": 2, "sku": "CROISSANT",
         "product_group": "bakery"},
    ],
    "points_to_spend": 5000,
    "payment_method": "card",
}


class SaleIn(StrictIn):
    model_config = ConfigDict(json_schema_extra={"examples": [SALE_EXAMPLE]})

    member: MemberRef
    lines: list[LineIn] = Field(min_length=1, max_length=500)
    points_to_spend: Points = 0
    payment_method: str = Field("", max_length=40, description="e.g. cash, card")
    occurred_at: SaleTime | None = Field(
        None, description="Time of sale for offline uploads (RFC 3339 with offset, from 2000)"
    )
    code: str | None = Field(
        None, min_length=1, max_length=16,
        description="The one-time code the member received (POST /pos/codes, purpose "
                    "`spending`): required to spend points when the program confirms spending "
                    "with a code. Checked by a quote, used up by the purchase.",
    )
    promo_code: str | None = Field(
        None, min_length=1, max_length=40,
        description="A promo code the customer gave (created with POST /manage/promo-codes; "
                    "case and spaces do not matter): its rule is switched on for this "
                    "purchase and the quote's `promo` says what it adds. Refused with a "
                    "problem naming `promo_code` when unknown, switched off, outside its "
                    "dates or stores, or when the basket is below its minimum check or has "
                    "none of its product groups (422), or when its limit of uses in total or "
                    "per member is reached (409). The purchase records its use exactly once; "
                    "a full refund gives it back.",
    )


class PurchaseIn(SaleIn):
    model_config = ConfigDict(json_schema_extra={
        "examples": [{**SALE_EXAMPLE, "receipt_id": "0001-000123"}]})

    receipt_id: str = Field(
        min_length=1, max_length=100,
        description="The receipt's id; re-sending the same receipt returns the first result",
    )


class RefundIn(StrictIn):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"refund_id": "RET-1"}, {"refund_id": "RET-2", "amount": 17500},
        {"refund_id": "RET-3", "lines": {"2": 15000}},
    ]})

    refund_id: str = Field(min_length=1, max_length=100, description="Idempotency key")
    amount: Amount | None = Field(None, description="Money to refund, spread over the lines")
    lines: dict[str, Annotated[StrictInt, Field(gt=0)]] | None = Field(
        None, description="Money to refund per line id; omit both for the whole remainder"
    )


class ReceiptRefundIn(RefundIn):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"receipt_id": "0001/000123", "refund_id": "RET-1"},
        {"receipt_id": "0001/000123", "refund_id": "RET-2", "amount": 17500},
    ]})

    receipt_id: str = Field(min_length=1, max_length=100,
                            description="The receipt the purchase was committed under")


class QuoteLineOut(Schema):
    line_id: str
    amount: int
    discount: int
    max_redeem_money: int
    redeem_money: int
    redeem_points: int
    accrual_points: int
    rules: list[str]


class PromoOut(Schema):
    code: str = Field(description="The promo code, as the merchant created it")
    points: int = Field(description="Points the code adds: included in accrual_points")


class QuoteOut(Schema):
    member_id: int
    tier: str
    total: int
    discount: int
    max_redeem_points: int
    points_spent: int
    points_spent_money: int
    payable: int = Field(description="Money the customer pays: total - discount - points")
    accrual_points: int
    accrual_available_at: datetime
    code_required: bool = Field(
        description="Spending these points needs the member's one-time code at the commit")
    lines: list[QuoteLineOut]
    hints: list[HintOut]
    promo: PromoOut | None = Field(None, description="The promo code given, and what it adds")


class PurchaseOut(Schema):
    purchase_id: int
    receipt_id: str
    member_id: int
    total: int
    discount: int
    points_spent: int
    points_spent_money: int
    payable: int
    points_accrued: int
    available: int = Field(description="Member's spendable points after the purchase")
    pending: int = Field(description="Points waiting for activation")
    tier: str
    tier_changed: bool
    replayed: bool = Field(description="True when this receipt had already been committed")
    promo: PromoOut | None = Field(None, description="The promo code used with this purchase")


class RefundOut(Schema):
    refund_id: str
    amount: int
    points_reversed: int
    points_returned: int
    points_unrecovered: int = Field(description="Accrued points already spent: not taken back")
    available: int
    pending: int
    replayed: bool


def member_from_ref(merchant, ref: MemberRef):
    """The member a POS request names, in the caller's merchant (404 otherwise)."""
    if ref.id is not None:
        return members.get_member(merchant, ref.id)
    return members.find_member(merchant, phone=ref.phone, card=ref.card, qr=ref.qr)


def _sale(principal, payload: SaleIn, member, receipt_id: str | None = None) -> sale.Sale:
    promo = None
    if payload.promo_code is not None:
        promo = promos.for_sale(principal.merchant, payload.promo_code, member=member,
                                store=principal.store, at=payload.occurred_at,
                                terminal=principal.terminal, receipt_id=receipt_id)
    return sale.sale_from(
        [line.model_dump() for line in payload.lines], points_to_spend=payload.points_to_spend,
        payment_method=payload.payment_method, occurred_at=payload.occurred_at,
        store=principal.store, promo=promo,
    )


def _promo_out(outcome) -> dict | None:
    if outcome is None or not outcome.get("applied"):
        return None
    return {"code": outcome["code"], "points": outcome["points"]}


@router.post("/quote", response={200: QuoteOut, **ERRORS}, summary="Quote a basket")
@requires("sell")
def quote(request, payload: SaleIn):
    """What the purchase would do — discount, points payable, accrual, hints. Writes nothing."""
    principal = request.auth
    member = member_from_ref(principal.merchant, payload.member)
    result = sale.quote_purchase(principal.merchant, member, _sale(principal, payload, member),
                                 code=payload.code)
    refused = promos.refusal(principal.merchant, result)
    if refused is not None:
        raise refused
    tz = ZoneInfo(principal.merchant.timezone)
    return {
        "member_id": member.pk, "tier": result.tier_code, "total": result.total,
        "discount": result.discount, "max_redeem_points": result.max_redeem_points,
        "points_spent": result.points_spent, "points_spent_money": result.points_spent_money,
        "payable": result.payable, "accrual_points": result.accrual_points,
        "accrual_available_at": result.available_at,
        "code_required": result.redeem_requires_code and payload.points_to_spend > 0,
        "lines": [{**{f: getattr(line, f) for f in QuoteLineOut.model_fields if f != "rules"},
                   "rules": list(line.rules)} for line in result.lines],
        "hints": hints.as_dicts(result.hints, tz),
        "promo": None if result.promo is None else {"code": result.promo.code,
                                                    "points": result.promo.points},
    }


def _purchase_out(result: sale.PurchaseResult) -> dict:
    purchase = result.purchase
    return {
        "purchase_id": purchase.pk, "receipt_id": purchase.receipt_id,
        "member_id": purchase.member_id, "total": purchase.total, "discount": purchase.discount,
        "points_spent": purchase.points_spent, "points_spent_money": purchase.points_spent_money,
        "payable": purchase.total - purchase.discount - purchase.points_spent_money,
        "points_accrued": purchase.points_accrued, "available": result.available,
        "pending": result.pending, "tier": purchase.tier_after,
        "tier_changed": result.tier_changed, "replayed": result.replayed,
        "promo": _promo_out(purchase.quote.get("promo")),
    }


@router.post("/purchases", response={200: PurchaseOut, 201: PurchaseOut, **ERRORS},
             summary="Commit a purchase")
@requires("sell")
def commit(request, payload: PurchaseIn):
    """Record the sale: spend the points asked for, accrue, move the tier. Idempotent by
    receipt_id per terminal: a retry answers 200 with `replayed: true` and changes nothing."""
    principal = request.auth
    member = member_from_ref(principal.merchant, payload.member)
    result = sale.commit_purchase(
        principal.merchant, member, _sale(principal, payload, member, payload.receipt_id),
        receipt_id=payload.receipt_id,
        actor=principal.actor, terminal=principal.terminal, store=principal.store,
        code=payload.code,
    )
    return Status(200 if result.replayed else 201, _purchase_out(result))


def _refund(principal, receipt_id: str, payload: RefundIn):
    result = refunds.refund_receipt(
        principal.merchant, terminal=principal.terminal, receipt_id=receipt_id,
        refund_id=payload.refund_id, actor=principal.actor, amount=payload.amount,
        lines=payload.lines,
    )
    refund_row = result.refund
    return Status(200 if result.replayed else 201, {
        "refund_id": refund_row.refund_id, "amount": refund_row.amount,
        "points_reversed": refund_row.points_reversed,
        "points_returned": refund_row.points_returned,
        "points_unrecovered": refund_row.points_unrecovered,
        "available": result.available, "pending": result.pending, "replayed": result.replayed,
    })


# `path:` lets the receipt id hold a slash ("0001/000123", sent as 0001%2F000123): every id
# that can be sold can be refunded here. POST /refunds takes it in the body, for any id and
# behind proxies that refuse an encoded slash in a path.
@router.post("/purchases/{path:receipt_id}/refunds",
             response={200: RefundOut, 201: RefundOut, **ERRORS}, summary="Refund a purchase")
@requires("refund")
def refund(request, receipt_id: PathText, payload: RefundIn):
    """Refund all or part of a purchase made through this terminal. Accrued points are taken
    back in proportion, spent points returned in proportion; idempotent by refund_id. A
    receipt id with `/` is sent percent-encoded (`0001%2F000123`); `POST /pos/refunds` takes
    the receipt id in the body instead."""
    return _refund(request.auth, receipt_id, payload)


@router.post("/refunds", response={200: RefundOut, 201: RefundOut, **ERRORS},
             summary="Refund a purchase by the receipt id in the body")
@requires("refund")
def refund_by_receipt(request, payload: ReceiptRefundIn):
    """The same refund as `POST /pos/purchases/{receipt_id}/refunds`, with the receipt id in
    the body: for any receipt id the terminal sold under, whatever characters it holds."""
    return _refund(request.auth, payload.receipt_id, payload)
