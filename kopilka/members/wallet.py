"""A person's memberships as the member wallet (`/my/`) sees them: one phone, every merchant.

The wallet is the one place that looks across merchants, and only at one person's own rows:
every look-up here starts from the signed-in person, so another person's membership is
simply not found (the wallet answers 404). Nothing here is shown to any merchant.
"""

from django.db import transaction
from django.utils.translation import gettext as _
from django_scopes import scopes_disabled

from kopilka.core import audit
from kopilka.core.actor import Actor
from kopilka.core.errors import Conflict, NotFound
from kopilka.members.models import Consent, Member, Person
from kopilka.members.services import revoke_consent
from kopilka.tenancy.models import Merchant

SHOWN = (Member.Status.ACTIVE, Member.Status.BLOCKED)  # left and erased ones are gone


def memberships(person: Person, *, joined: tuple[str, ...] = ()) -> list[Member]:
    """The person's memberships at active merchants, the oldest first, merchant joined (and
    the `joined` relations: the wallet's pages join what they show of each membership)."""
    with scopes_disabled():  # across merchants on purpose: they are all this person's
        return list(Member.objects.filter(
            person=person, status__in=SHOWN, merchant__status=Merchant.Status.ACTIVE,
        ).select_related("merchant", "person", *joined).order_by("registered_at", "pk"))


def membership(person: Person, member_id) -> Member:
    """One of the person's memberships; 404 for anyone else's (or a junk id)."""
    try:
        member_id = int(member_id)
    except (TypeError, ValueError):
        member_id = 0
    for member in memberships(person):
        if member.pk == member_id:
            return member
    raise NotFound(_("No such card."))


@transaction.atomic
def leave_program(member: Member, *, actor: Actor) -> Member:
    """The member leaves the merchant's program: the messages consent is revoked and the card
    says "left the program"; the points account and its history stay (accounting records).
    Call inside the member's merchant scope."""
    member = Member.objects.select_for_update().get(merchant=member.merchant, pk=member.pk)
    if member.status != Member.Status.ACTIVE:
        raise Conflict(_("This card is not active."), field="member")
    revoke_consent(member, Consent.Kind.MESSAGES, actor=actor)
    member.status = Member.Status.LEFT
    member.save(update_fields=["status"])
    audit.record("members.member.left", actor=actor, merchant=member.merchant, obj=member)
    return member
