"""The daily jobs of one merchant: journal what time did to the points (activation, expiry),
remind members of points about to expire (AUT-3), give birthday gifts (AUT-1).

Each job is called by schedule.py inside the merchant's scope with the moment `at` and its
local `day`, and returns its counts. Jobs find their members with one set-based query and
loop only over those with something due, in chunks committed one at a time: a million
members with nothing due cost one query, and a crash loses at most the chunk in hand. A
re-run redoes nothing twice: materialising is idempotent in the ledger, and every other
per-member effect is recorded (models.Effect) in the same transaction as the effect.
"""

import calendar
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import F, Q, Sum

from kopilka.automation import progress
from kopilka.automation.models import Effect
from kopilka.core import clock, events
from kopilka.ledger import sweep
from kopilka.ledger.models import Entry, Lot
from kopilka.ledger.services import Book, Cause, save_books
from kopilka.members.models import Member
from kopilka.messaging import services as messaging
from kopilka.messaging.models import Event
from kopilka.programs import engine
from kopilka.programs.engine import CompiledProgram
from kopilka.tenancy.models import Merchant

# Accounts or members per transaction: short enough locks, few enough commits.
CHUNK = 500


def _chunks[T](items: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), CHUNK):
        yield items[start:start + CHUNK]


def last_day(expires_at: datetime, zone: ZoneInfo) -> date:
    """The last local day points expiring at `expires_at` can be spent: expiries fall at
    00:00 local, so points that burn at 00:00 on the 2nd are good through the 1st."""
    return (expires_at - timedelta(microseconds=1)).astimezone(zone).date()


def _record(merchant: Merchant, kind: str, keyed: list[tuple[int, str]]) -> None:
    # Written before the effects, in their transaction: a concurrent run that got there
    # first makes this chunk fail on the unique constraint instead of doubling its effects.
    now = clock.now()
    Effect.objects.bulk_create([
        Effect(merchant=merchant, member_id=member_id, kind=kind, key=key, created_at=now)
        for member_id, key in keyed
    ])


def materialise(merchant: Merchant, program: CompiledProgram, at: datetime,
                day: date) -> dict[str, int]:
    """Journal due activations and expiries (own dates and the after-last-purchase deadline)
    on every account that has any, so balances in the database match the lots: set-based,
    a chunk of accounts per transaction (ledger/sweep.py)."""
    swept = sweep.materialise_due(
        merchant, at,
        progress=lambda done, total: progress.chunk(f"{merchant.slug} materialise", done, total),
    )
    return {"accounts": swept.accounts, "entries": swept.entries}


def _expiring(merchant: Merchant, at: datetime, horizon: datetime,
              zone: ZoneInfo) -> dict[tuple[int, date], int]:
    """(member id, last valid day) -> points that expire in (at, horizon], for active members.
    A lot burns at its own date or at its account's inactivity deadline, whichever is first."""
    lots = Lot.objects.filter(merchant=merchant, remaining__gt=0,
                              account__member__status=Member.Status.ACTIVE).order_by()
    deadline = F("account__inactivity_deadline")
    own = (
        lots.filter(expires_at__gt=at, expires_at__lte=horizon)
        .filter(Q(account__inactivity_deadline__isnull=True)
                | Q(account__inactivity_deadline__gte=F("expires_at")))
        .values_list("account__member_id", "expires_at").annotate(points=Sum("remaining"))
    )
    inactive = (
        lots.filter(account__inactivity_deadline__gt=at, account__inactivity_deadline__lte=horizon)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=deadline))
        .values_list("account__member_id", "account__inactivity_deadline")
        .annotate(points=Sum("remaining"))
    )
    due: dict[tuple[int, date], int] = defaultdict(int)
    for member_id, expires_at, points in [*own, *inactive]:
        due[member_id, last_day(expires_at, zone)] += points
    return due


def expiry_reminders(merchant: Merchant, program: CompiledProgram, at: datetime,
                     day: date) -> dict[str, int]:
    """One `expiry_soon` message per member and expiry date, `expiry_reminder_days` ahead,
    and the `points.expiring` event (webhooks) with it."""
    days = program.config.expiry_reminder_days
    if not days:
        return {"members": 0, "messages": 0}
    zone = ZoneInfo(merchant.timezone)
    due = _expiring(merchant, at, at + timedelta(days=days), zone)
    kind = Effect.Kind.EXPIRY_REMINDER
    done = set(
        Effect.objects.filter(merchant=merchant, kind=kind,
                              key__in={until.isoformat() for _member, until in due})
        .values_list("member_id", "key")
    )
    todo = sorted(pair for pair in due if (pair[0], pair[1].isoformat()) not in done)
    messages = 0
    for chunk in _chunks(todo):
        members = (Member.objects.select_related("person", "merchant")
                   .in_bulk({member_id for member_id, _until in chunk}))
        with transaction.atomic():
            _record(merchant, kind, [(member_id, until.isoformat()) for member_id, until in chunk])
            items = []
            for member_id, until in chunk:
                member = members[member_id]
                points = due[member_id, until]
                # The webhook's event; the member's text is this job's product (its count is
                # the job's result), so the job queues it itself.
                events.publish(events.PointsExpiring(merchant=merchant, member=member,
                                                     points=points, last_day=until, at=at))
                items.append(messaging.ToMember(member, {"name": member.first_name,
                                                         "points": points, "date": until}))
            messages += _queued(messaging.queue_many(merchant, event=Event.EXPIRY_SOON,
                                                     items=items))
    return {"members": len(todo), "messages": messages}


def _queued(messages) -> int:
    return sum(message is not None for message in messages)


@dataclass(frozen=True)
class Gift:
    member_id: int
    points: int
    expires_at: datetime | None
    cause: Cause


def grant_gifts(gifts: Sequence[Gift], at: datetime) -> list[int]:
    """Give a chunk's gift lots through the ledger at once: the members' accounts locked
    together in id order (`Book.open_many`), each gift credited as `Book.credit` does one at
    a time (the same lots, entries and hash chain; a member with two gifts gets two), and
    everything written with `save_books` in a few statements. Gift by gift, the member's
    spendable balance just after it."""
    books = Book.open_many(member_ids={gift.member_id for gift in gifts}, at=at)
    balances = []
    for gift in gifts:
        book = books[gift.member_id]
        book.credit(gift.points, lot_kind=Lot.Kind.GIFT, entry_kind=Entry.Kind.GRANT,
                    cause=gift.cause, at=at, expires_at=gift.expires_at)
        balances.append(book.account.available)
    save_books(list(books.values()))
    return balances


def _born_on(day: date) -> Q:
    born = Q(birth_date__month=day.month, birth_date__day=day.day)
    if (day.month, day.day) == (2, 28) and not calendar.isleap(day.year):
        born |= Q(birth_date__month=2, birth_date__day=29)  # kept on the 28th, as the engine does
    return born


def birthday_gifts(merchant: Merchant, program: CompiledProgram, at: datetime,
                   day: date) -> dict[str, int]:
    """The program's birthday gift, once a year, to active members born on the local `day`,
    with the `birthday` message."""
    gift = program.config.birthday_gift
    if gift is None:
        return {"gifts": 0, "messages": 0}
    kind, year = Effect.Kind.BIRTHDAY_GIFT, str(day.year)
    given = Effect.objects.filter(merchant=merchant, kind=kind, key=year).values("member_id")
    member_ids = list(
        Member.objects.filter(_born_on(day), merchant=merchant, status=Member.Status.ACTIVE,
                              account__isnull=False)
        .exclude(pk__in=given).order_by("pk").values_list("pk", flat=True)
    )
    expires_at = engine.expires_at_for(program, at, merchant.timezone, gift.validity_days)
    until = last_day(expires_at, ZoneInfo(merchant.timezone))
    messages = 0
    for chunk in _chunks(member_ids):
        members = Member.objects.select_related("person", "merchant").in_bulk(chunk)
        with transaction.atomic():
            _record(merchant, kind, [(member_id, year) for member_id in chunk])
            balances = grant_gifts(
                [Gift(member_id, gift.points, expires_at,
                      Cause("birthday", f"{member_id}:{year}", "system"))
                 for member_id in chunk], at)
            messages += _queued(messaging.queue_many(merchant, event=Event.BIRTHDAY, items=[
                messaging.ToMember(members[member_id], {
                    "name": members[member_id].first_name, "points": gift.points,
                    "date": until, "balance": balance})
                for member_id, balance in zip(chunk, balances, strict=True)
            ]))
    return {"gifts": len(member_ids), "messages": messages}
