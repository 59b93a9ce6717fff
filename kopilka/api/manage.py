"""Management API: what the merchant cabinet does, for the merchant's own systems."""

from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Status

from kopilka.api.auth import ManagementToken, StaffSession, in_merchant_scope
from kopilka.api.schemas import (
    CardIn,
    CardOut,
    CardReplaceIn,
    CleanIn,
    MemberIn,
    MemberOut,
    MemberPage,
    MerchantOut,
    NewTerminalOut,
    PathText,
    Problem,
    ProfileIn,
    StoreIn,
    StoreOut,
    TerminalIn,
    cursor_value,
    member_out,
    terminal_out,
)
from kopilka.core.errors import NotFound
from kopilka.members import services as members
from kopilka.members.models import Card, Member
from kopilka.processing import services as processing
from kopilka.tenancy import services as tenancy
from kopilka.tenancy.models import Staff, Store

router = Router(tags=["Management"], auth=[ManagementToken(), StaffSession()])
router.add_decorator(in_merchant_scope)
ERRORS = {400: Problem, 401: Problem, 403: Problem, 404: Problem, 409: Problem, 422: Problem}
ADMINS = (Staff.Role.OWNER, Staff.Role.ADMIN)
MAX_PAGE = 200


class PageQuery(CleanIn):
    cursor: str | None = None
    limit: int = Field(50, ge=1, le=MAX_PAGE)


@router.get("/merchant", response={200: MerchantOut, 401: Problem})
def merchant(request):
    return request.auth.merchant


@router.get("/stores", response={200: list[StoreOut], 401: Problem})
def list_stores(request):
    return Store.objects.filter(merchant=request.auth.merchant).order_by("name")


@router.post("/stores", response={201: StoreOut, **ERRORS})
def create_store(request, payload: StoreIn):
    principal = request.auth
    principal.require_role(*ADMINS)
    store = tenancy.create_store(principal.merchant, payload.name, address=payload.address,
                                 actor=principal.actor)
    return Status(201, store)


@router.post("/terminals", response={201: NewTerminalOut, **ERRORS})
def create_terminal(request, payload: TerminalIn):
    """Create a POS terminal in a store. The key in the answer is shown only once."""
    principal = request.auth
    principal.require_role(*ADMINS)
    terminal, key = tenancy.create_terminal(
        principal.merchant, store_name=payload.store, name=payload.name, actor=principal.actor,
        create_store_if_missing=False,
    )
    return Status(201, {**terminal_out(terminal), "key": key})


@router.get("/members", response={200: MemberPage, **ERRORS})
def list_members(request, page: Query[PageQuery]):
    """Members, newest first, with cursor pagination."""
    principal = request.auth
    rows = Member.objects.filter(merchant=principal.merchant).select_related("person")
    if page.cursor:
        rows = rows.filter(pk__lt=cursor_value(page.cursor))
    found = list(rows.prefetch_related("cards").order_by("-pk")[: page.limit + 1])
    more = len(found) > page.limit
    found = found[: page.limit]
    return {
        "items": [member_out(m, full_phone=principal.sees_full_phones) for m in found],
        "next": str(found[-1].pk) if more else None,
    }


@router.post("/members", response={201: MemberOut, **ERRORS})
def register_member(request, payload: MemberIn):
    principal = request.auth
    data = payload.model_dump(exclude_unset=True)
    consents = [members.ConsentGiven(**c) for c in data.pop("consents", [])]
    member = processing.enrol(
        principal.merchant, actor=principal.actor, channel=Member.Channel.API,
        staff=principal.staff, consents=consents, **data,
    )
    return Status(201, member_out(member, full_phone=principal.sees_full_phones))


@router.get("/members/{member_id}", response={200: MemberOut, **ERRORS})
def get_member(request, member_id: int):
    principal = request.auth
    member = members.get_member(principal.merchant, member_id)
    return member_out(member, full_phone=principal.sees_full_phones)


@router.patch("/members/{member_id}", response={200: MemberOut, **ERRORS})
def update_member(request, member_id: int, payload: ProfileIn):
    principal = request.auth
    member = members.get_member(principal.merchant, member_id)
    members.update_member(member, actor=principal.actor, **payload.model_dump(exclude_unset=True))
    return member_out(member, full_phone=principal.sees_full_phones)


@router.post("/members/{member_id}/cards", response={201: CardOut, **ERRORS})
def issue_card(request, member_id: int, payload: CardIn):
    principal = request.auth
    member = members.get_member(principal.merchant, member_id)
    card = members.issue_card(member, number=payload.number, kind=payload.kind,
                              actor=principal.actor)
    return Status(201, card)


@router.post("/cards/{number}/replace", response={201: CardOut, **ERRORS})
def replace_card(request, number: PathText, payload: CardReplaceIn):
    """Replace a lost or worn card; the member and the balance stay the same."""
    principal = request.auth
    card = Card.objects.filter(merchant=principal.merchant, number=number).first()
    if card is None:
        raise NotFound(_("No card %(number)s.") % {"number": number}, field="number")
    new_card = members.replace_card(card, new_number=payload.new_number, lost=payload.lost,
                                    actor=principal.actor)
    return Status(201, new_card)
