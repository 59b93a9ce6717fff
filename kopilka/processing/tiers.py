"""Tiers on a rolling window of spend (the program's `tier_window`): the spend of the last N
months, and the daily move down once a member's window spend has stayed below their tier's
threshold through the grace period (automation/tiers.py runs it; a purchase moves up at once,
processing/sale.py)."""

import calendar
from datetime import datetime

from django.db import transaction
from django.db.models import F, Sum

from kopilka.core import audit, clock, events
from kopilka.core.actor import Actor
from kopilka.members.models import Member
from kopilka.processing import _book
from kopilka.processing.models import Purchase
from kopilka.programs import engine
from kopilka.programs import services as programs
from kopilka.tenancy.models import Merchant


def months_before(at: datetime, months: int) -> datetime:
    """The same moment `months` calendar months earlier (the 31st becomes the month's last)."""
    month = at.month - 1 - months
    year = at.year + month // 12
    month = month % 12 + 1
    day = min(at.day, calendar.monthrange(year, month)[1])
    return at.replace(year=year, month=month, day=day)


def window_spend(account_id: int, at: datetime, months: int) -> int:
    """What the account's purchases in (at - months, at] came to, less their refunds."""
    total = Purchase.objects.filter(
        account_id=account_id, occurred_at__gt=months_before(at, months), occurred_at__lte=at,
    ).aggregate(spend=Sum(F("total") - F("discount") - F("refunded_amount")))["spend"]
    return total or 0


def tier_after_purchase(program: engine.CompiledProgram, account, spend: int, at: datetime,
                        current: str) -> str:
    """The tier a purchase of `spend` puts the member in: by lifetime spend, or, with a tier
    window, by the window's spend — and then only up (down is the daily job's)."""
    window = program.config.tier_window
    if window is None:
        return engine.tier_for_lifetime(program, account.lifetime_spend + spend, current)
    earned = engine.tier_for_lifetime(
        program, window_spend(account.pk, at, window.months) + spend, current)
    return earned if program.tiers[earned].rank > program.tiers[current].rank else current


def move_down(merchant: Merchant, member: Member, *, tier_code: str, actor: Actor) -> bool:
    """Put the member in the lower tier their window spend earns (the daily job's decision);
    False when nothing changed (a tier assigned by hand in the meantime stays)."""
    program = programs.load(merchant)
    with transaction.atomic():
        book = _book.book(member, program)
        account = book.account
        before = account.tier_code
        if (account.tier_manual or before not in program.tiers
                or program.tiers[tier_code].rank >= program.tiers[before].rank):
            return False
        book.set_tier(tier_code)
        book.save()
        audit.record("processing.tier.lowered", actor=actor, merchant=merchant, obj=member,
                     data={"tier": [before, tier_code]})
        events.publish(events.TierAssigned(
            merchant=merchant, member=member, at=clock.now(),
            tier=events.TierMove(before=before, after=tier_code,
                                 after_name=program.tiers[tier_code].name),
        ))
    return True
