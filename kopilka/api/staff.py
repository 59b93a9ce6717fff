"""Management API for people and keys: staff members with their roles, the invitations that
bring people in, and the management tokens that act for them. Owners and admins only; only an
owner manages owners. (Accepting an invitation is kopilka/api/invitations.py: the invited
person has no credential yet.)"""

from datetime import datetime
from typing import Literal

from django.utils.translation import gettext as _
from ninja import Field, Schema, Status
from pydantic import StrictBool

from kopilka.api.auth import ManagementToken, StaffSession, merchant_router, requires
from kopilka.api.schemas import Problem, StrictIn
from kopilka.core import clock
from kopilka.core.errors import NotFound
from kopilka.tenancy import invitations
from kopilka.tenancy import services as tenancy
from kopilka.tenancy.models import ApiToken, Invitation, Staff

router = merchant_router(tags=["Staff"], auth=[ManagementToken(), StaffSession()])
ERRORS = {400: Problem, 401: Problem, 403: Problem, 404: Problem, 409: Problem, 422: Problem}
Role = Literal[tuple(Staff.Role.values)]


class StaffOut(Schema):
    id: int
    email: str
    role: str
    active: bool
    created_at: datetime


class InvitationIn(StrictIn):
    email: str = Field(min_length=3, max_length=254)
    role: Role


class InvitationOut(Schema):
    id: int
    email: str
    role: str
    status: Literal["pending", "accepted", "revoked", "expired"] = Field(
        description="pending until accepted, revoked (or replaced by a newer invitation) or "
                    "expired")
    invited_by: str | None = Field(description="The inviting staff member's email; null: the "
                                               "platform operator")
    created_at: datetime
    expires_at: datetime
    decided_at: datetime | None = Field(description="When it was accepted or revoked")
    staff_id: int | None = Field(description="The staff member it made, once accepted")


class StaffPatchIn(StrictIn):
    role: Role = None
    active: StrictBool = Field(None, description="false switches the person and their tokens off")


class TokenIn(StrictIn):
    name: str = Field("api", min_length=1, max_length=200, description="What the token is for")


class TokenOut(Schema):
    id: int
    name: str
    staff_id: int
    email: str = Field(description="The staff member the token acts for")
    key_prefix: str
    created_at: datetime
    last_used_at: datetime | None = Field(description="Updated at most once a minute")
    revoked_at: datetime | None


class NewTokenOut(TokenOut):
    key: str = Field(description="The management token. Shown once: store it now.")


def _staff_out(staff: Staff) -> dict:
    return {"id": staff.pk, "email": staff.user.email, "role": staff.role,
            "active": staff.active, "created_at": staff.created_at}


def _invitation_out(invitation: Invitation, now: datetime) -> dict:
    return {"id": invitation.pk, "email": invitation.email, "role": invitation.role,
            "status": invitation.state(now),
            "invited_by": invitation.invited_by.user.email if invitation.invited_by else None,
            "created_at": invitation.created_at, "expires_at": invitation.expires_at,
            "decided_at": invitation.decided_at, "staff_id": invitation.staff_id}


def _token_out(token: ApiToken) -> dict:
    return {"id": token.pk, "name": token.name, "staff_id": token.staff_id,
            "email": token.staff.user.email, "key_prefix": token.key_prefix,
            "created_at": token.created_at, "last_used_at": token.last_used_at,
            "revoked_at": token.revoked_at}


def _staff(principal, staff_id: int) -> Staff:
    staff = Staff.objects.filter(
        merchant=principal.merchant, pk=staff_id
    ).select_related("user").first()
    if staff is None:
        raise NotFound(_("No staff member %(id)s.") % {"id": staff_id}, field="staff_id")
    return staff


@router.get("/staff", response={200: list[StaffOut], **ERRORS})
@requires("manage_staff")
def list_staff(request):
    """Everyone who works for the merchant, switched-off people included."""
    principal = request.auth
    rows = Staff.objects.filter(merchant=principal.merchant).select_related("user")
    return [_staff_out(staff) for staff in rows.order_by("pk")]


@router.get("/invitations", response={200: list[InvitationOut], **ERRORS})
@requires("manage_staff")
def list_invitations(request):
    """Every invitation, oldest first: pending ones, and what became of the others."""
    principal = request.auth
    rows = (Invitation.objects.filter(merchant=principal.merchant)
            .select_related("invited_by__user").order_by("pk"))
    now = clock.now()
    return [_invitation_out(invitation, now) for invitation in rows]


@router.post("/invitations", response={201: InvitationOut, **ERRORS})
@requires("manage_staff")
def invite_staff(request, payload: InvitationIn):
    """Invite a person by email to work for the merchant with a role. The invitation's key
    goes to that address by email; they become staff when they accept it. The answer is the
    same whether or not the address has an account; a pending invitation to the same address
    is replaced."""
    principal = request.auth
    new = invitations.invite_staff(principal.merchant, email=payload.email, role=payload.role,
                                   by=principal.staff, actor=principal.actor)
    return Status(201, _invitation_out(new.invitation, clock.now()))


@router.post("/invitations/{invitation_id}/revoke", response={200: InvitationOut, **ERRORS})
@requires("manage_staff")
def revoke_invitation(request, invitation_id: int):
    """Withdraw an invitation: its key stops working. Revoking again changes nothing; an
    accepted invitation is 409 (switch the person off instead)."""
    principal = request.auth
    invitation = Invitation.objects.filter(merchant=principal.merchant, pk=invitation_id).first()
    if invitation is None:
        raise NotFound(_("No invitation %(id)s.") % {"id": invitation_id}, field="invitation_id")
    invitation = invitations.revoke_invitation(invitation, by=principal.staff,
                                               actor=principal.actor)
    return _invitation_out(invitation, clock.now())


@router.patch("/staff/{staff_id}", response={200: StaffOut, **ERRORS})
@requires("manage_staff")
def update_staff(request, staff_id: int, payload: StaffPatchIn):
    """Change a role or switch a person off (their tokens and sessions stop working). The
    last active owner stays an owner (409)."""
    principal = request.auth
    staff = tenancy.update_staff(_staff(principal, staff_id), by=principal.staff,
                                 actor=principal.actor, **payload.model_dump(exclude_unset=True))
    return _staff_out(staff)


@router.post("/staff/{staff_id}/tokens", response={201: NewTokenOut, **ERRORS})
@requires("manage_staff")
def issue_token(request, staff_id: int, payload: TokenIn):
    """A management token acting as this staff member, with their role."""
    principal = request.auth
    token, key = tenancy.issue_api_token(_staff(principal, staff_id), name=payload.name,
                                         by=principal.staff, actor=principal.actor)
    return Status(201, {**_token_out(token), "key": key})


@router.get("/tokens", response={200: list[TokenOut], **ERRORS})
@requires("manage_staff")
def list_tokens(request):
    """Every management token, revoked ones included, oldest first."""
    principal = request.auth
    rows = ApiToken.objects.filter(merchant=principal.merchant).select_related("staff__user")
    return [_token_out(token) for token in rows.order_by("pk")]


@router.post("/tokens/{token_id}/revoke", response={200: TokenOut, **ERRORS})
@requires("manage_staff")
def revoke_token(request, token_id: int):
    """Switch a token off for good (401 from now on). Revoking again changes nothing."""
    principal = request.auth
    token = ApiToken.objects.filter(
        merchant=principal.merchant, pk=token_id
    ).select_related("staff__user").first()
    if token is None:
        raise NotFound(_("No token %(id)s.") % {"id": token_id}, field="token_id")
    return _token_out(tenancy.revoke_api_token(token, by=principal.staff, actor=principal.actor))
