"""A plan's limits (OPS-4, docs/billing.md "Limits"): `max_stores` and `max_members`.

- No subscription, or a plan without a limit (null): nothing is limited.
- **Stores** are refused beyond the limit wherever they are created or reopened (the cabinet,
  the management API, `kopilka create-terminal`): `LimitReached` (409 `/problems/plan-limit`,
  field `max_stores`; a form error in the cabinet).
- **Members**: a customer is never refused because of the merchant's plan, as the POS keeps
  accruing when the balance runs out. Registration at the counter (the cashier workplace and
  the POS API: channel `cashier`) and by the member themselves (`self`) always succeeds, and
  costs no query here. Registrations without a customer waiting — the management API (`api`),
  imports — are refused beyond the limit (field `max_members`).
- A merchant over a limit (members joined at the counter, or a plan changed to a smaller one)
  is told: the tick e-mails the owners the first day it finds it over, then at most every
  WARN_EVERY days while it stays over; the cabinet's billing page and the operator (API and
  admin) show the usage beside the limits.

Counts: open stores; members not erased. Both are counted inside the creating transaction
after the new row, under a lock of the subscription row, so two creations at once cannot both
take the last place (SQLite serialises writers anyway).
"""

import logging
from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _
from django_scopes import scope

from kopilka.billing.models import Plan, Subscription
from kopilka.core import audit
from kopilka.core.actor import Actor
from kopilka.members.models import Member
from kopilka.tenancy import limits
from kopilka.tenancy.models import Merchant, Staff, Store

logger = logging.getLogger(__name__)

# Channels where a customer is waiting (members.Member.Channel values): never refused.
CUSTOMER_CHANNELS = frozenset({Member.Channel.CASHIER, Member.Channel.SELF})
WARN_EVERY = 7  # days between two e-mails about the same excess


def stores_used(merchant: Merchant) -> int:
    return Store.objects.filter(merchant=merchant, active=True).count()


def members_used(merchant: Merchant) -> int:
    return Member.objects.filter(merchant=merchant).exclude(
        status=Member.Status.ERASED).count()


def _locked_plan(merchant: Merchant) -> Plan | None:
    """The merchant's plan, its subscription row locked until the creating transaction ends
    (one query; none locked without a subscription)."""
    sub = (Subscription.objects.select_for_update().select_related("plan")
           .filter(merchant=merchant).first())
    return sub.plan if sub is not None else None


def check_stores(merchant: Merchant, **context) -> None:
    plan = _locked_plan(merchant)
    if plan is None or plan.max_stores is None:
        return
    used = stores_used(merchant)
    if used > plan.max_stores:
        raise limits.LimitReached(
            _("Open stores on the plan %(plan)s: at most %(limit)s. Close a store or ask for "
              "a larger plan.") % {"plan": plan.name, "limit": plan.max_stores},
            field="max_stores")


def check_members(merchant: Merchant, *, channel: str | None = None, **context) -> None:
    if channel in CUSTOMER_CHANNELS:
        return  # the customer at the counter or on their phone is never refused
    plan = _locked_plan(merchant)
    if plan is None or plan.max_members is None:
        return
    if members_used(merchant) > plan.max_members:
        raise limits.LimitReached(
            _("Members on the plan %(plan)s: at most %(limit)s. Members who register at the "
              "counter are still accepted; ask for a larger plan.")
            % {"plan": plan.name, "limit": plan.max_members},
            field="max_members")


@dataclass(frozen=True)
class Usage:
    stores: int
    max_stores: int | None
    members: int
    max_members: int | None

    @property
    def over(self) -> list[str]:
        """The limits exceeded: `max_stores`, `max_members` (at the limit is not over)."""
        found = []
        if self.max_stores is not None and self.stores > self.max_stores:
            found.append("max_stores")
        if self.max_members is not None and self.members > self.max_members:
            found.append("max_members")
        return found


def usage(merchant: Merchant, plan: Plan | None = None) -> Usage:
    """What the merchant has beside what its plan allows (call in its scope)."""
    if plan is None:
        sub = Subscription.objects.select_related("plan").filter(merchant=merchant).first()
        plan = sub.plan if sub is not None else None
    return Usage(stores=stores_used(merchant),
                 max_stores=plan.max_stores if plan is not None else None,
                 members=members_used(merchant),
                 max_members=plan.max_members if plan is not None else None)


def check_day(merchant: Merchant, day: date) -> bool:
    """Once per merchant and local day (the tick): count, and when over a limit tell the
    owners — the first day it is over, then every WARN_EVERY days. True when told now."""
    with transaction.atomic():
        sub = (Subscription.objects.select_for_update().select_related("plan")
               .filter(merchant=merchant).first())
        if sub is None or sub.limits_checked_on == day:
            return False
        sub.limits_checked_on = day
        if sub.plan.max_stores is None and sub.plan.max_members is None:
            sub.save(update_fields=["limits_checked_on"])  # nothing to count
            return False
        found = usage(merchant, sub.plan)
        over = found.over
        due = bool(over) and (sub.limit_warned_on is None
                        or day >= sub.limit_warned_on + timedelta(days=WARN_EVERY))
        if not over:
            sub.limit_warned_on = None  # back under: the next excess is told at once
        elif due:
            sub.limit_warned_on = day
        sub.save(update_fields=["limits_checked_on", "limit_warned_on"])
        if not due:
            return False
        audit.record("billing.limits.over", actor=Actor.system(), merchant=merchant, obj=sub,
                     data={"day": day.isoformat(), "over": over, "stores": found.stores,
                           "max_stores": found.max_stores, "members": found.members,
                           "max_members": found.max_members})
        merchant_id = merchant.pk
        transaction.on_commit(lambda: notify_owners(merchant_id, found, sub.plan.name),
                              robust=True)
    return True


def notify_owners(merchant_id: int, found: Usage, plan_name: str) -> int:
    with scope(merchant=merchant_id):
        merchant = Merchant.objects.get(pk=merchant_id)
        owners = (Staff.objects.filter(merchant=merchant, role=Staff.Role.OWNER, active=True,
                                       user__is_active=True).select_related("user")
                  .order_by("pk"))
        addresses = [staff.user.email for staff in owners if staff.user.email]
    if not addresses:
        return 0
    with translation.override(merchant.language):
        lines = []
        if "max_stores" in found.over:
            lines.append(_("Open stores: %(used)s, the plan allows %(limit)s.")
                         % {"used": found.stores, "limit": found.max_stores})
        if "max_members" in found.over:
            lines.append(_("Members: %(used)s, the plan allows %(limit)s.")
                         % {"used": found.members, "limit": found.max_members})
        subject = _("%(merchant)s: over the plan's limit") % {"merchant": merchant.name}
        body = _(
            "%(merchant)s has more than its plan %(plan)s allows.\n\n%(lines)s\n\n"
            "Customers are never turned away: members keep joining at the counter. New "
            "stores, and members added through the management API, are refused until you "
            "move to a larger plan (ask Kopilka's operator)."
        ) % {"merchant": merchant.name, "plan": plan_name, "lines": "\n".join(lines)}
    EmailMessage(subject=subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL,
                 to=addresses).send()
    return len(addresses)


def install() -> None:
    limits.register(limits.STORES, check_stores)
    limits.register(limits.MEMBERS, check_members)
