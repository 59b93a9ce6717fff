"""POS API, points moved by hand at the counter: a grant or deduction by the cashier within
the allowance the owner gave them (ENG-10), and a transfer between two members (ENG-12).

A terminal is a shared device, so the employee is named in the body (`cashier_id`, the staff
id the cash register logged in with): the allowance and the audit trail are theirs.
"""

from datetime import datetime
from typing import Annotated

from django.utils.translation import gettext as _
from ninja import Field, Schema, Status
from pydantic import ConfigDict, StrictInt

from kopilka.api.auth import TerminalKey, merchant_router, requires
from kopilka.api.sales import MemberRef, member_from_ref
from kopilka.api.schemas import MemberCardOut, Problem, StrictIn, member_card_out
from kopilka.core.actor import Actor
from kopilka.core.errors import NotFound
from kopilka.members import services as members
from kopilka.processing import manual, queries
from kopilka.processing import transfer as transfers
from kopilka.tenancy.models import Staff

router = merchant_router(tags=["POS"], auth=TerminalKey())
ERRORS = {400: Problem, 401: Problem, 403: Problem, 404: Problem, 409: Problem, 422: Problem}
NonZeroPoints = Annotated[StrictInt, Field(ge=-(10**12), le=10**12)]


class CounterAdjustmentIn(StrictIn):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "member": {"phone": "+79161234567"}, "cashier_id": 2, "points": 500,
        "reason": "coffee spilt", "key": "adj-0001"}]})

    member: MemberRef
    cashier_id: StrictInt = Field(description="Staff id of the employee at the register")
    points: NonZeroPoints = Field(description="Positive grants (within the allowance), "
                                              "negative deducts (never below zero)")
    reason: str = Field(min_length=1, max_length=300)
    key: str = Field(min_length=1, max_length=100, description="Idempotency key")
    validity_days: Annotated[StrictInt, Field(ge=1, le=3650)] | None = None


class CounterTransferIn(StrictIn):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "sender": {"phone": "+79161234567"}, "recipient": {"card": "1002"}, "points": 1000,
        "key": "tr-0001"}]})

    sender: MemberRef
    recipient: MemberRef
    points: Annotated[StrictInt, Field(gt=0, le=10**12)]
    key: str = Field(min_length=1, max_length=100,
                     description="Idempotency key, unique per sender")


class CounterTransferOut(Schema):
    transfer_id: int
    points: int
    occurred_at: datetime
    sender_available: int = Field(description="Sender's spendable points after the transfer")
    recipient_available: int
    replayed: bool = Field(description="True when this key had already been used")


def _cashier(principal, cashier_id: int) -> Staff:
    staff = Staff.objects.select_related("user").filter(
        merchant=principal.merchant, pk=cashier_id, active=True
    ).first()
    if staff is None:
        raise NotFound(_("No active employee %(id)s.") % {"id": cashier_id}, field="cashier_id")
    return staff


def _card_after(principal, member) -> dict:
    """The member's card after a write, read afresh (the member came with an account
    snapshot from before it)."""
    member = members.get_member(principal.merchant, member.pk)
    return member_card_out(queries.member_card(principal.merchant, member), full_phone=False)


@router.post("/adjustments", response={200: MemberCardOut, 201: MemberCardOut, **ERRORS},
             summary="Grant or deduct points by hand")
@requires("adjust")
def adjust(request, payload: CounterAdjustmentIn):
    """The cashier grants points (from the allowance the owner set for them) or deducts them,
    with a reason. Idempotent by key per employee: a retry answers 200 and changes nothing."""
    principal = request.auth
    cashier = _cashier(principal, payload.cashier_id)
    member = member_from_ref(principal.merchant, payload.member)
    actor = Actor(kind="terminal", label=f"{cashier.user.email} at {principal.actor.label}",
                  user_id=cashier.user_id, ip=principal.actor.ip)
    result = manual.adjust_points(
        principal.merchant, member, points=payload.points, by=cashier, reason=payload.reason,
        key=payload.key, actor=actor, validity_days=payload.validity_days,
    )
    return Status(200 if result.replayed else 201, _card_after(principal, member))


@router.post("/transfers", response={200: CounterTransferOut, 201: CounterTransferOut, **ERRORS},
             summary="Send points from one member to another")
@requires("transfer")
def transfer(request, payload: CounterTransferIn):
    """Move points between two members at the counter, within the program's transfer limits
    (ENG-12). Idempotent by key per sender: a retry answers 200 with `replayed: true`."""
    principal = request.auth
    sender = member_from_ref(principal.merchant, payload.sender)
    recipient = member_from_ref(principal.merchant, payload.recipient)
    result = transfers.transfer_points(principal.merchant, sender=sender, recipient=recipient,
                                       points=payload.points, key=payload.key,
                                       actor=principal.actor)
    row = result.transfer
    balances = {member.pk: _card_after(principal, member)["available"]
                for member in (sender, recipient)}
    return Status(200 if result.replayed else 201, {
        "transfer_id": row.pk, "points": row.points, "occurred_at": row.occurred_at,
        "sender_available": balances[sender.pk], "recipient_available": balances[recipient.pk],
        "replayed": result.replayed,
    })
