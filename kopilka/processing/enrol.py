"""Enrolment: a member joins the program with an account in the starting tier and the
welcome bonus, in one transaction."""

from django.db import transaction

from kopilka.codes import services as codes
from kopilka.codes.models import OneTimeCode, Purpose
from kopilka.core import clock, events
from kopilka.core.actor import Actor
from kopilka.core.phones import normalize_phone
from kopilka.ledger import services as ledger
from kopilka.ledger.models import Entry, Lot
from kopilka.members import services as members
from kopilka.members.models import Member
from kopilka.programs import engine
from kopilka.programs import services as programs
from kopilka.tenancy import limits
from kopilka.tenancy.models import Merchant


def enrol(merchant: Merchant, *, phone: str, actor: Actor, channel: str, staff=None,
          consents=(), code: str | None = None, **profile) -> Member:
    """Register a member, open the points account in the starting tier, grant the welcome
    bonus — one transaction, so there is never a member without an account or bonus.

    With `code` (the registration code sent to `phone`, codes.request_code) the phone is
    recorded as verified and the consents as confirmed by it. The code is checked first, so a
    wrong one costs an attempt whatever happens next, and used up inside the registration: a
    registration refused for another reason leaves it valid for the retry."""
    confirmed = None
    if code is not None:
        e164 = normalize_phone(phone, merchant.country)
        confirmed = codes.check(merchant, phone=e164, purpose=Purpose.REGISTRATION, code=code)
    return _enrol(merchant, phone=phone, actor=actor, channel=channel, staff=staff,
                  consents=consents, confirmed=confirmed, **profile)


@transaction.atomic
def _enrol(merchant: Merchant, *, phone: str, actor: Actor, channel: str, staff, consents,
           confirmed: OneTimeCode | None, **profile) -> Member:
    program = programs.load(merchant)
    if confirmed is not None:
        codes.consume(confirmed)
    member = members.register_member(
        merchant, phone=phone, actor=actor, channel=channel, staff=staff, consents=consents,
        confirmed_by=confirmed, **profile,
    )
    limits.check(merchant, limits.MEMBERS, channel=channel)  # never refuses at the counter
    account = ledger.open_account(member, tier_code=program.start_tier)
    now = clock.now()
    welcome = engine.welcome_lot(program, now, merchant.timezone)
    book = ledger.Book(account, [])  # just created inside this transaction: no lock needed
    if welcome is not None:
        book.credit(
            welcome.points, lot_kind=Lot.Kind.WELCOME, entry_kind=Entry.Kind.GRANT,
            cause=ledger.Cause("welcome", str(member.pk), actor.label), at=now,
            expires_at=welcome.expires_at,
        )
    gift = _self_registration_gift(program, book, member, channel, now, actor)
    if welcome is not None or gift:
        book.save()
    events.publish(events.MemberEnrolled(
        merchant=merchant, member=member, tier=account.tier_code,
        welcome_points=welcome.points if welcome else 0, available=account.available))
    return member


def _self_registration_gift(program: engine.CompiledProgram, book: ledger.Book, member: Member,
                            channel: str, now, actor: Actor) -> int:
    """The program's gift for registering oneself by the merchant's link or QR (AUT-1, MEM-5):
    on the self channel only, once per member since a member is registered once."""
    gift = program.config.self_registration_gift
    if gift is None or channel != Member.Channel.SELF:
        return 0
    book.credit(gift.points, lot_kind=Lot.Kind.GIFT, entry_kind=Entry.Kind.GRANT,
                cause=ledger.Cause("self_registration", str(member.pk), actor.label), at=now,
                expires_at=engine.expires_at_for(program, now, member.merchant.timezone,
                                                 gift.validity_days))
    return gift.points
