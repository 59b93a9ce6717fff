"""Inactivity chains (AUT-2): "20 days without a purchase: a message; 40 days: a gift".

The program's `chains` are ordered; each has a segment (programs/config.py) and steps with
`after_days`. A member follows the first chain whose segment holds them. Their absence starts
at their last purchase, or at their registration if they never bought. On the merchant's
local `day`, a step is reached when the absence's local start day is at least `after_days`
days before `day`; the member is due the highest step reached, unless that step was done in
this absence already. A missed day is thus caught up next day, and a member found long gone
(a chain added later) gets the step that fits their absence, not every earlier one at once.

Each step done is a `WinbackContact` (unique per member, absence start and step), inserted in
the transaction of the gift and the message, before them: a re-run or a concurrent run finds
the step done. A new purchase moves the absence start, so the chain starts over.

Gifts go through the ledger (cause "winback", the contact's id) with their own validity;
messages go as the `gift` event — marketing: only to members who agreed to messages, never
in the quiet hours — with the step's own text in the merchant's language (or the first
language the step has), or the `gift` template for a gift step without a text.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Coalesce

from kopilka.automation import progress
from kopilka.automation.jobs import Gift, _chunks, grant_gifts, last_day
from kopilka.automation.models import WinbackContact
from kopilka.automation.segments import members_in
from kopilka.ledger.services import Cause
from kopilka.members.models import Member
from kopilka.messaging import services as messaging
from kopilka.messaging.models import Event
from kopilka.programs import config, engine
from kopilka.programs.engine import CompiledProgram
from kopilka.tenancy.models import Merchant


@dataclass(frozen=True)
class Due:
    member_id: int
    absent_since: datetime
    chain: config.Chain
    step: int  # index in chain.steps

    @property
    def what(self) -> config.ChainStep:
        return self.chain.steps[self.step]


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


def due(merchant: Merchant, chains: tuple[config.Chain, ...], day: date,
        zone: ZoneInfo) -> list[Due]:
    """The steps due on local `day`: one query per chain and step, whatever the member count."""
    members = (
        Member.objects.filter(merchant=merchant, status=Member.Status.ACTIVE,
                              account__isnull=False)
        .annotate(absent_since=Coalesce("account__last_purchase_at", "registered_at"))
    )
    found: list[Due] = []
    earlier = Q()  # the segments of the chains before: first match wins
    for chain in chains:
        segment = members_in(chain.segment)
        holds = members.filter(segment & ~earlier) if earlier else members.filter(segment)
        # Absent since before local midnight at the start of (day - after_days + 1): the
        # absence's local start day is at least after_days before `day`.
        cutoffs = [_midnight(day - timedelta(days=step.after_days - 1), zone)
                   for step in chain.steps]
        for index, cutoff in enumerate(cutoffs):
            reached = holds.filter(absent_since__lt=cutoff)
            if index + 1 < len(cutoffs):  # not the next step's too: that one is due instead
                reached = reached.filter(absent_since__gte=cutoffs[index + 1])
            done = WinbackContact.objects.filter(
                merchant=merchant, member=OuterRef("pk"), step=index,
                absence_started_at=OuterRef("absent_since"),
            )
            rows = (reached.filter(~Exists(done)).order_by("pk")
                    .values_list("pk", "absent_since"))
            found += [Due(member_id, since, chain, index) for member_id, since in rows]
        if chain.segment.kind == "all":
            break  # nobody is left for the chains after it
        earlier |= segment
    return found


def inactivity_chains(merchant: Merchant, program: CompiledProgram, at: datetime,
                      day: date) -> dict[str, int]:
    """Do the chain steps due on `day`: gifts through the ledger, messages to the outbox."""
    chains = program.config.chains
    if not chains:
        return {"contacts": 0, "gifts": 0, "messages": 0}
    zone = ZoneInfo(merchant.timezone)
    todo = due(merchant, chains, day, zone)
    until = at + timedelta(days=program.config.winback_window_days)
    gifts = messages = done = 0
    for chunk in _chunks(todo):
        members = (Member.objects.select_related("person", "merchant", "account")
                   .in_bulk([item.member_id for item in chunk]))
        with transaction.atomic():
            contacts = WinbackContact.objects.bulk_create([
                WinbackContact(
                    merchant=merchant, member_id=item.member_id, chain=item.chain.code,
                    step=item.step, absence_started_at=item.absent_since, at=at,
                    points=item.what.gift.points if item.what.gift else 0,
                    attributable_until=until,
                )
                for item in chunk
            ])
            messages_of = _do_steps(merchant, program, members, chunk, contacts, at, zone)
            told = []
            for contact, message in zip(contacts, messages_of, strict=True):
                gifts += contact.points > 0
                if message is not None:
                    contact.message, contact.sent = message, True
                    told.append(contact)
            WinbackContact.objects.bulk_update(told, ["message", "sent"])
            messages += len(told)
        done += len(chunk)
        progress.chunk(f"{merchant.slug} inactivity_chains", done, len(todo))
    return {"contacts": len(todo), "gifts": gifts, "messages": messages}


def _do_steps(merchant: Merchant, program: CompiledProgram, members: dict[int, Member],
              chunk, contacts: list[WinbackContact], at: datetime, zone: ZoneInfo) -> list:
    """Grant a chunk's gifts (together, jobs.grant_gifts) and queue its messages (together,
    messaging.queue_many); contact by contact, the message queued or None."""
    gifts = []
    for item, contact in zip(chunk, contacts, strict=True):
        step = item.what
        if step.gift is not None:
            expires_at = engine.expires_at_for(program, at, merchant.timezone,
                                               step.gift.validity_days)
            gifts.append(Gift(item.member_id, step.gift.points, expires_at,
                              Cause("winback", str(contact.pk), "system")))
    balances = iter(grant_gifts(gifts, at) if gifts else ())
    gift_of = iter(gifts)
    items = []
    for item in chunk:
        step, member = item.what, members[item.member_id]
        context = {"name": member.first_name, "balance": member.account.available}
        if step.gift is not None:
            gift = next(gift_of)
            context.update(points=gift.points, date=last_day(gift.expires_at, zone),
                           balance=next(balances))
        language = body = None
        if step.message is not None:
            language, body = step.message.text(merchant.language)
        items.append(messaging.ToMember(member, context, language=language, body=body))
    return messaging.queue_many(merchant, event=Event.GIFT, items=items)
