"""Gifts on the birthdays of members' relatives (AUT-1), a daily job.

The other gifts live where their occasion happens: the welcome bonus at registration and the
first-purchase gift at the counter (processing), the member's own birthday gift beside the
other daily jobs (jobs.birthday_gifts, which this one follows).
"""

from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import CharField, Exists, OuterRef, Value
from django.db.models.functions import Cast, Concat

from kopilka.automation import progress
from kopilka.automation.jobs import Gift, _born_on, _chunks, _queued, _record, grant_gifts, last_day
from kopilka.automation.models import Effect
from kopilka.ledger.services import Cause
from kopilka.members.models import Member, Relative
from kopilka.messaging import services as messaging
from kopilka.messaging.models import Event
from kopilka.programs import engine
from kopilka.programs.engine import CompiledProgram
from kopilka.tenancy.models import Merchant


def relative_birthday_gifts(merchant: Merchant, program: CompiledProgram, at: datetime,
                            day: date) -> dict[str, int]:
    """The program's `relative_birthday_gift` to the member, for each of their relatives born
    on the local `day`, once a year per relative, with the `relative_birthday` message (the
    relative's name is its `{relative}` placeholder)."""
    gift = program.config.relative_birthday_gift
    if gift is None:
        return {"gifts": 0, "messages": 0}
    kind, year = Effect.Kind.RELATIVE_BIRTHDAY_GIFT, str(day.year)
    given = Effect.objects.filter(
        merchant=merchant, kind=kind, member=OuterRef("member_id"),
        key=Concat(Value(f"{year}:"), Cast(OuterRef("pk"), CharField())),
    )
    relatives = list(
        Relative.objects.filter(_born_on(day), merchant=merchant,
                                member__status=Member.Status.ACTIVE,
                                member__account__isnull=False)
        .filter(~Exists(given)).order_by("pk").values_list("pk", "member_id", "name")
    )
    expires_at = engine.expires_at_for(program, at, merchant.timezone, gift.validity_days)
    until = last_day(expires_at, ZoneInfo(merchant.timezone))
    messages = done = 0
    for chunk in _chunks(relatives):
        members = (Member.objects.select_related("person", "merchant")
                   .in_bulk({member_id for _pk, member_id, _name in chunk}))
        with transaction.atomic():
            _record(merchant, kind, [(member_id, f"{year}:{pk}") for pk, member_id, _ in chunk])
            balances = grant_gifts(
                [Gift(member_id, gift.points, expires_at,
                      Cause("relative_birthday", f"{pk}:{year}", "system"))
                 for pk, member_id, _name in chunk], at)
            messages += _queued(messaging.queue_many(merchant, event=Event.RELATIVE_BIRTHDAY,
                                                     items=[
                messaging.ToMember(members[member_id], {
                    "name": members[member_id].first_name, "relative": name,
                    "points": gift.points, "date": until, "balance": balance})
                for (_pk, member_id, name), balance in zip(chunk, balances, strict=True)
            ]))
        done += len(chunk)
        progress.chunk(f"{merchant.slug} relative_birthday_gifts", done, len(relatives))
    return {"gifts": len(relatives), "messages": messages}
