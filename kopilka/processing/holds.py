"""Holds (pending-out): points set aside for something the member collects later — a reward
order — so they cannot be spent twice, then spent on collection or given back.

The operation that owns the hold (rewards: an order) calls these inside its own transaction
and writes its own audit row and event; these only lock the account and change the ledger.
The hold's cause is the owner's (`reward_order 12`): the REDEEM entries of a captured hold
carry it, so the ledger's history says what the points bought.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils.translation import gettext as _

from kopilka.core import clock
from kopilka.core.actor import Actor
from kopilka.core.errors import NotFound
from kopilka.ledger import services as ledger
from kopilka.ledger.models import Entry, Hold
from kopilka.members.models import Member
from kopilka.processing import _book
from kopilka.programs import services as programs
from kopilka.tenancy.models import Merchant

HoldClosed = ledger.HoldClosed
InsufficientPoints = ledger.InsufficientPoints


@dataclass
class HoldResult:
    hold: Hold
    available: int  # spendable after the change (held points excluded)
    held: int


def _result(hold: Hold, book: ledger.Book, at: datetime) -> HoldResult:
    balances = book.balances(at)
    return HoldResult(hold, balances.available, balances.held)


def hold_points(merchant: Merchant, member: Member, *, points: int, cause_type: str,
                cause_id: str, expires_at: datetime | None, actor: Actor) -> HoldResult:
    """Set `points` of the member's spendable points aside (InsufficientPoints if fewer)."""
    if type(points) is not int or points <= 0:
        raise ValueError("points must be a positive integer")
    program = programs.load(merchant)
    with transaction.atomic():
        book = _book.book(member, program)
        _book.require_active(member, "member")
        now = clock.now()
        hold = book.hold(points, cause=ledger.Cause(cause_type, cause_id, actor.label), at=now,
                         expires_at=expires_at)
        book.save()
        return _result(hold, book, now)


def _open(merchant: Merchant, hold_id: int) -> ledger.Book:
    account_id = (Hold.objects.filter(merchant=merchant, pk=hold_id)
                  .values_list("account_id", flat=True).first())
    if account_id is None:
        raise NotFound(_("No such hold."), field="hold")
    return ledger.Book.open(account_id=account_id)


def capture_hold(merchant: Merchant, hold_id: int, *, cause_type: str, cause_id: str,
                 actor: Actor) -> HoldResult:
    """Spend the held points now (HoldClosed if already spent, released or lapsed)."""
    with transaction.atomic():
        book = _open(merchant, hold_id)
        hold = book.open_hold(hold_id)
        now = clock.now()
        book.capture(hold, entry_kind=Entry.Kind.REDEEM,
                     cause=ledger.Cause(cause_type, cause_id, actor.label), at=now)
        book.save()
        return _result(hold, book, now)


def release_hold(merchant: Merchant, hold_id: int) -> HoldResult | None:
    """Give the held points back. None if the hold was already closed (spent, released, or
    lapsed and released by the ledger): releasing is idempotent."""
    with transaction.atomic():
        book = _open(merchant, hold_id)
        try:
            hold = book.open_hold(hold_id)
        except HoldClosed:
            book.save()  # opening may have released it (lapsed): keep that
            return None
        now = clock.now()
        book.release(hold, at=now)
        book.save()
        return _result(hold, book, now)
