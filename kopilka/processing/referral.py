"""Referral points (CMP-3) on a member's balance: granted and taken back for the referrals
app, which decides who gets how much and keeps its own record (the cause's id names it).

Called inside the caller's transaction (the sale's or the refund's, or the enrolment's), so a
reward exists exactly when the operation that earned it does. Each call locks the member's
account; a sale locks the buyer first and then the buyer's referrers, up the chain, which
were all registered before: the lock order is the same everywhere, so it cannot deadlock.
"""

from datetime import datetime

from kopilka.core.actor import Actor
from kopilka.ledger import services as ledger
from kopilka.ledger.models import Entry, Lot
from kopilka.members.models import Member
from kopilka.processing import _book
from kopilka.programs import engine
from kopilka.programs import services as programs

CAUSE = "referral"


def grant(member: Member, *, points: int, reward_id: int, at: datetime, actor: Actor,
          validity_days: int | None = None) -> ledger.Balances:
    """Credit a referral reward (or the newcomer's gift) to `member`; their balances after.
    The caller asks `may_receive` first: a member who is no longer active gets nothing."""
    if type(points) is not int or points <= 0:
        raise ValueError("referral points must be a positive int")  # a programming error
    program = programs.load(member.merchant)
    book = _book.book(member, program)
    book.credit(points, lot_kind=Lot.Kind.REFERRAL, entry_kind=Entry.Kind.GRANT,
                cause=ledger.Cause(CAUSE, str(reward_id), actor.label), at=at,
                expires_at=engine.expires_at_for(program, at, member.merchant.timezone,
                                                 validity_days))
    book.save()
    return book.balances(at)


def take_back(member: Member, *, points: int, reward_id: int, at: datetime,
              actor: Actor) -> int:
    """Reverse up to `points` of a reward: first from its own lot, then from any spendable
    points (the accrual rule, processing/refund.py). Returns how much was taken back."""
    if points <= 0:
        return 0
    program = programs.load(member.merchant)
    book = _book.book(member, program)
    cause = ledger.Cause(CAUSE, str(reward_id), actor.label)
    own = {lot.pk for lot in ledger.lots_of(cause, Entry.Kind.GRANT,
                                            account_id=book.account.pk)}
    unrecovered = book.reverse(points, own_lot_ids=own, cause=cause, at=at)
    book.save()
    return points - unrecovered


def may_receive(member: Member) -> bool:
    """Only active members receive points (blocked, departed and erased ones do not)."""
    return member.status == Member.Status.ACTIVE
