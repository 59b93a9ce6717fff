"""Billing services: plans, subscriptions, top-ups and charges, the grace period and the
read-only cabinet (docs/billing.md).

Every write locks the merchant's account row first (select_for_update; SQLite's IMMEDIATE
transactions serialise writers), writes an `Entry` with the balance after it, and is audited.
A charge or payment has a `key` unique per merchant: a day is debited once, a period charged
once, a provider's payment recorded once, whoever calls twice.

Policy when the money runs out: charges still post (the balance goes below zero: a debt). From
the local day it went below zero the merchant has `settings.BILLING_GRACE_DAYS` days of grace
with a warning e-mail to the owners each day; after that the cabinet is read-only (no changes,
reading and downloads still work) until a top-up brings the balance back to zero or above. The
POS and the wallet are never stopped: customers do not pay for a merchant's unpaid bill.
"""

import calendar
import logging
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_date
from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.utils import translation
from django.utils.translation import gettext as _
from django_scopes import scope

from kopilka.billing.models import Account, Entry, Plan, Subscription
from kopilka.core import audit, clock
from kopilka.core.actor import Actor
from kopilka.core.errors import Conflict, InvalidInput
from kopilka.messaging import billing as sms
from kopilka.tenancy.models import Merchant, Staff

logger = logging.getLogger(__name__)

MAX_AMOUNT = 10**12  # a typo of extra zeros must not go through
MAX_LIMIT = 10**9  # a plan's max_stores / max_members (PositiveIntegerField holds 2**31 - 1)
MAX_NOTE = 200
SYSTEM = "system"

money = sms.money
plain_money = sms.plain_money


def today(merchant: Merchant) -> date:
    return clock.now().astimezone(ZoneInfo(merchant.timezone)).date()


def add_months(day: date, months: int) -> date:
    """The same day `months` later, or the month's last day when it has no such day."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _amount(value, field: str, low: int = 1, high: int = MAX_AMOUNT) -> int:
    if type(value) is not int or not low <= value <= high:
        raise InvalidInput(_("Must be a whole number from %(low)s to %(high)s (minor units).")
                           % {"low": low, "high": high}, field=field)
    return value


def _note(note) -> str:
    if not isinstance(note, str) or "\x00" in note or len(note.strip()) > MAX_NOTE:
        raise InvalidInput(_("At most %(limit)s characters.") % {"limit": MAX_NOTE},
                           field="note")
    return note.strip()


def save_plan(*, code: str, name: str, kind: str = Plan.Kind.PERIOD, months: int = 1,
              monthly_price: int = 0, discount_percent: int = 0, daily_price: int = 0,
              max_stores: int | None = None, max_members: int | None = None,
              actor: Actor) -> Plan:
    """Create or change the plan `code` (the operator's). Audited."""
    if kind not in Plan.Kind.values:
        raise InvalidInput(_("%(field)s must be one of %(codes)s.")
                           % {"field": "kind", "codes": ", ".join(Plan.Kind.values)}, field="kind")
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        raise InvalidInput(_("Required, at most %(limit)s characters.") % {"limit": 100},
                           field="name")
    _amount(months, "months", 1, 120)
    _amount(discount_percent, "discount_percent", 0, 100)
    _amount(monthly_price, "monthly_price", 0)
    _amount(daily_price, "daily_price", 0)
    for field, limit in (("max_stores", max_stores), ("max_members", max_members)):
        if limit is not None and (type(limit) is not int or not 0 <= limit <= MAX_LIMIT):
            raise InvalidInput(_("Must be a whole number from 0 to %(high)s, or empty for no "
                                 "limit.") % {"high": MAX_LIMIT}, field=field)
    with transaction.atomic():
        plan, _created = Plan.objects.update_or_create(code=code, defaults={
            "name": name.strip(), "kind": kind, "months": months, "monthly_price": monthly_price,
            "discount_percent": discount_percent, "daily_price": daily_price,
            "max_stores": max_stores, "max_members": max_members})
        audit.record("billing.plan.saved", actor=actor, obj=plan,
                     data={"code": code, "kind": kind, "months": months,
                           "monthly_price": monthly_price, "discount_percent": discount_percent,
                           "period_price": plan.period_price, "daily_price": daily_price,
                           "max_stores": max_stores, "max_members": max_members})
    return plan


def account(merchant: Merchant) -> Account:
    """The merchant's account, or an unsaved empty one (reading must not write)."""
    return (Account.objects.filter(merchant=merchant).first()
            or Account(merchant=merchant, balance=0, updated_at=clock.now()))


def subscription(merchant: Merchant) -> Subscription | None:
    return Subscription.objects.select_related("plan").filter(merchant=merchant).first()


def _locked(merchant_id: int) -> Account:
    rows = Account.objects.select_for_update().filter(merchant_id=merchant_id)
    row = rows.first()
    if row is None:
        Account.objects.bulk_create([Account(merchant_id=merchant_id, updated_at=clock.now())],
                                    ignore_conflicts=True)
        row = rows.get()
    return row


def _post(row: Account, kind: str, amount: int, *, key: str, day: date, actor: str,
          note: str = "", plan: Plan | None = None) -> Entry:
    now = clock.now()
    row.balance += amount
    row.updated_at = now
    row.save(update_fields=["balance", "updated_at"])
    return Entry.objects.create(merchant_id=row.merchant_id, kind=kind, amount=amount,
                                balance_after=row.balance, key=key, day=day, plan=plan,
                                note=note, actor=actor[:200], created_at=now)


def subscribe(merchant: Merchant, plan: Plan, *, start: date | None = None,
              actor: Actor) -> Subscription:
    """Put the merchant on `plan` from `start` (default: its local today). The tick charges
    from that day: a period plan its first period, a daily plan its first day."""
    start = start or today(merchant)
    now = clock.now()
    with transaction.atomic():
        sub, _created = Subscription.objects.update_or_create(merchant=merchant, defaults={
            "plan": plan, "started_on": start, "next_charge_on": start, "updated_at": now})
        audit.record("billing.subscribed", actor=actor, merchant=merchant, obj=sub,
                     data={"plan": plan.code, "start": start.isoformat()})
    return sub


def top_up(merchant: Merchant, amount: int, *, note: str = "", key: str = "",
           actor: Actor) -> Entry:
    """Record money the operator received from the merchant. `key` (a payment provider's id)
    records it once: the same key again is a Conflict. A debt is paid first; a balance back at
    zero or above ends the grace period or the read-only cabinet. Audited."""
    _amount(amount, "amount")
    note = _note(note)
    with transaction.atomic():
        row = _locked(merchant.pk)
        key = f"pay:{key}" if key else f"pay:{clock.now().isoformat()}:{row.balance}"
        if Entry.objects.filter(merchant=merchant, key=key).exists():
            raise Conflict(_("This payment is recorded already."), field="key")
        entry = _post(row, Entry.Kind.PAYMENT, amount, key=key, day=today(merchant),
                      actor=actor.label, note=note)
        if row.balance >= 0:
            Subscription.objects.filter(merchant=merchant).update(overdue_since=None,
                                                                  warned_on=None)
        audit.record("billing.topped_up", actor=actor, merchant=merchant, obj=entry,
                     data={"amount": amount, "currency": sms.currency(),
                           "balance_after": row.balance, "note": note})
    return entry


@dataclass(frozen=True)
class Charged:
    entries: int
    amount: int  # minor units, positive


def charge_due(merchant: Merchant, day: date | None = None) -> Charged:
    """Charge what is due up to the merchant's local `day` (default: today): each day of a
    daily plan, each period of a period plan from its first day. Days a tick missed are caught
    up. Idempotent: a charge's key is its day, so a second run (or a concurrent one) adds
    nothing."""
    day = day or today(merchant)
    entries = total = 0
    with transaction.atomic():
        row = _locked(merchant.pk)
        sub = Subscription.objects.select_for_update().select_related("plan").filter(
            merchant=merchant).first()
        if sub is None:
            return Charged(0, 0)
        plan = sub.plan
        while sub.next_charge_on <= day:
            due = sub.next_charge_on
            if plan.kind == Plan.Kind.DAILY:
                kind, price, key = Entry.Kind.DAILY, plan.daily_price, f"day:{due}"
                sub.next_charge_on = due + timedelta(days=1)
                note = plan.name
            else:
                kind, price, key = Entry.Kind.PERIOD, plan.period_price, f"period:{due}"
                sub.next_charge_on = add_months(due, plan.months)
                note = f"{plan.name}: {due.isoformat()} – " \
                       f"{(sub.next_charge_on - timedelta(days=1)).isoformat()}"
            if Entry.objects.filter(merchant=merchant, key=key).exists():
                continue
            _post(row, kind, -price, key=key, day=due, actor=SYSTEM, note=note, plan=plan)
            entries += 1
            total += price
            if row.balance < 0 and sub.overdue_since is None:
                sub.overdue_since = due
        sub.updated_at = clock.now()
        sub.save(update_fields=["next_charge_on", "overdue_since", "updated_at"])
        if entries:
            audit.record("billing.charged", actor=Actor.system(), merchant=merchant, obj=row,
                         data={"entries": entries, "amount": total, "day": day.isoformat(),
                               "balance_after": row.balance})
    return Charged(entries, total)


def grace_ends(sub: Subscription | None) -> date | None:
    """The first local day the cabinet is read-only, when the balance is overdue."""
    if sub is None or sub.overdue_since is None:
        return None
    return sub.overdue_since + timedelta(days=settings.BILLING_GRACE_DAYS)


def read_only(merchant: Merchant) -> bool:
    """Whether the merchant's cabinet refuses changes: the grace period is over and the debt
    is not paid. One query; asked only for unsafe requests."""
    overdue = (Subscription.objects.filter(merchant=merchant, overdue_since__isnull=False)
               .values_list("overdue_since", flat=True).first())
    if overdue is None:
        return False
    return today(merchant) >= overdue + timedelta(days=settings.BILLING_GRACE_DAYS)


def warn(merchant: Merchant, day: date | None = None) -> bool:
    """Tell the owners once per local day while the balance is overdue (grace, then
    read-only). True when a warning was sent now."""
    day = day or today(merchant)
    with transaction.atomic():
        claimed = (Subscription.objects.filter(merchant=merchant, overdue_since__isnull=False)
                   .exclude(warned_on=day).update(warned_on=day))
        if not claimed:
            return False
        audit.record("billing.warned", actor=Actor.system(), merchant=merchant,
                     data={"day": day.isoformat()})
        merchant_id = merchant.pk
        transaction.on_commit(lambda: notify_owners(merchant_id, day), robust=True)
    return True


def notify_owners(merchant_id: int, day: date) -> int:
    with scope(merchant=merchant_id):
        merchant = Merchant.objects.get(pk=merchant_id)
        sub = subscription(merchant)
        balance = account(merchant).balance
        owners = (Staff.objects.filter(merchant=merchant, role=Staff.Role.OWNER, active=True,
                                       user__is_active=True).select_related("user").order_by("pk"))
        addresses = [staff.user.email for staff in owners if staff.user.email]
    if not addresses or sub is None:
        return 0
    ends = grace_ends(sub)
    with translation.override(merchant.language):
        if ends is not None and day >= ends:
            subject = _("%(merchant)s: the cabinet is read-only until the bill is paid") % {
                "merchant": merchant.name}
        else:
            subject = _("%(merchant)s: the Kopilka balance is used up") % {
                "merchant": merchant.name}
        body = _(
            "The Kopilka balance of %(merchant)s is %(balance)s. Please top it up.\n\n"
            "Until %(date)s everything works as usual; from that day the cabinet is read-only "
            "(no changes) until the debt is paid. The point-of-sale and the customers' cards "
            "keep working all the time."
        ) % {"merchant": merchant.name, "balance": money(balance),
             "date": format_date(ends, format="long", locale=merchant.language) if ends else ""}
    EmailMessage(subject=subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL,
                 to=addresses).send()
    return len(addresses)


def debts() -> list[Account]:
    """Accounts below zero, the largest debt first (the operator's; no tenant scope)."""
    return list(Account.objects.filter(balance__lt=0).select_related("merchant")
                .order_by("balance"))


def record_payment(merchant: Merchant, amount: int, *, payment_id: str, note: str = "",
                   actor: Actor) -> tuple[Entry, bool]:
    """A payment provider's notice: recorded once per `payment_id`; (entry, created)."""
    try:
        return top_up(merchant, amount, note=note, key=payment_id, actor=actor), True
    except Conflict:
        return Entry.objects.get(merchant=merchant, key=f"pay:{payment_id}"), False
    except IntegrityError:  # a concurrent notice of the same payment won
        return Entry.objects.get(merchant=merchant, key=f"pay:{payment_id}"), False
