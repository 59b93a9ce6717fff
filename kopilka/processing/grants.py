"""Points granted for a cause a feature owns (a campaign code, later a referral reward): the
feature decides that the member gets them and writes its own row; this operation puts them on
the member's account through the ledger, under the account's lock, inside the feature's
transaction (a rollback there takes the points back too).

The feature registers its cause type in its `AppConfig.ready()` (ledger/causes.py) and passes
the id of its row; the feature's service writes the audit entry and publishes its event.
"""

from dataclasses import dataclass

from django.db import transaction

from kopilka.core import clock
from kopilka.core.actor import Actor
from kopilka.ledger import services as ledger
from kopilka.ledger.models import Entry
from kopilka.members.models import Member
from kopilka.processing import _book
from kopilka.programs import engine
from kopilka.programs import services as programs
from kopilka.tenancy.models import Merchant


@dataclass(frozen=True)
class Granted:
    points: int
    available: int
    pending: int


def grant_points(merchant: Merchant, member: Member, *, points: int, cause_type: str,
                 cause_id: str, lot_kind: str, actor: Actor,
                 validity_days: int | None = None) -> Granted:
    """Credit `points` (> 0) to an active member as a new lot of `lot_kind`, expiring after
    `validity_days` (None: the program's own expiry rule)."""
    if type(points) is not int or points <= 0:
        raise ValueError("points must be a positive integer")  # the feature validates first
    if member.merchant_id != merchant.pk:
        raise ValueError("the member belongs to another merchant")
    program = programs.load(merchant)
    with transaction.atomic():
        book = _book.book(member, program)
        _book.require_active(member, "member")
        now = clock.now()
        expires = engine.expires_at_for(program, now, merchant.timezone, validity_days)
        book.credit(points, lot_kind=lot_kind, entry_kind=Entry.Kind.GRANT,
                    cause=ledger.Cause(cause_type, cause_id, actor.label), at=now,
                    expires_at=expires)
        book.save()
        balances = book.balances(now)
    return Granted(points=points, available=balances.available, pending=balances.pending)
