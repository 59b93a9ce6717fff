"""Making staff members in tests the way people become staff: an invitation, accepted."""

from django_scopes import scope

from kopilka.core.actor import Actor
from kopilka.tenancy import invitations
from kopilka.tenancy.models import Merchant, Staff

PASSWORD = "correct horse battery staple"


def make_staff(merchant: Merchant, email: str, role: str, password: str = PASSWORD) -> Staff:
    """`email` invited by the operator and accepted: an active staff member with `role` (a new
    account gets `password`; an existing one must have it)."""
    with scope(merchant=merchant):
        new = invitations.invite_staff(merchant, email=email, role=role, by=None,
                                       actor=Actor.cli())
    return invitations.accept_invitation(new.key, password=password)
