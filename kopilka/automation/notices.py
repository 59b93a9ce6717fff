"""Notices from the daily jobs (AUT-3): points that became spendable.

Pending points (a program's `activation_delay_days`) become spendable at their own moment
through the day; the ledger journals it (an `activate` entry dated that moment) by the
`materialise` run at the next local midnight at the latest. So on local day D the job tells
each member about the points that became spendable on day D-1 — every one of them journalled
by then — in one `activation` message per member and day.

Tier changes need no job: tiers follow lifetime spend, which only purchases, refunds and
staff change, and processing tells the member at the purchase.
"""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Sum

from kopilka.automation import progress
from kopilka.automation.jobs import _chunks, _queued, _record
from kopilka.automation.models import Effect
from kopilka.ledger.models import Entry
from kopilka.members.models import Member
from kopilka.messaging import services as messaging
from kopilka.messaging.models import Event, Settings
from kopilka.programs.engine import CompiledProgram
from kopilka.tenancy.models import Merchant


def activation_notices(merchant: Merchant, program: CompiledProgram, at: datetime,
                       day: date) -> dict[str, int]:
    """An `activation` message per member with points that became spendable on the local day
    before `day`: how many, and the balance now. Once per member and activation day."""
    if messaging.settings_for(merchant).transactional == Settings.Transactional.OFF:
        return {"members": 0, "messages": 0}  # nobody gets transactional messages
    zone = ZoneInfo(merchant.timezone)
    yesterday = day - timedelta(days=1)
    kind, key = Effect.Kind.ACTIVATION_NOTICE, yesterday.isoformat()
    told = Effect.objects.filter(merchant=merchant, kind=kind, key=key).values("member_id")
    activated = list(
        Entry.objects.filter(
            merchant=merchant, kind=Entry.Kind.ACTIVATE,
            occurred_at__gte=datetime.combine(yesterday, time(0), tzinfo=zone),
            occurred_at__lt=datetime.combine(day, time(0), tzinfo=zone),
            account__member__status=Member.Status.ACTIVE,
        )
        .exclude(account__member_id__in=told)
        .values_list("account__member_id").annotate(points=Sum("available_delta"))
        .order_by("account__member_id")
    )
    messages = done = 0
    for chunk in _chunks(activated):
        members = (Member.objects.select_related("person", "merchant", "account")
                   .in_bulk([member_id for member_id, _points in chunk]))
        with transaction.atomic():
            _record(merchant, kind, [(member_id, key) for member_id, _points in chunk])
            messages += _queued(messaging.queue_many(merchant, event=Event.ACTIVATION, items=[
                messaging.ToMember(members[member_id], {
                    "name": members[member_id].first_name, "points": points,
                    "balance": members[member_id].account.available})
                for member_id, points in chunk
            ]))
        done += len(chunk)
        progress.chunk(f"{merchant.slug} activation_notices", done, len(activated))
    return {"members": len(activated), "messages": messages}
