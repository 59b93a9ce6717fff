"""SMS billing (MSG-4): each merchant's prepaid SMS money, what a message costs, and what
becomes of messages when the money is out.

Design overview
- One `SmsAccount` per merchant (made on first use): a balance in minor units of the
  platform's billing currency (settings.SMS_CURRENCY), the free SMS parts left (starting at
  settings.SMS_FREE_PARTS), an optional price per part over the platform's (settings.SMS_PRICE),
  and the merchant's choice for transactional messages when the money is out.
- Every change of the account writes an `SmsEntry` in the same transaction — a charge, its
  refund, or a top-up — with the balance after it: the entries are the account's statement.
- An SMS is charged once, after a worker has claimed it and before the backend sees it
  (`reserve`, called by tasks.attempt): parts x price, the free parts first. Two workers cannot
  overspend: every write locks the account row first (select_for_update; SQLite's IMMEDIATE
  transactions serialise writers) and checks the money under that lock, and the database
  refuses a second charge or refund of one message (a unique constraint). Email costs nothing
  here and is never charged.
- A message the money does not pay for is *held* (status `held`; deliver_due leaves it alone):
  a marketing one always; a transactional one or a one-time code as the merchant chose — held
  as well, or sent on credit into a negative balance. The first message held in an exhaustion
  tells the merchant's active owners by email, once, and leaves an audit row.
- A top-up (by the platform operator: `kopilka sms-topup` or the Django admin; money arrives
  outside Kopilka) adds money — paying any debt first, as the balance is simply negative — and
  releases the held messages it pays for, oldest first: queued again, due now, marketing ones
  after the quiet hours. A change of policy or price releases what it makes payable the same way.
- A message that fails for good — failed after its retries, or refused — gets its charge back
  (a refund entry; its cost becomes 0). One the provider accepted is not refunded, even if a
  delivery receipt says it never arrived: the provider charged for it.
"""

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from babel.numbers import format_currency, get_currency_precision
from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Case, F, IntegerField, Sum, Value, When
from django.utils import translation
from django.utils.translation import gettext as _
from django_scopes import scope

from kopilka.core import audit, clock
from kopilka.core.actor import Actor
from kopilka.core.errors import InvalidInput
from kopilka.messaging import services, tasks
from kopilka.messaging.models import Channel, Message, SmsAccount, SmsEntry
from kopilka.tenancy.models import Merchant, Staff

logger = logging.getLogger(__name__)

# The largest top-up one operation takes (10 billion major units): a typo of extra zeros
# must not go through, and sums stay far inside 64 bits.
MAX_TOP_UP = 10**12
MAX_PRICE = 10**9
MAX_NOTE = 200
SYSTEM = "system"  # who charges and refunds: the worker, on the message's behalf


@dataclass(frozen=True)
class TopUp:
    entry: SmsEntry
    released: int  # held messages queued again


@dataclass(frozen=True)
class TopicCost:
    event: str
    messages: int
    parts: int
    free_parts: int  # of `parts`, the ones the free quota paid
    cost: int  # money minor units


def currency() -> str:
    return settings.SMS_CURRENCY


def money(amount: int, language: str | None = None) -> str:
    """`amount` minor units of the billing currency, written for people ("1 500,00 ₽")."""
    value = Decimal(amount).scaleb(-get_currency_precision(currency()))
    return format_currency(value, currency(), locale=language or translation.get_language()
                           or settings.LANGUAGE_CODE)


def plain_money(amount: int) -> str:
    """`amount` for the CLI's English output: "1500.00 RUB"."""
    places = get_currency_precision(currency())
    return f"{Decimal(amount).scaleb(-places):.{places}f} {currency()}"


def account(merchant: Merchant) -> SmsAccount:
    """The merchant's SMS account, or an unsaved one with the platform's defaults when it
    has none yet (reading must not write)."""
    found = SmsAccount.objects.filter(merchant=merchant).first()
    return found or SmsAccount(merchant=merchant, free_parts=settings.SMS_FREE_PARTS,
                               updated_at=clock.now())


def price_of(row: SmsAccount) -> int:
    """The price of one SMS part for the account, in minor units."""
    return settings.SMS_PRICE if row.price_per_part is None else row.price_per_part


def _locked(merchant_id: int) -> SmsAccount:
    """The account row, created if missing, locked until the end of the transaction."""
    rows = SmsAccount.objects.select_for_update().filter(merchant_id=merchant_id)
    row = rows.first()
    if row is None:
        SmsAccount.objects.bulk_create(
            [SmsAccount(merchant_id=merchant_id, free_parts=settings.SMS_FREE_PARTS,
                        updated_at=clock.now())],
            ignore_conflicts=True,  # another worker made it meanwhile: take theirs
        )
        row = rows.get()
    return row


def lock(merchant_id: int) -> SmsAccount:
    """Lock the account for a write that also touches a message (tasks' final failure):
    the account first, as every billing write takes it, so two writers never wait on each
    other's rows in opposite order."""
    return _locked(merchant_id)


def _price_of_parts(row: SmsAccount, parts: int, free_left: int) -> tuple[int, int]:
    """(free parts used, money) for a message of `parts` parts: free parts first. A zero price
    makes SMS free and keeps the free quota for when there is a price."""
    price = price_of(row)
    free = min(parts, free_left) if price else 0
    return free, (parts - free) * price


def _on_credit(row: SmsAccount, event: str) -> bool:
    """Whether a message the money does not pay for is sent all the same: a one-time code
    always (a customer waits for it at the counter, and a held code would expire unread),
    a transactional one if the merchant said so, never a marketing one."""
    if event in services.REQUESTED:
        return True
    return (event not in services.MARKETING
            and row.transactional_when_empty == SmsAccount.WhenEmpty.SEND)


def _entry(row: SmsAccount, kind: str, *, amount: int, free_parts: int = 0, parts: int = 0,
           message: Message | None = None, reference: str = "", actor: str = SYSTEM,
           at: datetime) -> SmsEntry:
    return SmsEntry.objects.create(
        merchant_id=row.merchant_id, kind=kind, amount=amount, free_parts=free_parts,
        parts=parts, balance_after=row.balance, free_parts_after=row.free_parts,
        message=message, event=message.event if message else "", reference=reference,
        actor=actor[:200], created_at=at)


def reserve(message: Message, lease: datetime | None = None) -> bool:
    """Pay for an SMS the caller has claimed, before it goes to the backend. True: paid
    (now, or on an earlier attempt), send it. False: the money does not pay for it and it is
    held now (status `held`; the claim's attempt is given back: the gateway never saw it)."""
    if message.channel != Channel.SMS:
        return True
    now = clock.now()
    with transaction.atomic():
        row = _locked(message.merchant_id)
        if SmsEntry.objects.filter(merchant_id=message.merchant_id, message=message,
                                   kind=SmsEntry.Kind.CHARGE).exists():
            return True  # charged on an earlier attempt: retries cost nothing more
        free, cost = _price_of_parts(row, message.parts, row.free_parts)
        if cost and row.balance < cost and not _on_credit(row, message.event):
            _hold(row, message, lease, now)
            return False
        row.balance -= cost
        row.free_parts -= free
        row.updated_at = now
        row.save(update_fields=["balance", "free_parts", "updated_at"])
        _entry(row, SmsEntry.Kind.CHARGE, amount=-cost, free_parts=-free,
               parts=message.parts, message=message, at=now)
        Message.objects.filter(merchant_id=message.merchant_id, pk=message.pk).update(cost=cost)
        message.cost = cost
    return True


def _hold(row: SmsAccount, message: Message, lease: datetime | None, now: datetime) -> None:
    rows = Message.objects.filter(merchant_id=message.merchant_id, pk=message.pk,
                                  status=Message.Status.QUEUED)
    if lease is None:
        rows.update(status=Message.Status.HELD, next_attempt_at=now)
    else:  # a worker's claim: only while it holds, and its attempt is given back
        rows.filter(next_attempt_at=lease).update(
            status=Message.Status.HELD, attempts=F("attempts") - 1, next_attempt_at=now)
    if row.exhausted_at is not None:
        return  # the owners know already: one notice per exhaustion
    row.exhausted_at = now
    row.save(update_fields=["exhausted_at"])
    audit.record("messaging.sms.exhausted", actor=Actor.system(), merchant=row.merchant,
                 obj=row, data={"balance": row.balance, "free_parts": row.free_parts,
                                "price_per_part": price_of(row), "message": message.pk})
    merchant_id = row.merchant_id
    transaction.on_commit(lambda: notify_owners(merchant_id), robust=True)


def notify_owners(merchant_id: int) -> int:
    """Email the merchant's active owners that its SMS money is out and messages are held.
    Returns how many addresses it went to. Called after the commit that held the first
    message of an exhaustion."""
    with scope(merchant=merchant_id):
        merchant = Merchant.objects.get(pk=merchant_id)
        row = account(merchant)
        owners = (Staff.objects.filter(merchant=merchant, role=Staff.Role.OWNER, active=True,
                                       user__is_active=True)
                  .select_related("user").order_by("pk"))
        addresses = [staff.user.email for staff in owners if staff.user.email]
        held = Message.objects.filter(merchant=merchant, status=Message.Status.HELD).count()
    if not addresses:
        logger.warning("merchant %s: SMS money is out and no owner has an email", merchant_id)
        return 0
    with translation.override(merchant.language):
        subject = _("%(merchant)s: SMS messages are held, the SMS balance is used up") % {
            "merchant": merchant.name}
        body = _(
            "The SMS balance of %(merchant)s is used up: %(balance)s, with %(free)s free "
            "SMS parts left and %(price)s per SMS part. Messages held now: %(held)s.\n\n"
            "Advertising messages are held until the balance is topped up; receipts "
            "follow your messaging settings; one-time codes are always sent. Held messages "
            "go out by themselves after a top-up.\n\n"
            "To top up the balance, contact the platform operator."
        ) % {"merchant": merchant.name, "balance": money(row.balance),
             "free": row.free_parts, "price": money(price_of(row)), "held": held}
    EmailMessage(subject=subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL,
                 to=addresses).send()
    return len(addresses)


def refund(message: Message) -> SmsEntry | None:
    """Give back what a message that failed for good was charged (money and free parts).
    Nothing when it was never charged or is refunded already. Call it in the transaction
    that marks it failed or refused."""
    if message.channel != Channel.SMS:
        return None
    now = clock.now()
    with transaction.atomic():
        row = _locked(message.merchant_id)
        entries = {entry.kind: entry for entry in SmsEntry.objects.filter(
            merchant_id=message.merchant_id, message=message)}
        charge = entries.get(SmsEntry.Kind.CHARGE)
        if charge is None or SmsEntry.Kind.REFUND in entries:
            return None
        row.balance -= charge.amount
        row.free_parts -= charge.free_parts
        row.updated_at = now
        row.save(update_fields=["balance", "free_parts", "updated_at"])
        Message.objects.filter(merchant_id=message.merchant_id, pk=message.pk).update(cost=0)
        return _entry(row, SmsEntry.Kind.REFUND, amount=-charge.amount,
                      free_parts=-charge.free_parts, parts=-charge.parts, message=message,
                      at=now)


def _release(row: SmsAccount, now: datetime) -> int:
    """Queue again the held messages the account now pays for (or sends on credit), oldest
    first; a message the money does not reach stays held, and so does the exhaustion. The
    caller holds the account's lock and saves the row."""
    held = list(Message.objects.filter(merchant_id=row.merchant_id, status=Message.Status.HELD)
                .order_by("pk").values_list("pk", "event", "parts"))
    balance, free_left = row.balance, row.free_parts
    release, kept = [], 0
    for pk, event, parts in held:
        free, cost = _price_of_parts(row, parts, free_left)
        if cost and balance < cost and not _on_credit(row, event):
            kept += 1
            continue
        balance -= cost  # what reserve() will take when it is sent: counted now
        free_left -= free
        release.append((pk, event))
    if release:
        merchant = row.merchant
        by_due: dict[datetime, list[int]] = {}
        for pk, event in release:
            # services._due: marketing waits out the merchant's quiet hours, the rest goes now
            by_due.setdefault(services._due(merchant, event, now), []).append(pk)
        for due, pks in by_due.items():
            Message.objects.filter(merchant_id=row.merchant_id, pk__in=pks,
                                   status=Message.Status.HELD).update(
                status=Message.Status.QUEUED, next_attempt_at=due)
            for pk in pks:
                tasks.enqueue_on_commit(pk, None if due == now else due)
    if not kept:
        row.exhausted_at = None
    return len(release)


def _check_amount(value, field: str, low: int, high: int) -> int:
    if type(value) is not int or not low <= value <= high:
        raise InvalidInput(_("Must be a whole number from %(low)s to %(high)s (minor units).")
                           % {"low": low, "high": high}, field=field)
    return value


def top_up(merchant: Merchant, amount: int, *, note: str = "", actor: Actor) -> TopUp:
    """Add money the platform operator received from the merchant (minor units of the
    billing currency). A debt is paid first; the held messages the balance now pays for are
    queued again. Audited."""
    _check_amount(amount, "amount", 1, MAX_TOP_UP)
    if not isinstance(note, str) or "\x00" in note or len(note.strip()) > MAX_NOTE:
        raise InvalidInput(_("At most %(limit)s characters.") % {"limit": MAX_NOTE},
                           field="note")
    now = clock.now()
    with transaction.atomic():
        row = _locked(merchant.pk)
        row.balance += amount
        row.updated_at = now
        released = _release(row, now)
        row.save(update_fields=["balance", "updated_at", "exhausted_at"])
        entry = _entry(row, SmsEntry.Kind.TOP_UP, amount=amount, reference=note.strip(),
                       actor=actor.label, at=now)
        audit.record("messaging.sms.topped_up", actor=actor, merchant=merchant, obj=entry,
                     data={"amount": amount, "currency": currency(),
                           "balance_after": row.balance, "released": released,
                           "note": note.strip()})
    return TopUp(entry=entry, released=released)


def save_policy(merchant: Merchant, *, transactional_when_empty: str,
                actor: Actor) -> SmsAccount:
    """The merchant's choice for transactional messages and one-time codes when the money is
    out: `hold` them like marketing ones, or `send` them on credit. Switching to `send`
    releases the transactional messages held so far. Audited."""
    choices = SmsAccount.WhenEmpty.values
    if transactional_when_empty not in choices:
        raise InvalidInput(_("%(field)s must be one of %(codes)s.")
                           % {"field": "transactional_when_empty", "codes": ", ".join(choices)},
                           field="transactional_when_empty")
    now = clock.now()
    with transaction.atomic():
        row = _locked(merchant.pk)
        row.transactional_when_empty = transactional_when_empty
        row.updated_at = now
        released = _release(row, now)
        row.save(update_fields=["transactional_when_empty", "updated_at", "exhausted_at"])
        audit.record("messaging.sms.policy_saved", actor=actor, merchant=merchant, obj=row,
                     data={"transactional_when_empty": transactional_when_empty,
                           "released": released})
    return row


def save_price(merchant: Merchant, price_per_part: int | None, *, actor: Actor) -> SmsAccount:
    """The merchant's own price per SMS part (minor units), or None for the platform's. Set
    by the platform operator; a lower price releases the held messages it makes payable."""
    if price_per_part is not None:
        _check_amount(price_per_part, "price_per_part", 0, MAX_PRICE)
    now = clock.now()
    with transaction.atomic():
        row = _locked(merchant.pk)
        before = row.price_per_part
        row.price_per_part = price_per_part
        row.updated_at = now
        released = _release(row, now)
        row.save(update_fields=["price_per_part", "updated_at", "exhausted_at"])
        audit.record("messaging.sms.price_saved", actor=actor, merchant=merchant, obj=row,
                     data={"price_per_part": price_per_part, "before": before,
                           "released": released})
    return row


def held_count(merchant: Merchant) -> int:
    return Message.objects.filter(merchant=merchant, status=Message.Status.HELD).count()


def costs(merchant: Merchant, start: datetime | None = None,
          end: datetime | None = None) -> list[TopicCost]:
    """SMS spending by topic (the message's event) from `start` (inclusive) to `end`
    (exclusive): messages charged, their parts, the free parts among them and the money — net
    of refunds, which count when they happen. So the figures of consecutive periods add up,
    and their money equals the charges and refunds of the account's statement."""
    rows = SmsEntry.objects.filter(merchant=merchant,
                                   kind__in=(SmsEntry.Kind.CHARGE, SmsEntry.Kind.REFUND))
    if start is not None:
        rows = rows.filter(created_at__gte=start)
    if end is not None:
        rows = rows.filter(created_at__lt=end)
    one = Case(When(kind=SmsEntry.Kind.CHARGE, then=Value(1)), default=Value(-1),
               output_field=IntegerField())
    figures = (rows.values("event")
               .annotate(messages=Sum(one), parts=Sum("parts"), free=Sum("free_parts"),
                         money=Sum("amount"))
               .order_by("event"))
    return [TopicCost(event=row["event"], messages=row["messages"], parts=row["parts"],
                      free_parts=-row["free"], cost=-row["money"]) for row in figures]
