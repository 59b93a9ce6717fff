"""Management API: what the merchant cabinet does, for the merchant's own systems."""

from typing import Annotated, Literal

from django.utils.translation import gettext as _
from ninja import Field, Query, Status
from pydantic import StrictBool

from kopilka.api.auth import ManagementToken, StaffSession, merchant_router, requires
from kopilka.api.schemas import (
    CardIn,
    CardOut,
    CardReplaceIn,
    MemberIn,
    MemberOut,
    MemberPage,
    MerchantOut,
    NewTerminalOut,
    PageQuery,
    PathText,
    Problem,
    ProfileIn,
    StoreIn,
    StoreOut,
    StrictIn,
    TerminalIn,
    TerminalRowOut,
    UtcTime,
    member_out,
    member_row_out,
    paginate,
    terminal_out,
    terminal_row_out,
)
from kopilka.core.errors import NotFound
from kopilka.members import services as members
from kopilka.members.models import Card, Member
from kopilka.processing import services as processing
from kopilka.tenancy import services as tenancy
from kopilka.tenancy.models import Store, Terminal

router = merchant_router(tags=["Management"], auth=[ManagementToken(), StaffSession()])
ERRORS = {400: Problem, 401: Problem, 403: Problem, 404: Problem, 409: Problem, 422: Problem}
Money = Annotated[int, Field(ge=0, le=10**15)]
Count = Annotated[int, Field(ge=0, le=10**9)]


class StorePatchIn(StrictIn):
    name: str = Field(None, min_length=1, max_length=200)
    address: str = Field(None, max_length=300)
    active: StrictBool = Field(None, description="false closes the store")


class TagsIn(StrictIn):
    tags: list[str] = Field(max_length=100, description="The whole new list")


@router.get("/merchant", response={200: MerchantOut, 401: Problem})
@requires("read_setup")
def merchant(request):
    return request.auth.merchant


@router.get("/stores", response={200: list[StoreOut], 401: Problem})
@requires("read_setup")
def list_stores(request):
    return Store.objects.filter(merchant=request.auth.merchant).order_by("name")


@router.post("/stores", response={201: StoreOut, **ERRORS})
@requires("manage_stores")
def create_store(request, payload: StoreIn):
    principal = request.auth
    store = tenancy.create_store(principal.merchant, payload.name, address=payload.address,
                                 actor=principal.actor)
    return Status(201, store)


@router.get("/stores/{store_id}", response={200: StoreOut, **ERRORS})
@requires("read_setup")
def get_store(request, store_id: int):
    return _store(request.auth, store_id)


@router.patch("/stores/{store_id}", response={200: StoreOut, **ERRORS})
@requires("manage_stores")
def update_store(request, store_id: int, payload: StorePatchIn):
    """Rename a store, change its address, close (`active: false`) or reopen it."""
    principal = request.auth
    store = _store(principal, store_id)
    return tenancy.update_store(store, actor=principal.actor,
                                **payload.model_dump(exclude_unset=True))


def _store(principal, store_id: int) -> Store:
    store = Store.objects.filter(merchant=principal.merchant, pk=store_id).first()
    if store is None:
        raise NotFound(_("No store %(id)s.") % {"id": store_id}, field="store_id")
    return store


@router.get("/terminals", response={200: list[TerminalRowOut], **ERRORS})
@requires("read_setup")
def list_terminals(request):
    """Every terminal, revoked ones included, oldest first."""
    rows = Terminal.objects.filter(merchant=request.auth.merchant).select_related("store")
    return [terminal_row_out(terminal) for terminal in rows.order_by("pk")]


@router.get("/terminals/{terminal_id}", response={200: TerminalRowOut, **ERRORS})
@requires("read_setup")
def get_terminal(request, terminal_id: int):
    return terminal_row_out(_terminal(request.auth, terminal_id))


@router.post("/terminals/{terminal_id}/revoke", response={200: TerminalRowOut, **ERRORS})
@requires("manage_stores")
def revoke_terminal(request, terminal_id: int):
    """Switch a terminal's key off for good: the POS API answers it 401 from now on.
    Revoking again changes nothing."""
    principal = request.auth
    terminal = _terminal(principal, terminal_id)
    tenancy.revoke_terminal(terminal, actor=principal.actor)
    return terminal_row_out(terminal)


def _terminal(principal, terminal_id: int) -> Terminal:
    terminal = Terminal.objects.filter(
        merchant=principal.merchant, pk=terminal_id
    ).select_related("store").first()
    if terminal is None:
        raise NotFound(_("No terminal %(id)s.") % {"id": terminal_id}, field="terminal_id")
    return terminal


@router.post("/terminals", response={201: NewTerminalOut, **ERRORS})
@requires("manage_stores")
def create_terminal(request, payload: TerminalIn):
    """Create a POS terminal in a store. The key in the answer is shown only once."""
    principal = request.auth
    terminal, key = tenancy.create_terminal(
        principal.merchant, store_name=payload.store, name=payload.name, actor=principal.actor,
        create_store_if_missing=False,
    )
    return Status(201, {**terminal_out(terminal), "key": key})


class MemberQuery(PageQuery):
    phone: str | None = Field(None, max_length=32, description="Exact number, any common format")
    q: str | None = Field(None, max_length=100, description="Words the name contains")
    tier: str | None = Field(None, max_length=40)
    tag: str | None = Field(None, max_length=40)
    status: Literal[tuple(Member.Status.values)] | None = None
    registered_from: UtcTime | None = None
    registered_to: UtcTime | None = Field(None, description="Exclusive, as every `*_to`")
    last_purchase_from: UtcTime | None = None
    last_purchase_to: UtcTime | None = None
    spend_min: Money | None = Field(None, description="Lifetime spend, money minor units")
    spend_max: Money | None = None
    purchases_min: Count | None = None
    purchases_max: Count | None = None


@router.get("/members", response={200: MemberPage, **ERRORS})
@requires("serve_members")
def list_members(request, query: Query[MemberQuery]):
    """Members, newest first, with cursor pagination, narrowed by any of the filters (all
    must match). Send the same filters with the `cursor` of the previous page."""
    principal = request.auth
    wanted = members.MemberFilter(**query.model_dump(exclude={"cursor", "limit"}))
    rows = members.search_members(principal.merchant, wanted).prefetch_related("cards")
    found, cursor = paginate(rows, query.cursor, query.limit)
    return {
        "items": [member_row_out(m, full_phone=principal.sees_full_phones) for m in found],
        "next": cursor,
    }


@router.post("/members", response={201: MemberOut, **ERRORS})
@requires("serve_members")
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
@requires("serve_members")
def get_member(request, member_id: int):
    principal = request.auth
    member = members.get_member(principal.merchant, member_id)
    return member_out(member, full_phone=principal.sees_full_phones)


@router.patch("/members/{member_id}", response={200: MemberOut, **ERRORS})
@requires("serve_members")
def update_member(request, member_id: int, payload: ProfileIn):
    principal = request.auth
    changes = payload.model_dump(exclude_unset=True)
    if "tags" in changes:  # tags move members into program rules: not every role's call
        principal.require("tag_members")
    member = members.get_member(principal.merchant, member_id)
    members.update_member(member, actor=principal.actor, **changes)
    return member_out(member, full_phone=principal.sees_full_phones)


@router.put("/members/{member_id}/tags", response={200: MemberOut, **ERRORS})
@requires("tag_members")
def set_tags(request, member_id: int, payload: TagsIn):
    """Replace the member's tags: trimmed, without repeats, sorted; at most 20 of at most 40
    characters. Program rules match tags exactly (`member_tags_any`)."""
    principal = request.auth
    member = members.get_member(principal.merchant, member_id)
    members.set_tags(member, payload.tags, actor=principal.actor)
    return member_out(member, full_phone=principal.sees_full_phones)


@router.post("/members/{member_id}/erase", response={200: MemberOut, **ERRORS})
@requires("erase_members")
def erase_member(request, member_id: int):
    """Erase the member's personal data; purchases, refunds and points history stay, no
    longer saying whose. The phone stops finding the member and may register anew."""
    principal = request.auth
    member = members.get_member(principal.merchant, member_id)
    member = members.erase_member(member, actor=principal.actor)
    return member_out(member, full_phone=principal.sees_full_phones)


@router.post("/members/{member_id}/cards", response={201: CardOut, **ERRORS})
@requires("serve_members")
def issue_card(request, member_id: int, payload: CardIn):
    principal = request.auth
    member = members.get_member(principal.merchant, member_id)
    card = members.issue_card(member, number=payload.number, kind=payload.kind,
                              actor=principal.actor)
    return Status(201, card)


@router.post("/cards/{number}/replace", response={201: CardOut, **ERRORS})
@requires("serve_members")
def replace_card(request, number: PathText, payload: CardReplaceIn):
    """Replace a lost or worn card; the member and the balance stay the same."""
    principal = request.auth
    card = Card.objects.filter(merchant=principal.merchant, number=number).first()
    if card is None:
        raise NotFound(_("No card %(number)s.") % {"number": number}, field="number")
    new_card = members.replace_card(card, new_number=payload.new_number, lost=payload.lost,
                                    actor=principal.actor)
    return Status(201, new_card)
