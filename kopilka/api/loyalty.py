"""Management API for the loyalty program: configuration, balances and history, manual
grants within an employee's allowance, tiers by hand, transfers between members."""

from datetime import UTC, datetime
from typing import Annotated

from django.utils.translation import gettext as _
from ninja import Field, Query, Schema, Status
from pydantic import StrictBool, StrictInt

from kopilka.api.auth import ManagementToken, StaffSession, merchant_router, requires
from kopilka.api.sales import LineIn, QuoteLineOut, SaleTime
from kopilka.api.schemas import (
    MemberCardOut,
    PageQuery,
    Problem,
    StrictIn,
    cursor_value,
    member_card_out,
)
from kopilka.core.errors import NotFound
from kopilka.members import services as members
from kopilka.processing import manual, queries, sale
from kopilka.processing import transfer as transfers
from kopilka.programs import services as programs
from kopilka.programs.models import Program
from kopilka.tenancy.models import Staff

router = merchant_router(tags=["Loyalty"], auth=[ManagementToken(), StaffSession()])
ERRORS = {400: Problem, 401: Problem, 403: Problem, 404: Problem, 409: Problem, 422: Problem}
Points = Annotated[StrictInt, Field(ge=-(10**12), le=10**12)]


class ProgramOut(Schema):
    version: int
    updated_at: datetime
    config: dict = Field(description="The program; see docs/rules.md")


class ProgramIn(StrictIn):
    config: dict = Field(description="The whole program; see docs/rules.md")


class TrialBasketIn(StrictIn):
    """A sale to try the configuration on, and the member to imagine."""

    lines: list[LineIn] = Field(min_length=1, max_length=500)
    tier: str | None = Field(None, max_length=40, description="Default: the starting tier")
    birthday: StrictBool = Field(False, description="The member's birthday is that day")
    occurred_at: SaleTime | None = Field(
        None, description="Default: now; a future moment (before 2100) is allowed here"
    )
    points_to_spend: Annotated[StrictInt, Field(ge=0, le=10**13)] = Field(
        0, description="The member is imagined to have these points"
    )
    tags: list[Annotated[str, Field(max_length=40)]] = Field([], max_length=20)
    payment_method: str = Field("", max_length=40)


class TrialIn(StrictIn):
    config: dict = Field(description="The whole program; see docs/rules.md")
    basket: TrialBasketIn | None = None


class TrialLotOut(Schema):
    points: int
    available_at: datetime
    expires_at: datetime | None


class TrialQuoteOut(Schema):
    tier: str
    total: int
    discount: int
    max_redeem_points: int
    points_spent: int
    points_spent_money: int
    payable: int
    accrual_points: int
    accrual_available_at: datetime
    effective_accrual_bp: int = Field(description="Accrual's money value / total, basis points")
    in_birthday_window: bool
    lines: list[QuoteLineOut]
    lots: list[TrialLotOut] = Field(description="The accrual as the ledger would grant it")


class TrialOut(Schema):
    valid: bool
    config: dict = Field(description="The configuration with every default filled in")
    quote: TrialQuoteOut | None = Field(description="null without a basket")


class AdjustmentIn(StrictIn):
    points: Points = Field(description="Positive grants, negative deducts")
    reason: str = Field(min_length=1, max_length=300)
    key: str = Field(min_length=1, max_length=100, description="Idempotency key")
    validity_days: Annotated[StrictInt, Field(ge=1, le=3650)] | None = None


class AllowanceIn(StrictIn):
    points: Annotated[StrictInt, Field(ge=0, le=10**12)]


class AllowanceOut(Schema):
    staff_id: int
    remaining: int


class TierIn(StrictIn):
    tier: str | None = Field(description="Tier code, or null to return to automatic tiers")


class TransferIn(StrictIn):
    from_member_id: StrictInt
    to_member_id: StrictInt
    points: Annotated[StrictInt, Field(gt=0, le=10**12)]
    key: str = Field(min_length=1, max_length=100, description="Idempotency key")


class TransferOut(Schema):
    transfer_id: int
    points: int
    occurred_at: datetime
    replayed: bool = Field(description="True when this key had already been used")


class EntryOut(Schema):
    seq: int
    kind: str
    available_delta: int
    pending_delta: int
    cause_type: str
    cause_id: str
    occurred_at: datetime


class HistoryPage(Schema):
    items: list[EntryOut]
    next: str | None


@router.get("/program", response={200: ProgramOut, **ERRORS})
@requires("read_setup")
def get_program(request):
    program = Program.objects.filter(merchant=request.auth.merchant).first()
    if program is None:
        raise NotFound(_("This merchant has no loyalty program yet."), field="program")
    return program


@router.put("/program", response={200: ProgramOut, **ERRORS})
@requires("edit_program")
def put_program(request, payload: ProgramIn):
    """Replace the program. Invalid configurations are refused whole, naming the field."""
    principal = request.auth
    return programs.save_program(principal.merchant, payload.config, actor=principal.actor)


def _card(principal, member_id: int):
    member = members.get_member(principal.merchant, member_id)
    card = queries.member_card(principal.merchant, member)
    return member_card_out(card, full_phone=principal.sees_full_phones)


@router.post("/program/validate", response={200: TrialOut, **ERRORS})
@requires("edit_program")
def validate_program(request, payload: TrialIn):
    """Check a configuration without saving it and, given a basket, show what the engine
    would make of it: an invalid configuration is 422 naming its field, as with PUT."""
    principal = request.auth
    basket = payload.basket
    trial = None
    if basket is not None:
        at = basket.occurred_at
        trial = programs.TrialSale(
            lines=sale.sale_from(line.model_dump() for line in basket.lines).lines,
            tier=basket.tier, birthday=basket.birthday,
            occurred_at=None if at is None else sale.sale_time(
                at, field="basket.occurred_at", future=True),
            points_to_spend=basket.points_to_spend, tags=tuple(basket.tags),
            payment_method=basket.payment_method,
        )
    config, quote = programs.try_program(principal.merchant, payload.config, trial)
    return {"valid": True, "config": config.model_dump(mode="json", by_alias=True),
            "quote": None if quote is None else _trial_quote(quote)}


def _trial_quote(quote) -> dict:
    def utc(moment):  # the engine works in the merchant's zone; the API answers in UTC
        return moment.astimezone(UTC) if moment is not None else None

    return {
        "tier": quote.tier_code, "total": quote.total, "discount": quote.discount,
        "max_redeem_points": quote.max_redeem_points, "points_spent": quote.points_spent,
        "points_spent_money": quote.points_spent_money, "payable": quote.payable,
        "accrual_points": quote.accrual_points, "accrual_available_at": utc(quote.available_at),
        "effective_accrual_bp": quote.effective_accrual_bp,
        "in_birthday_window": quote.in_birthday_window,
        "lines": [{**{f: getattr(line, f) for f in QuoteLineOut.model_fields if f != "rules"},
                   "rules": list(line.rules)} for line in quote.lines],
        "lots": [{"points": lot.points, "available_at": utc(lot.available_at),
                  "expires_at": utc(lot.expires_at)} for lot in quote.accrual_lots],
    }


@router.get("/members/{member_id}/card", response={200: MemberCardOut, **ERRORS})
@requires("serve_members")
def member_card(request, member_id: int):
    """A member with balances, tier and hints."""
    return _card(request.auth, member_id)


@router.get("/members/{member_id}/history", response={200: HistoryPage, **ERRORS})
@requires("serve_members")
def history(request, member_id: int, page: Query[PageQuery]):
    """Every change of the member's points, newest first (the ledger's entries)."""
    principal = request.auth
    member = members.get_member(principal.merchant, member_id)
    found, after = queries.member_history(
        principal.merchant, member,
        before=cursor_value(page.cursor) if page.cursor else None, limit=page.limit,
    )
    return {"items": found, "next": None if after is None else str(after)}


@router.post("/members/{member_id}/adjustments",
             response={200: MemberCardOut, 201: MemberCardOut, **ERRORS})
@requires("adjust")
def adjust(request, member_id: int, payload: AdjustmentIn):
    """Grant or deduct points by hand, with a reason. Employees other than the owner grant
    from the allowance the owner gave them. Idempotent by key: a retry answers 200 with the
    member's card and changes nothing."""
    principal = request.auth
    member = members.get_member(principal.merchant, member_id)
    result = manual.adjust_points(
        principal.merchant, member, points=payload.points, by=principal.staff,
        reason=payload.reason, key=payload.key, actor=principal.actor,
        validity_days=payload.validity_days,
    )
    return Status(200 if result.replayed else 201, _card(principal, member_id))


@router.put("/staff/{staff_id}/allowance", response={200: AllowanceOut, **ERRORS})
@requires("set_allowance")
def set_allowance(request, staff_id: int, payload: AllowanceIn):
    """The owner sets how many points an employee may still grant by hand."""
    principal = request.auth
    staff = Staff.objects.filter(merchant=principal.merchant, pk=staff_id).first()
    if staff is None:
        raise NotFound(_("No staff member %(id)s.") % {"id": staff_id}, field="staff_id")
    allowance = manual.set_allowance(principal.merchant, staff=staff, points=payload.points,
                                     by=principal.staff, actor=principal.actor)
    return {"staff_id": staff.pk, "remaining": allowance.remaining}


@router.put("/members/{member_id}/tier", response={200: MemberCardOut, **ERRORS})
@requires("assign_tier")
def assign_tier(request, member_id: int, payload: TierIn):
    """Put the member in a tier by hand, or back to automatic tiers with null."""
    principal = request.auth
    member = members.get_member(principal.merchant, member_id)
    manual.assign_tier(principal.merchant, member, tier_code=payload.tier,
                       actor=principal.actor)
    return _card(principal, member_id)


@router.post("/transfers", response={200: TransferOut, 201: TransferOut, **ERRORS})
@requires("transfer")
def transfer(request, payload: TransferIn):
    """Move points from one member to another (ENG-12), within the program's limits.
    Idempotent by key: a retry answers 200 with `replayed: true`."""
    principal = request.auth
    sender = members.get_member(principal.merchant, payload.from_member_id)
    recipient = members.get_member(principal.merchant, payload.to_member_id)
    result = transfers.transfer_points(principal.merchant, sender=sender, recipient=recipient,
                                       points=payload.points, key=payload.key,
                                       actor=principal.actor)
    row = result.transfer
    return Status(200 if result.replayed else 201, {
        "transfer_id": row.pk, "points": row.points, "occurred_at": row.occurred_at,
        "replayed": result.replayed,
    })
