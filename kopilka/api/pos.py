"""POS API: what a cash register or the cashier workplace calls at the counter."""

from ninja import Field, Query, Status

from kopilka.api.auth import TerminalKey, merchant_router, requires
from kopilka.api.schemas import (
    CleanIn,
    MemberCardOut,
    MemberIn,
    Problem,
    WhoAmI,
    member_card_out,
    terminal_out,
)
from kopilka.members import services as members
from kopilka.members.models import Member
from kopilka.processing import enrol, queries

router = merchant_router(tags=["POS"], auth=TerminalKey())
ERRORS = {400: Problem, 401: Problem, 404: Problem, 409: Problem, 422: Problem}


class RegistrationIn(MemberIn):
    code: str | None = Field(
        None, min_length=1, max_length=16,
        description="The registration code sent to the phone (POST /pos/codes): the phone is "
                    "then recorded as verified and the consents as confirmed by it",
    )


class LookupQuery(CleanIn):
    phone: str | None = None
    card: str | None = None
    qr: str | None = None


@router.get("/terminal", response={200: WhoAmI, 401: Problem}, summary="The calling terminal")
@requires("read_setup")
def whoami(request):
    principal = request.auth
    return {"merchant": principal.merchant, "terminal": terminal_out(principal.terminal)}


@router.post("/members", response={201: MemberCardOut, **ERRORS}, summary="Register a member")
@requires("serve_members")
def register(request, payload: RegistrationIn):
    """Register a member at the counter (the phone is the only required field); the welcome
    bonus, if the program has one, is on the card at once. With `code` (the registration code
    sent by POST /pos/codes) the phone is recorded as verified and the consents as confirmed
    by it; a wrong or stale code is a 422 on `code` and registers nobody."""
    principal = request.auth
    data = payload.model_dump(exclude_unset=True)
    consents = [members.ConsentGiven(**c) for c in data.pop("consents", [])]
    member = enrol.enrol(
        principal.merchant, actor=principal.actor, channel=Member.Channel.CASHIER,
        consents=consents, **data,
    )
    card = queries.member_card(principal.merchant, member)
    return Status(201, member_card_out(card, full_phone=False))


@router.get("/members/lookup", response={200: MemberCardOut, **ERRORS}, summary="Find a member")
@requires("serve_members")
def lookup(request, query: Query[LookupQuery]):
    """Find a member by phone number, card number or the QR token from the member page:
    profile, balances, tier and hints for the cashier."""
    principal = request.auth
    card = queries.lookup(principal.merchant, **query.model_dump())
    return member_card_out(card, full_phone=False)

