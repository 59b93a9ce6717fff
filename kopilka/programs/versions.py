"""Program versions: every save of a program (the cabinet's editor, the management API, a
template, a roll back) keeps the whole configuration with who saved it and when; two versions
compare as a list of changes in words ("Silver tier accrual: 7 % → 8 %"), and a roll back saves
an old version again as a new one.

`record` is called by `services.save_program` inside its transaction, so no save escapes it.
"""

from decimal import Decimal

from babel.dates import get_day_names
from babel.numbers import format_currency, format_decimal, get_currency_precision
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kopilka.core import clock
from kopilka.core.actor import Actor
from kopilka.core.errors import NotFound
from kopilka.programs.config import points_number
from kopilka.programs.models import Program, ProgramVersion


def record(program: Program, *, actor: Actor, restored_from: int | None = None) -> ProgramVersion:
    return ProgramVersion.objects.create(
        merchant_id=program.merchant_id, program=program, number=program.version,
        config=program.config, created_at=clock.now(), actor_kind=actor.kind,
        actor_label=actor.label[:200], restored_from=restored_from,
    )


def history(merchant) -> list[ProgramVersion]:
    """The merchant's versions, newest first."""
    return list(ProgramVersion.objects.filter(merchant=merchant).order_by("-number"))


def get(merchant, number: int) -> ProgramVersion:
    version = ProgramVersion.objects.filter(merchant=merchant, number=number).first()
    if version is None:
        raise NotFound(_("No version %(number)s of the program.") % {"number": number},
                       field="version")
    return version


def restore(merchant, number: int, *, actor: Actor) -> Program:
    """Save version `number`'s configuration again: a new version equal to the old one."""
    from kopilka.programs import services  # services records versions through this module

    version = get(merchant, number)
    return services.save_program(merchant, version.config, actor=actor, restored_from=number)


# --- changes in words ---------------------------------------------------------------------------

# Labels of the configuration's leaves. Tiers, rules and chains are keyed by their code.
LABELS = {
    "type": gettext_lazy("Program type"),
    "currency_names.ru": gettext_lazy("Currency name in Russian"),
    "currency_names.uk": gettext_lazy("Currency name in Ukrainian"),
    "currency_names.en": gettext_lazy("Currency name in English"),
    "point_value": gettext_lazy("Value of one point"),
    "points_precision": gettext_lazy("Decimal places of points"),
    "accrual_rounding": gettext_lazy("Rounding of accruals"),
    "discount_rounding": gettext_lazy("Rounding of discounts"),
    "accrue_on_points_paid": gettext_lazy("Accrual on the part paid with points"),
    "max_redeem_percent": gettext_lazy("Share of a check payable with points"),
    "redeem_requires_code": gettext_lazy("Spending needs a code from an SMS"),
    "activation_delay_days": gettext_lazy("Days before new points can be spent"),
    "expiry.mode": gettext_lazy("Points expire"),
    "expiry.days": gettext_lazy("Days until points expire"),
    "expiry.dates": gettext_lazy("Dates when points expire"),
    "expiry_warning_days": gettext_lazy("Cashier's warning, days before expiry"),
    "expiry_reminder_days": gettext_lazy("Reminder to members, days before expiry"),
    "welcome_bonus": gettext_lazy("Welcome bonus"),
    "welcome_validity_days": gettext_lazy("Welcome bonus valid, days"),
    "birthday.extra_percent": gettext_lazy("Birthday extra accrual"),
    "birthday.days_before": gettext_lazy("Birthday days before"),
    "birthday.days_after": gettext_lazy("Birthday days after"),
    "birthday_gift.points": gettext_lazy("Birthday gift"),
    "birthday_gift.validity_days": gettext_lazy("Birthday gift valid, days"),
    "first_purchase_gift.points": gettext_lazy("First purchase gift"),
    "first_purchase_gift.validity_days": gettext_lazy("First purchase gift valid, days"),
    "self_registration_gift.points": gettext_lazy("Gift for joining by the link or QR"),
    "self_registration_gift.validity_days": gettext_lazy("Joining gift valid, days"),
    "relative_birthday_gift.points": gettext_lazy("Gift on a relative's birthday"),
    "relative_birthday_gift.validity_days": gettext_lazy("Relative's birthday gift valid, days"),
    "max_total_accrual_percent": gettext_lazy("Cap on accrual per line"),
    "transfers.enabled": gettext_lazy("Transfers between members"),
    "transfers.min_points": gettext_lazy("Smallest transfer"),
    "transfers.max_points": gettext_lazy("Largest transfer"),
    "transfers.max_points_per_day": gettext_lazy("Transfers per day at most"),
    "tier_refund_policy": gettext_lazy("Tier after a refund"),
    "winback_window_days": gettext_lazy("Win-back window, days"),
    # a tier's
    "name": gettext_lazy("name"),
    "threshold": gettext_lazy("threshold"),
    "accrual.kind": gettext_lazy("accrual scheme"),
    "accrual.percent": gettext_lazy("accrual"),
    "accrual.points": gettext_lazy("points per amount"),
    "accrual.per": gettext_lazy("for every"),
    "accrual.brackets": gettext_lazy("accrual steps"),
    "discount.kind": gettext_lazy("discount scheme"),
    "discount.percent": gettext_lazy("discount"),
    "discount.brackets": gettext_lazy("discount steps"),
    "start": gettext_lazy("start tier"),
    "manual_only": gettext_lazy("set by staff only"),
    # a rule's
    "active": gettext_lazy("on"),
    "priority": gettext_lazy("priority"),
    "conditions.product_groups": gettext_lazy("product groups"),
    "conditions.skus": gettext_lazy("products"),
    "conditions.weekdays": gettext_lazy("days of the week"),
    "conditions.time_from": gettext_lazy("from"),
    "conditions.time_to": gettext_lazy("until"),
    "conditions.date_from": gettext_lazy("first day"),
    "conditions.date_to": gettext_lazy("last day"),
    "conditions.payment_methods": gettext_lazy("payment methods"),
    "conditions.store_ids": gettext_lazy("stores"),
    "conditions.cashier_ids": gettext_lazy("cashiers"),
    "conditions.tiers": gettext_lazy("tiers"),
    "conditions.member_tags_any": gettext_lazy("member tags"),
    "conditions.birthday_window": gettext_lazy("around the birthday"),
    "effects.multiply_accrual": gettext_lazy("accrual multiplied"),
    "effects.add_percent": gettext_lazy("accrual added"),
    "effects.set_percent": gettext_lazy("accrual set to"),
    "effects.fixed_points_per_line": gettext_lazy("points per line"),
    "effects.fixed_points_per_check": gettext_lazy("points per check"),
    "effects.max_redeem_percent": gettext_lazy("payable with points"),
    "effects.exclude_from_accrual": gettext_lazy("earns nothing"),
    "effects.points_validity_days": gettext_lazy("points valid, days"),
}

CHOICES = {
    "bonus": gettext_lazy("bonuses"),
    "discount": gettext_lazy("discount card"),
    "hybrid": gettext_lazy("bonuses and a discount"),
    "down": gettext_lazy("down"),
    "half_up": gettext_lazy("to the nearest"),
    "up": gettext_lazy("up"),
    "none": gettext_lazy("never"),
    "kind:none": gettext_lazy("no discount"),
    "after_accrual": gettext_lazy("after the accrual"),
    "after_last_purchase": gettext_lazy("after the last purchase"),
    "fixed_dates": gettext_lazy("on fixed dates"),
    "percent": gettext_lazy("percent"),
    "per_amount": gettext_lazy("points per amount"),
    "progressive": gettext_lazy("steps by check amount"),
    "keep": gettext_lazy("kept"),
    "recalculate": gettext_lazy("recalculated"),
}

_PERCENT = {"percent", "extra_percent", "max_redeem_percent", "max_total_accrual_percent",
            "add_percent", "set_percent"}
_MONEY = {"threshold", "from", "min_spend", "per"}
_POINTS = {"points", "welcome_bonus", "min_points", "max_points", "max_points_per_day",
           "fixed_points_per_line", "fixed_points_per_check"}
_CHOICE = {"type", "accrual_rounding", "discount_rounding", "mode", "kind", "tier_refund_policy"}
_LEAVES = {"point_value", "brackets", "currency_names.ru", "currency_names.uk",
           "currency_names.en", "dates"}  # compared as one value
_KEYED = {"tiers", "rules", "chains"}


def _flatten(value, path: tuple = ()) -> dict[tuple, object]:
    """{path: leaf}; lists of tiers, rules and chains keyed by code, None leaves left out."""
    if value is None:
        return {}
    dotted = ".".join(str(part) for part in path)
    if isinstance(value, dict) and dotted not in _LEAVES and (not path or path[-1] not in
                                                                _LEAVES):
        flat = {}
        for key, item in value.items():
            flat.update(_flatten(item, (*path, key)))
        return flat
    if path and path[-1] in _KEYED and isinstance(value, list):
        flat = {}
        for item in value:
            flat.update(_flatten(item, (*path, item["code"])))
        return flat
    return {path: value}


class _Words:
    def __init__(self, config: dict, currency: str, locale: str):
        self.config, self.currency, self.locale = config, currency, locale
        self.precision = config.get("points_precision", 2)

    def money(self, amount: int) -> str:
        value = Decimal(amount).scaleb(-get_currency_precision(self.currency))
        return format_currency(value, self.currency, locale=self.locale)

    def percent(self, value) -> str:
        return f"{format_decimal(Decimal(str(value)), locale=self.locale)}\u00a0%"

    def value(self, key: str, value) -> str:
        if isinstance(value, bool):
            return str(_("yes") if value else _("no"))
        if key in _PERCENT:
            return self.percent(value)
        if key == "multiply_accrual":
            return f"×{format_decimal(Decimal(str(value)), locale=self.locale)}"
        if key in _MONEY:
            return self.money(value)
        if key in _POINTS:
            return points_number(value, self.precision, self.locale)
        if key in _CHOICE:
            return str(CHOICES.get(f"{key}:{value}", CHOICES.get(value, value)))
        if key == "weekdays":
            names = get_day_names("abbreviated", locale=self.locale)
            return ", ".join(names[day - 1] for day in value)
        if key == "brackets":
            return "; ".join(f"{self.money(step['from'])}: {self.percent(step['percent'])}"
                             for step in value)
        if key == "point_value":
            return _("%(points)s points = %(money)s") % {
                "points": points_number(value["points"], self.precision, self.locale),
                "money": self.money(value["money"])}
        if isinstance(value, dict):
            return ", ".join(str(item) for item in value.values())
        if isinstance(value, list):
            return ", ".join(str(item) for item in value)
        return str(value)


def _named(config: dict, kind: str, code: str) -> str:
    return next((item.get("name", code) for item in config.get(kind, ())
                 if item.get("code") == code), code)


def changes(old: dict | None, new: dict, currency: str, locale: str) -> list[str]:
    """What changed from `old` to `new`, one sentence per change, in the active language."""
    if old is None:
        return [_("The first version of the program.")]
    before, after = _flatten(old), _flatten(new)
    old_words, new_words = _Words(old, currency, locale), _Words(new, currency, locale)
    lines: list[str] = []
    told: set[tuple] = set()  # added or removed tiers, rules and chains: one line each
    # In the configuration's own order (type first, tiers and rules last), removed ones after.
    for path in [*after, *(path for path in before if path not in after)]:
        was, now = before.get(path), after.get(path)
        if was == now:
            continue
        kind = path[0]
        if kind in _KEYED:
            code = path[1]
            exists_before = any(item.get("code") == code for item in old.get(kind, ()))
            exists_after = any(item.get("code") == code for item in new.get(kind, ()))
            if exists_before != exists_after:
                if (kind, code) not in told:
                    told.add((kind, code))
                    lines.append(_added_or_removed(kind, _named(new if exists_after else old,
                                                                kind, code), exists_after))
                continue
            name = _named(new, kind, code)
            rest = ".".join(str(part) for part in path[2:])
            what = LABELS.get(rest, rest.replace("_", " "))
            label = {"tiers": _("%(name)s tier %(what)s"), "rules": _("Rule %(name)s: %(what)s"),
                     "chains": _("Chain %(name)s: %(what)s")}[kind] % {"name": name,
                                                                       "what": what}
        else:
            dotted = ".".join(str(part) for part in path)
            label = str(LABELS.get(dotted, dotted.replace("_", " ")))
        key = str(path[-1])
        lines.append(_("%(what)s: %(old)s → %(new)s") % {
            "what": label,
            "old": "—" if was is None else old_words.value(key, was),
            "new": "—" if now is None else new_words.value(key, now)})
    return lines or [_("No changes.")]


def _added_or_removed(kind: str, name: str, added: bool) -> str:
    texts = {
        ("tiers", True): _("Tier %(name)s added."), ("tiers", False): _("Tier %(name)s removed."),
        ("rules", True): _("Rule %(name)s added."), ("rules", False): _("Rule %(name)s removed."),
        ("chains", True): _("Chain %(name)s added."),
        ("chains", False): _("Chain %(name)s removed."),
    }
    return texts[(kind, added)] % {"name": name}
