"""Tiers on a rolling window with downgrade (the program's `tier_window`), once a day.

A member's tier follows their spend in the last N months: a purchase moves them up at once
(processing/sale.py); this job moves down the members whose window spend is below their
tier's threshold and has been below it on every day of the grace period, to the tier the
spend earns now, and tells them (the `tier_change` message). Stateless and idempotent: the
grace is measured from the purchases themselves, and a member already moved is not moved
again, so a re-run of the day changes nothing.
"""

from collections import defaultdict
from datetime import date, datetime, timedelta

from django.db import transaction
from django.db.models import F

from kopilka.automation import progress
from kopilka.core.actor import Actor
from kopilka.ledger.models import Account
from kopilka.members.models import Member
from kopilka.messaging import services as messaging
from kopilka.messaging.models import Event
from kopilka.processing import tiers
from kopilka.processing.models import Purchase
from kopilka.programs.engine import CompiledProgram
from kopilka.tenancy.models import Merchant

SYSTEM = Actor(kind="system", label="rolling-tiers")


def _earned(program: CompiledProgram, spend: int) -> str:
    earned = None
    for tier in program.tiers_in_order:
        if not tier.manual_only and tier.threshold <= spend:
            earned = tier
    return earned.code if earned is not None else program.start_tier


def rolling_tiers(merchant: Merchant, program: CompiledProgram, at: datetime,
                  day: date) -> dict[str, int]:
    window = program.config.tier_window
    if window is None:
        return {"members": 0, "lowered": 0}
    raised = [tier.code for tier in program.tiers_in_order
              if not tier.manual_only and tier.threshold > 0]
    accounts = {account_id: (member_id, code) for account_id, member_id, code in
                Account.objects.filter(merchant=merchant, tier_manual=False,
                                       tier_code__in=raised,
                                       member__status=Member.Status.ACTIVE)
                .values_list("pk", "member_id", "tier_code")}
    if not accounts:
        return {"members": 0, "lowered": 0}
    earliest = tiers.months_before(at - timedelta(days=window.grace_days), window.months)
    history: dict[int, list[tuple[datetime, int]]] = defaultdict(list)
    for account_id, occurred_at, spend in (
        Purchase.objects.filter(merchant=merchant, account_id__in=list(accounts),
                                occurred_at__gt=earliest, occurred_at__lte=at)
        .values_list("account_id", "occurred_at",
                     F("total") - F("discount") - F("refunded_amount")).order_by()
    ):
        history[account_id].append((occurred_at, spend))

    def spend_at(account_id: int, moment: datetime) -> int:
        start = tiers.months_before(moment, window.months)
        return sum(s for t, s in history.get(account_id, ()) if start < t <= moment)

    lowered = 0
    due = []
    for account_id, (member_id, code) in accounts.items():
        threshold = program.tiers[code].threshold
        if all(spend_at(account_id, at - timedelta(days=k)) < threshold
               for k in range(window.grace_days + 1)):
            due.append((member_id, _earned(program, spend_at(account_id, at))))
    members = Member.objects.select_related("person").in_bulk([m for m, _t in due])
    for n, (member_id, target) in enumerate(due, start=1):
        member = members[member_id]
        member.merchant = merchant
        with transaction.atomic():
            if tiers.move_down(merchant, member, tier_code=target, actor=SYSTEM):
                lowered += 1
                messaging.queue(merchant, event=Event.TIER_CHANGE, member=member, context={
                    "name": member.first_name, "tier": program.tiers[target].name})
        progress.chunk(f"{merchant.slug} rolling_tiers", n, len(due))
    return {"members": len(accounts), "lowered": lowered}
