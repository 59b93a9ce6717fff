"""The member's account as every operation family needs it: opened on first use, locked with
time's effects journalled, and seen by the engine as a `MemberState`.

Private to processing: the families (enrol, sale, refund, transfer, manual) and the queries
share it; nothing outside processing should need an account this way.
"""

from django.utils.translation import gettext as _

from kopilka.core import clock
from kopilka.core.errors import Conflict
from kopilka.ledger import services as ledger
from kopilka.ledger.models import Account
from kopilka.members.models import Member
from kopilka.programs import engine


def account(member: Member, program: engine.CompiledProgram) -> Account:
    """The member's account; opened on first use for a member registered before the merchant
    had a program (get_or_create: two first purchases at once still make one account).
    A member found at the counter comes with the account joined (processing registers the
    join with members): no query then."""
    try:
        return member.account
    except Account.DoesNotExist:
        pass
    found, _created = Account.objects.get_or_create(
        member=member,
        defaults={"merchant_id": member.merchant_id, "tier_code": program.start_tier,
                  "updated_at": clock.now()},
    )
    return found


def book(member: Member, program: engine.CompiledProgram) -> ledger.Book:
    """The member's account, locked, with time's effects journalled."""
    try:
        opened = ledger.Book.open(member_id=member.pk)
    except Account.DoesNotExist:
        account(member, program)
        opened = ledger.Book.open(member_id=member.pk)
    attach(member, opened.account)
    return opened


def attach(member: Member, locked: Account) -> None:
    """Give the caller's member the live, locked account the write changes, so a member
    object kept across writes never shows a balance or tier from before them."""
    Member.account.related.set_cached_value(member, locked)


def state(program: engine.CompiledProgram, member: Member, of: Account,
          balances: ledger.Balances) -> engine.MemberState:
    return engine.MemberState(
        tier_code=tier_in(program, of),
        lifetime_spend=of.lifetime_spend,
        available_points=balances.available,
        pending_lots=tuple(engine.DatedPoints(p, t) for p, t in balances.activating),
        expiring_lots=tuple(engine.DatedPoints(p, t) for p, t in balances.expiring),
        birth_date=member.birth_date,
        tags=frozenset(member.tags),
        purchase_count=of.purchase_count,
    )


def require_active(member: Member, field: str) -> None:
    """Blocked, departed and erased members neither buy nor receive points (refunds and
    deductions still work: they settle what already happened)."""
    if member.status != Member.Status.ACTIVE:
        raise Conflict(_("This member's card is blocked or has left the program."),
                       field=field)


def tier_in(program: engine.CompiledProgram, of: Account) -> str:
    """The member's tier, or the starting tier if the owner removed theirs from the program
    (the next write records the move: check_tier)."""
    return of.tier_code if of.tier_code in program.tiers else program.start_tier


def check_tier(program: engine.CompiledProgram, opened: ledger.Book) -> None:
    if opened.account.tier_code not in program.tiers:
        opened.set_tier(program.start_tier)
