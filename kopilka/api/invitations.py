"""Accepting a staff invitation (kopilka/tenancy/invitations.py). The invited person has no
credential yet: the invitation's key, which went to their email address, is the credential,
sent in the body (never in the URL, where logs and proxies would keep it)."""

from ninja import Field, Router, Schema

from kopilka.api.auth import client_ip
from kopilka.api.schemas import Problem, StrictIn
from kopilka.tenancy import invitations

router = Router(tags=["Staff"], auth=None)


class AcceptIn(StrictIn):
    token: str = Field(min_length=1, max_length=200,
                       description="The invitation key from the email (kp_inv_...)")
    password: str = Field(min_length=1, max_length=1024, description=(
        "For an address without a Kopilka account: the password to create it with (Django's "
        "password rules apply). For an address with an account: that account's password; "
        "five wrong ones revoke the invitation."))


class AcceptedOut(Schema):
    merchant: str = Field(description="The merchant's slug")
    merchant_name: str
    staff_id: int
    email: str
    role: str


@router.post("/invitations/accept",
             response={200: AcceptedOut, 400: Problem, 404: Problem, 409: Problem,
                       422: Problem},
             summary="Accept a staff invitation with its key")
def accept_invitation(request, payload: AcceptIn):
    """Become staff of the merchant that sent the invitation, with its role. 404: no such
    key; 409: accepted already, revoked, replaced or expired (or too many wrong passwords);
    422 on `password`: too weak for a new account, or not the existing account's."""
    staff = invitations.accept_invitation(payload.token, password=payload.password,
                                          ip=client_ip(request))
    return {"merchant": staff.merchant.slug, "merchant_name": staff.merchant.name,
            "staff_id": staff.pk, "email": staff.user.email, "role": staff.role}
