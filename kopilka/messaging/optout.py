"""Opt-out (MSG-3): the unsubscribe link in a member's messages and the "STOP" reply to an SMS.

Both revoke the member's consent to messages (members.Consent kind "messages"); from then on
`services.may_send` lets through only what the member cannot do without (one-time codes they
ask for, and transactional messages if the merchant sends them to every member).

The link's token is the member id signed with the installation's secret key (no table
needed, nothing to expire: a link in an old SMS must still work). STOP comes from a phone,
which may be a member at several merchants: it revokes the consent at every one of them.
"""

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _
from django_scopes import scope, scopes_disabled

from kopilka.core.actor import Actor
from kopilka.core.errors import NotFound
from kopilka.core.phones import normalize_phone
from kopilka.members import services as members
from kopilka.members.models import Consent, Member

SALT = "kopilka.messaging.unsubscribe"
# What a member may answer an SMS with to stop messages (compared trimmed, case-insensitive).
STOP_WORDS = frozenset({"stop", "стоп", "отписка", "відписка"})


def token_for(member: Member) -> str:
    return signing.Signer(salt=SALT).sign(str(member.pk))


def unsubscribe_url(member: Member) -> str:
    return settings.PUBLIC_URL + reverse("messaging-unsubscribe", args=[token_for(member)])


def unsubscribe(token: str, *, ip: str | None = None) -> Member:
    """Revoke the consent of the member the token names; NotFound for a forged or mangled
    token. Repeating it changes nothing more (a link clicked twice)."""
    try:
        member_id = int(signing.Signer(salt=SALT).unsign(token))
    except (signing.BadSignature, ValueError):
        raise NotFound(_("This unsubscribe link is not valid.")) from None
    with scopes_disabled():  # the token, not a session, says which merchant: scope after
        member = Member.objects.select_related("merchant").filter(pk=member_id).first()
    if member is None:
        raise NotFound(_("This unsubscribe link is not valid."))
    actor = Actor(kind="member", label=f"member:{member.pk} via unsubscribe link", ip=ip)
    with scope(merchant=member.merchant):
        members.revoke_consent(member, Consent.Kind.MESSAGES, actor=actor)
    return member


def is_stop(text: str) -> bool:
    return text.strip().casefold() in STOP_WORDS


@transaction.atomic
def stop(phone: str, text: str, *, actor: Actor) -> int:
    """Handle an SMS a person sent back: STOP revokes the consent to messages at every merchant
    where the phone is a member. Returns how many memberships had a consent revoked; any other
    text does nothing (0)."""
    if not is_stop(text):
        return 0
    e164 = normalize_phone(phone, settings.PHONENUMBER_DEFAULT_REGION, field="from")
    with scopes_disabled():  # a phone is global: its memberships span merchants
        memberships = list(Member.objects.select_related("merchant")
                           .filter(person__phone=e164).order_by("pk"))
    revoked = 0
    for member in memberships:
        with scope(merchant=member.merchant):
            revoked += bool(members.revoke_consent(member, Consent.Kind.MESSAGES, actor=actor))
    return revoked
