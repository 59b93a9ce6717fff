"""Points moved by hand (ENG-13): the owner's allowance for each employee, grants and
deductions with a reason, and tiers assigned by hand."""

from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from kopilka.core import audit, clock, events
from kopilka.core.actor import Actor
from kopilka.core.errors import Conflict, Forbidden, InvalidInput
from kopilka.ledger import services as ledger
from kopilka.ledger.models import Entry, Lot
from kopilka.members.models import Member
from kopilka.processing import _book
from kopilka.processing.models import Adjustment, Allowance
from kopilka.programs import engine
from kopilka.programs import services as programs
from kopilka.tenancy import access
from kopilka.tenancy.models import Merchant, Staff


@dataclass
class AdjustmentResult:
    adjustment: Adjustment
    replayed: bool


@transaction.atomic
def set_allowance(merchant: Merchant, *, staff: Staff, points: int, by: Staff,
                  actor: Actor) -> Allowance:
    """The owner sets how many points an employee may still hand out."""
    if by.merchant_id != merchant.pk or not access.role_may(by.role, "set_allowance"):
        raise access.refuse("set_allowance")
    if type(points) is not int or points < 0:
        raise InvalidInput(_("points must be a non-negative integer."), field="points")
    allowance, _created = Allowance.objects.select_for_update().get_or_create(
        merchant=merchant, staff=staff, defaults={"updated_at": clock.now()}
    )
    allowance.remaining = points
    allowance.updated_at = clock.now()
    allowance.save(update_fields=["remaining", "updated_at"])
    audit.record("processing.allowance.set", actor=actor, merchant=merchant, obj=allowance,
                 data={"staff": staff.pk, "points": points})
    return allowance


def adjust_points(merchant: Merchant, member: Member, *, points: int, by: Staff, reason: str,
                  key: str, actor: Actor,
                  validity_days: int | None = None) -> AdjustmentResult:
    """Grant (points > 0) or deduct (points < 0) by hand, with a reason. Grants by anyone but
    the owner use up the employee's allowance; a deduction never takes more than is spendable."""
    if type(points) is not int or points == 0:
        raise InvalidInput(_("points must be a non-zero integer."), field="points")
    if not reason.strip():
        raise InvalidInput(_("Say why the points are changed."), field="reason")
    if by.merchant_id != merchant.pk:
        raise Forbidden(_("Not an employee of this merchant."))
    program = programs.load(merchant)
    with transaction.atomic():
        book = _book.book(member, program)
        account = book.account
        existing = Adjustment.objects.filter(merchant=merchant, staff=by, key=key).first()
        if existing is not None:
            if (existing.account_id, existing.points) != (account.pk, points):
                raise Conflict(_("This key was already used for another change."), field="key")
            return AdjustmentResult(existing, replayed=True)
        if points > 0:
            _book.require_active(member, "member")
        now = clock.now()
        if points > 0 and not access.role_may(by.role, "grant_unlimited"):
            allowance = Allowance.objects.select_for_update().filter(staff=by).first()
            if allowance is None or allowance.remaining < points:
                left = allowance.remaining if allowance else 0
                raise Conflict(
                    ngettext(
                        "Your allowance has %(points)s point left.",
                        "Your allowance has %(points)s points left.",
                        left,
                    ) % {"points": left},
                    field="points",
                )
            allowance.remaining -= points
            allowance.updated_at = now
            allowance.save(update_fields=["remaining", "updated_at"])
        adjustment = Adjustment.objects.create(
            merchant=merchant, account=account, staff=by, points=points,
            reason=reason.strip()[:300], key=key, occurred_at=now,
        )
        cause = ledger.Cause("adjustment", str(adjustment.pk), actor.label)
        if points > 0:
            expires = engine.expires_at_for(program, now, merchant.timezone, validity_days)
            book.credit(points, lot_kind=Lot.Kind.ADJUSTMENT, entry_kind=Entry.Kind.GRANT,
                        cause=cause, at=now, expires_at=expires)
        else:
            book.debit(-points, entry_kind=Entry.Kind.DEDUCT, cause=cause, at=now)
        book.save()
        audit.record(
            "processing.points.granted" if points > 0 else "processing.points.deducted",
            actor=actor, merchant=merchant, obj=adjustment,
            data={"points": points, "reason": adjustment.reason, "member": member.pk},
        )
        balances = book.balances(now)
        events.publish(events.PointsAdjusted(
            merchant=merchant, adjustment=adjustment, member=member,
            available=balances.available, pending=balances.pending,
        ))
        return AdjustmentResult(adjustment, replayed=False)


@transaction.atomic
def assign_tier(merchant: Merchant, member: Member, *, tier_code: str | None, actor: Actor):
    """Put a member in a tier by hand (it then stays until changed by hand), or hand the
    member back to automatic tiers with tier_code=None."""
    program = programs.load(merchant)
    book = _book.book(member, program)
    account = book.account
    tier_before = account.tier_code
    if tier_code is None:
        tier = engine.tier_for_lifetime(program, account.lifetime_spend, program.start_tier)
        book.set_tier(tier, manual=False)
    else:
        if tier_code not in program.tiers:
            raise InvalidInput(_("No tier %(tier)r.") % {"tier": tier_code}, field="tier")
        book.set_tier(tier_code, manual=True)
    book.save()
    audit.record("processing.tier.assigned", actor=actor, merchant=merchant, obj=member,
                 data={"tier": account.tier_code, "manual": account.tier_manual})
    events.publish(events.TierAssigned(
        merchant=merchant, member=member, at=clock.now(),
        tier=events.TierMove(before=tier_before, after=account.tier_code,
                             after_name=program.tiers[account.tier_code].name,
                             manual=account.tier_manual),
    ))
    return account
