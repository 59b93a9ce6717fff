"""Cashier hints (ENG-10) in words, in the request's language. The engine gives codes and
numbers; this is the one place that turns them into sentences."""

from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from kopilka.programs import engine


def _money(amount: int) -> str:
    return formats.number_format(amount / 100, decimal_pos=2, use_l10n=True, force_grouping=True)


def word(hint: engine.Hint, tz) -> str:
    params = hint.params
    if hint.code == "birthday_today":
        return _("Birthday today!")
    if hint.code == "birthday_bonus":
        return _("Birthday bonus: +%(percent)s%% on this purchase") % {
            "percent": formats.number_format(params["extra_percent_bp"] / 100, use_l10n=True)
        }
    if hint.code == "amount_to_next_tier":
        return _("%(amount)s more to reach %(tier)s") % {
            "amount": _money(params["amount"]), "tier": params["tier_name"],
        }
    if hint.code == "points_expiring_soon":
        days = params["days_left"]
        return ngettext(
            "%(points)s points expire in %(days)s day",
            "%(points)s points expire in %(days)s days", days,
        ) % {"points": params["points"], "days": days}
    if hint.code == "pending_activation":
        return _("%(points)s points become spendable on %(date)s") % {
            "points": params["points"],
            "date": formats.date_format(params["available_at"].astimezone(tz).date()),
        }
    return hint.code


def as_dicts(hints, tz) -> list[dict]:
    return [
        {"code": hint.code, "text": word(hint, tz),
         "params": {k: (v.isoformat() if hasattr(v, "isoformat") else v)
                    for k, v in hint.params.items()}}
        for hint in hints
    ]
