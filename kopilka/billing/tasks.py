"""The tick's billing job: charge every subscription that is due on its merchant's local day
and warn the owners of overdue ones, once per merchant-day (services.charge_due and warn are
idempotent per day); count a limited plan's stores and members once per merchant-day and tell
the owners of an excess (limits.check_day)."""

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from django_scopes import scope, scopes_disabled

from kopilka.billing import limits, services
from kopilka.billing.models import Subscription
from kopilka.tenancy.models import Merchant

logger = logging.getLogger(__name__)


def run(at: datetime) -> int:
    """Charge what is due at `at` for every active merchant with a subscription; how many
    entries and warnings (of a debt, of an excess over the plan's limits) it made."""
    with scopes_disabled():
        subs = list(Subscription.objects.filter(merchant__status=Merchant.Status.ACTIVE)
                    .select_related("merchant").order_by("pk"))
    done = 0
    for sub in subs:
        merchant = sub.merchant
        day = at.astimezone(ZoneInfo(merchant.timezone)).date()
        if (sub.next_charge_on > day and (sub.overdue_since is None or sub.warned_on == day)
                and sub.limits_checked_on == day):
            continue
        try:
            with scope(merchant=merchant):
                done += services.charge_due(merchant, day).entries
                done += services.warn(merchant, day)
                done += limits.check_day(merchant, day)
        except Exception:  # one merchant's failure must not starve the others
            logger.exception("billing for %s on %s failed", merchant.slug, day)
    return done
