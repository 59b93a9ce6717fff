"""POS API, one-time codes: send the customer a code by SMS to confirm their phone at
registration or their spending at the counter (MEM-1, ENG-6). The code itself never appears in
an answer: the customer reads it from the SMS and tells the cashier."""

from datetime import datetime
from typing import Literal

from django.utils.translation import gettext as _
from ninja import Field, Schema, Status
from pydantic import ConfigDict

from kopilka.api.auth import TerminalKey, merchant_router, requires
from kopilka.api.problems import problem
from kopilka.api.sales import MemberRef, member_from_ref
from kopilka.api.schemas import Problem, StrictIn
from kopilka.codes import services as codes
from kopilka.codes.models import Purpose
from kopilka.core.errors import InvalidInput
from kopilka.core.phones import mask_phone

router = merchant_router(tags=["POS"], auth=TerminalKey())
# 429 (with Retry-After) is declared for every operation by api/ratelimit.document.
ERRORS = {400: Problem, 401: Problem, 404: Problem, 409: Problem, 422: Problem}


class CodeIn(StrictIn):
    """A registration code goes to `phone`; a spending code to the `member` (or to `phone`,
    naming the member by it)."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"purpose": "registration", "phone": "+7 916 555-44-33"},
        {"purpose": "spending", "member": {"card": "1002"}},
    ]})

    purpose: Literal["registration", "spending"]
    phone: str | None = Field(None, min_length=3, max_length=32)
    member: MemberRef | None = None


class CodeOut(Schema):
    purpose: str
    phone: str = Field(description="Where the code went, masked")
    expires_at: datetime = Field(description="The code works until then")
    resend_after: int = Field(description="Seconds until another code may be sent to the phone")
    attempts: int = Field(description="Wrong entries the code survives")
    length: int = Field(description="Digits in the code")


@router.post("/codes", response={202: CodeOut, **ERRORS}, summary="Send a one-time code")
@requires("send_codes")
def send_code(request, payload: CodeIn):
    """Send the customer a one-time code by SMS, at once (also in the quiet hours and to
    members who opted out of messages: they asked for it). Asking again replaces the previous
    code. Limited per phone and per terminal: beyond a limit, 429 with `Retry-After`."""
    principal = request.auth
    merchant = principal.merchant
    if (payload.phone is None) == (payload.member is None):
        # Translators: phone and member are field names: keep them.
        raise InvalidInput(_("Give exactly one of phone, member."),
                           field="phone" if payload.phone is None else "member")
    member = None
    if payload.purpose == Purpose.SPENDING:
        ref = payload.member or MemberRef(phone=payload.phone)
        member = member_from_ref(merchant, ref)
    elif payload.member is not None:
        raise InvalidInput(_("A registration code is sent to a phone number, not to a "
                             "member."), field="member")
    issued = codes.request_code(
        merchant, purpose=payload.purpose, actor=principal.actor,
        phone=payload.phone if member is None else None, member=member,
        terminal=principal.terminal, ip=principal.actor.ip,
    )
    row = issued.code
    options = codes.conf()
    return Status(202, {
        "purpose": row.purpose, "phone": mask_phone(str(row.phone)),
        "expires_at": row.expires_at, "resend_after": issued.resend_after,
        "attempts": row.attempts_left, "length": options["DIGITS"],
    })


def install(api) -> None:
    """Answer a refused code request as 429 with Retry-After, in the problem format."""

    @api.exception_handler(codes.RateLimited)
    def rate_limited(request, exc: codes.RateLimited):
        errors = [{"field": exc.field, "message": exc.detail}] if exc.field else None
        response = problem(exc.status, exc.problem, exc.title, exc.detail, errors)
        response["Retry-After"] = str(exc.retry_after)
        return response
