"""Referrals (CMP-3): personal codes, who recommended whom, invitations.

A member's personal code (8 characters from an alphabet without look-alikes) is made on first
use. A newcomer names their referrer at registration by that code, or by the referrer's phone
or card number (`Member.referrer_code` keeps what was given); the enrolment's subscriber
(subscribers.py) resolves it, records the `Referral` and gives the newcomer's gift. Rewards for
the friend's purchases are written by the sale's subscriber in the sale's transaction.
"""

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils.translation import gettext as _

from kopilka.core import audit, clock
from kopilka.core.actor import Actor
from kopilka.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from kopilka.core.phones import normalize_phone
from kopilka.members import services as members
from kopilka.members.models import Member
from kopilka.messaging import services as messaging
from kopilka.processing.models import Purchase
from kopilka.programs import services as programs
from kopilka.programs.config import ReferralProgram
from kopilka.referrals.models import Code, Invitation, Referral, Reward
from kopilka.tenancy import access
from kopilka.tenancy.models import Merchant

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I/L
CODE_LENGTH = 8
#: Invitations one member may send in 24 hours (each is an SMS the merchant pays for).
INVITATIONS_PER_DAY = 10


def referral_program(merchant: Merchant) -> ReferralProgram | None:
    """The merchant's referral settings; None without them (or without a program at all)."""
    if access.context(merchant)["program"] is None:
        return None
    return programs.load(merchant).config.referral


def code_for(member: Member) -> str:
    """The member's personal code, made on first use."""
    try:
        return member.referral_code.code
    except Code.DoesNotExist:
        pass
    for _attempt in range(10):
        text = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
        try:
            with transaction.atomic():
                made, _created = Code.objects.get_or_create(
                    member=member, defaults={"merchant_id": member.merchant_id, "code": text,
                                             "created_at": clock.now()})
            member.referral_code = made
            return made.code
        except IntegrityError:  # the same code for another member: draw again
            continue
    raise RuntimeError("could not draw a free referral code")  # 32**8 codes: never


def resolve(merchant: Merchant, given: str) -> Member | None:
    """The member `given` names: their personal code, phone number or card number."""
    given = (given or "").strip()
    if not given:
        return None
    found = (Code.objects.filter(merchant=merchant, code=given.upper())
             .select_related("member").first())
    if found is not None:
        return found.member
    for lookup in ("phone", "card"):
        try:
            return members.find_member(merchant, **{lookup: given})
        except (InvalidInput, NotFound):
            continue
    return None


def earned_points(member: Member) -> int:
    """Points the member earned by purchases (less what refunds took back)."""
    total = Purchase.objects.filter(member=member).aggregate(
        points=Sum(F("points_accrued") - F("points_reversed")))["points"]
    return total or 0


def may_invite(member: Member, config: ReferralProgram | None = None) -> bool:
    config = config if config is not None else referral_program(member.merchant)
    if config is None or member.status != Member.Status.ACTIVE:
        return False
    return not config.invite_after_points or earned_points(member) >= config.invite_after_points


def chain(newcomer: Member, levels: int) -> list[Member]:
    """Who recommended `newcomer`, then who recommended them, ... at most `levels` deep."""
    found: list[Member] = []
    current = newcomer.pk
    seen = {current}
    while len(found) < levels:
        link = (Referral.objects.filter(newcomer_id=current).select_related("referrer",
                                                                             "referrer__person")
                .first())
        if link is None or link.referrer_id in seen:
            break
        found.append(link.referrer)
        seen.add(link.referrer_id)
        current = link.referrer_id
    return found


def refuse_uninvited(merchant: Merchant, referrer: Member | None,
                     config: ReferralProgram) -> None:
    """An invite-only program registers only newcomers whose referrer may invite."""
    if referrer is None:
        raise Forbidden(_("This program is by invitation only: give the code, phone or card "
                          "number of the member who invited you."), field="referrer_code")
    if not may_invite(referrer, config):
        raise Forbidden(_("The member who invited you cannot invite yet."),
                        field="referrer_code")


@dataclass(frozen=True)
class Figures:
    referrers: int
    newcomers: int
    newcomers_bought: int
    rewards_points: int
    rewards_reversed: int
    newcomer_gifts: int


def figures(merchant: Merchant, since=None) -> Figures:
    """The cabinet's referral figures (all time, or since a moment)."""
    referrals = Referral.objects.filter(merchant=merchant)
    rewards = Reward.objects.filter(merchant=merchant)
    if since is not None:
        referrals = referrals.filter(registered_at__gte=since)
        rewards = rewards.filter(created_at__gte=since)
    purchase_rewards = rewards.filter(level__gte=1).aggregate(points=Sum("points"),
                                                              reversed=Sum("reversed"))
    bought = Purchase.objects.filter(
        merchant=merchant, member_id__in=referrals.values("newcomer_id")
    ).values("member_id").distinct().count()
    return Figures(
        referrers=referrals.values("referrer_id").distinct().count(),
        newcomers=referrals.count(),
        newcomers_bought=bought,
        rewards_points=purchase_rewards["points"] or 0,
        rewards_reversed=purchase_rewards["reversed"] or 0,
        newcomer_gifts=rewards.filter(level=0).aggregate(points=Sum("points"))["points"] or 0,
    )


def invite(member: Member, *, phone: str, link: str, actor: Actor) -> Invitation:
    """Send a friend an SMS invitation with `link` (the join page with the member's code)."""
    merchant = member.merchant
    config = referral_program(merchant)
    if config is None:
        raise Conflict(_("This shop has no referral program."), field="phone")
    if not may_invite(member, config):
        raise Forbidden(_("You cannot invite friends yet."), field="phone")
    e164 = normalize_phone(phone, merchant.country)
    if Member.objects.filter(merchant=merchant, person__phone=e164).exists():
        raise Conflict(_("This person already has a card here."), field="phone")
    with transaction.atomic():
        Member.objects.select_for_update().filter(pk=member.pk).first()  # one at a time
        now = clock.now()
        sent = Invitation.objects.filter(inviter=member, sent_at__gt=now - timedelta(days=1))
        if sent.count() >= INVITATIONS_PER_DAY:
            raise Conflict(_("You have sent as many invitations as a day allows. "
                             "Try again tomorrow."), field="phone")
        if sent.filter(phone=e164).exists():
            raise Conflict(_("You have already invited this number today."), field="phone")
        invitation = Invitation.objects.create(merchant=merchant, inviter=member, phone=e164,
                                               sent_at=now)
        messaging.queue(merchant, event="invitation", recipient=e164,
                        context={"name": member.first_name, "link": link})
        audit.record("referrals.invitation.sent", actor=actor, merchant=merchant,
                     obj=invitation, data={"inviter": member.pk})
    return invitation
