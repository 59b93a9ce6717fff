"""Management API for the records: purchases with their lines and refunds, refunds, and the
audit log. Read-only; lists are newest first with cursor pagination."""

from datetime import datetime

from ninja import Field, Query, Schema

from kopilka.api.auth import ManagementToken, StaffSession, merchant_router, requires
from kopilka.api.schemas import Id, PageQuery, Problem, UtcTime, paginate
from kopilka.core.models import AuditEntry
from kopilka.processing import queries
from kopilka.processing.models import Purchase, Refund

router = merchant_router(tags=["Records"], auth=[ManagementToken(), StaffSession()])
ERRORS = {400: Problem, 401: Problem, 403: Problem, 404: Problem, 409: Problem, 422: Problem}


class PurchaseQuery(PageQuery):
    member_id: Id | None = None
    store_id: Id | None = None
    terminal_id: Id | None = None
    receipt_id: str | None = Field(None, max_length=100)
    from_: UtcTime | None = Field(None, alias="from", description="Time of sale, inclusive")
    to: UtcTime | None = Field(None, description="Time of sale, exclusive")


class RefundQuery(PageQuery):
    purchase_id: Id | None = None
    member_id: Id | None = None
    store_id: Id | None = None
    refund_id: str | None = Field(None, max_length=100)
    from_: UtcTime | None = Field(None, alias="from", description="Time of refund, inclusive")
    to: UtcTime | None = Field(None, description="Time of refund, exclusive")


class AuditQuery(PageQuery):
    # A single `example`, not pydantic's `examples` list: django-ninja copies a query field's
    # `examples` to the parameter, where OpenAPI wants a map of Example objects, and the list
    # made the whole document invalid (openapi-spec-validator, client generators refuse it).
    action: str | None = Field(
        None, max_length=100, json_schema_extra={"example": "members.member.registered"}
    )
    object_type: str | None = Field(
        None, max_length=60, json_schema_extra={"example": "members.member"}
    )
    object_id: str | None = Field(None, max_length=60)
    from_: UtcTime | None = Field(None, alias="from", description="Inclusive")
    to: UtcTime | None = Field(None, description="Exclusive")


class PurchaseRecordOut(Schema):
    id: int
    receipt_id: str
    member_id: int
    store_id: int | None
    terminal_id: int | None
    cashier_id: int | None
    source: str = Field(description="terminal:<id>, or who recorded it otherwise")
    payment_method: str
    occurred_at: datetime
    recorded_at: datetime
    total: int
    discount: int
    points_spent: int
    points_spent_money: int
    points_accrued: int
    tier_before: str
    tier_after: str
    refunded_amount: int = Field(description="Money refunded so far")
    points_reversed: int = Field(description="Accrued points taken back by refunds so far")
    points_returned: int = Field(description="Spent points given back by refunds so far")


class LineOut(Schema):
    line_id: str
    sku: str
    product_group: str
    quantity: int
    amount: int
    discount: int
    points_money: int = Field(description="This line's part paid with points")
    accrual: int
    refunded_amount: int


class RefundRecordOut(Schema):
    id: int
    refund_id: str
    purchase_id: int
    receipt_id: str
    member_id: int
    amount: int
    lines: dict[str, int] = Field(description="Money refunded per line id")
    points_reversed: int
    points_returned: int
    points_unrecovered: int = Field(description="Accrued points already spent: not taken back")
    occurred_at: datetime


class PurchaseDetailOut(PurchaseRecordOut):
    lines: list[LineOut]
    refunds: list[RefundRecordOut]


class PurchasePage(Schema):
    items: list[PurchaseRecordOut]
    next: str | None = Field(description="Pass as `cursor` to get the next page; null at the end")


class RefundPage(Schema):
    items: list[RefundRecordOut]
    next: str | None


class AuditOut(Schema):
    id: int
    created_at: datetime
    actor_kind: str = Field(description="staff, token, terminal, cli, system")
    actor_label: str
    action: str
    object_type: str
    object_id: str
    data: dict
    ip: str | None


class AuditPage(Schema):
    items: list[AuditOut]
    next: str | None


def _refund_out(refund: Refund, purchase: Purchase) -> dict:
    return {
        "id": refund.pk, "refund_id": refund.refund_id, "purchase_id": purchase.pk,
        "receipt_id": purchase.receipt_id, "member_id": purchase.member_id,
        "amount": refund.amount, "lines": refund.lines,
        "points_reversed": refund.points_reversed, "points_returned": refund.points_returned,
        "points_unrecovered": refund.points_unrecovered, "occurred_at": refund.occurred_at,
    }


def _between(rows, field: str, query) -> object:
    if query.from_ is not None:
        rows = rows.filter(**{f"{field}__gte": query.from_})
    if query.to is not None:
        rows = rows.filter(**{f"{field}__lt": query.to})
    return rows


def _given(**lookups) -> dict:
    return {lookup: value for lookup, value in lookups.items() if value is not None}


@router.get("/purchases", response={200: PurchasePage, **ERRORS})
@requires("read_records")
def list_purchases(request, query: Query[PurchaseQuery]):
    """Purchases, the most recently recorded first (offline uploads come when they come)."""
    rows = queries.purchases(
        request.auth.merchant, member_id=query.member_id, store_id=query.store_id,
        terminal_id=query.terminal_id, receipt_id=query.receipt_id, since=query.from_,
        until=query.to,
    )
    found, cursor = paginate(rows, query.cursor, query.limit)
    return {"items": found, "next": cursor}


@router.get("/purchases/{purchase_id}", response={200: PurchaseDetailOut, **ERRORS})
@requires("read_records")
def get_purchase(request, purchase_id: int):
    """One purchase with its lines and its refunds."""
    purchase = queries.purchase(request.auth.merchant, purchase_id)
    return {
        **PurchaseRecordOut.from_orm(purchase).model_dump(),
        "lines": sorted(purchase.lines.all(), key=lambda line: line.pk),
        "refunds": [_refund_out(refund, purchase)
                    for refund in sorted(purchase.refunds.all(), key=lambda r: r.pk)],
    }


@router.get("/refunds", response={200: RefundPage, **ERRORS})
@requires("read_records")
def list_refunds(request, query: Query[RefundQuery]):
    """Refunds, the most recently recorded first."""
    rows = queries.refunds(
        request.auth.merchant, purchase_id=query.purchase_id, member_id=query.member_id,
        store_id=query.store_id, refund_id=query.refund_id, since=query.from_, until=query.to,
    )
    found, cursor = paginate(rows, query.cursor, query.limit)
    return {"items": [_refund_out(refund, refund.purchase) for refund in found], "next": cursor}


@router.get("/refunds/{refund_id}", response={200: RefundRecordOut, **ERRORS})
@requires("read_records")
def get_refund(request, refund_id: int):
    """One refund, by the id this API gives it (`id`, not the POS's `refund_id`)."""
    refund = queries.refund(request.auth.merchant, refund_id)
    return _refund_out(refund, refund.purchase)


@router.get("/audit", response={200: AuditPage, **ERRORS})
@requires("read_audit")
def audit_log(request, query: Query[AuditQuery]):
    """Who did what, when and from where: staff, tokens, terminals and the operator's CLI."""
    principal = request.auth
    rows = AuditEntry.objects.filter(merchant=principal.merchant, **_given(
        action=query.action, object_type=query.object_type, object_id=query.object_id,
    ))
    found, cursor = paginate(_between(rows, "created_at", query), query.cursor, query.limit)
    return {"items": found, "next": cursor}
