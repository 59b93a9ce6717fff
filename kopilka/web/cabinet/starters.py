"""Program templates for a first program: a few questions each, prefilled, that make a
`ProgramConfig` (kopilka/programs/config.py), and the program told in plain words.

Money is asked in the merchant's currency and stored in minor units; percentages stay exact
decimals. Names the program keeps (tiers, rules) are written in the merchant's language: the
views build the configuration with that language active.
"""

from dataclasses import dataclass
from decimal import Decimal

from babel.numbers import format_decimal, get_currency_precision
from django import forms
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from kopilka.programs.config import ProgramConfig
from kopilka.rewards import services as rewards
from kopilka.web.forms import Form
from kopilka.web.templatetags.kopilka import locale, money
from kopilka.web.templatetags.kopilka import points as format_points

AMOUNT = {"min_value": Decimal(0), "max_digits": 12, "decimal_places": 2}


def _percent(label, initial, **kwargs) -> forms.DecimalField:
    return forms.DecimalField(label=label, initial=Decimal(initial), min_value=Decimal(0),
                              max_value=Decimal(100), max_digits=5, decimal_places=2, **kwargs)


def _amount(label, initial, **kwargs) -> forms.DecimalField:
    return forms.DecimalField(label=label, initial=Decimal(initial), **AMOUNT, **kwargs)


def _number(value: Decimal) -> int | str:
    """An exact number for the configuration: an int when whole, else its decimal text."""
    return int(value) if value == value.to_integral_value() else str(value.normalize())


def _minor(amount: Decimal, currency: str) -> int:
    return int(amount.scaleb(get_currency_precision(currency)))


def _max_redeem():
    return _percent(gettext_lazy("Share of a check payable with points, %"), 50,
                    help_text=gettext_lazy("100: the whole check; 0: points are never spent."))


class CafeForm(Form):
    percent = _percent(gettext_lazy("Bonus on every purchase, %"), 5)
    welcome = _amount(gettext_lazy("Welcome gift, bonuses"), 100,
                      help_text=gettext_lazy("A new member gets it on joining; 0: no gift."))
    double_from = forms.TimeField(label=gettext_lazy("Double bonuses from"), required=False,
                                  initial="09:00",
                                  widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    double_to = forms.TimeField(label=gettext_lazy("Double bonuses until"), required=False,
                                initial="12:00",
                                widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
                                help_text=gettext_lazy("Leave both empty for no double hours."))
    max_redeem = _max_redeem()

    def clean(self):
        data = super().clean()
        start, end = data.get("double_from"), data.get("double_to")
        if (start is None) != (end is None):
            self.add_error("double_to" if end is None else "double_from",
                           _("Give both times, or leave both empty."))
        elif start is not None and start == end:
            self.add_error("double_to", _("The hours must end at another time than they start."))
        return data


class ShopForm(Form):
    bronze_name = forms.CharField(label=gettext_lazy("First level"), max_length=60,
                                  initial=gettext_lazy("Bronze"))
    bronze_percent = _percent(gettext_lazy("First level: bonus, %"), 5)
    silver_name = forms.CharField(label=gettext_lazy("Second level"), max_length=60,
                                  initial=gettext_lazy("Silver"))
    silver_percent = _percent(gettext_lazy("Second level: bonus, %"), 7)
    silver_from = _amount(gettext_lazy("Second level from total purchases of"), 5000)
    platinum_name = forms.CharField(label=gettext_lazy("Third level"), max_length=60,
                                    initial=gettext_lazy("Platinum"))
    platinum_percent = _percent(gettext_lazy("Third level: bonus, %"), 10)
    platinum_from = _amount(gettext_lazy("Third level from total purchases of"), 25000)
    max_redeem = _max_redeem()

    def clean(self):
        data = super().clean()
        silver, platinum = data.get("silver_from"), data.get("platinum_from")
        if silver is not None and silver <= 0:
            self.add_error("silver_from", _("The second level starts above zero."))
        elif silver is not None and platinum is not None and platinum <= silver:
            self.add_error("platinum_from",
                           _("The third level starts above the second level's amount."))
        names = [data.get(name) for name in ("bronze_name", "silver_name", "platinum_name")]
        if all(names) and len({name.strip().casefold() for name in names}) < 3:
            self.add_error("platinum_name", _("Give each level its own name."))
        return data


class DiscountForm(Form):
    start_percent = _percent(gettext_lazy("Discount for every member, %"), 3)
    higher_percent = _percent(gettext_lazy("Higher discount, %"), 5)
    higher_from = _amount(gettext_lazy("Higher discount from total purchases of"), 10000)

    def clean(self):
        data = super().clean()
        if data.get("higher_from") is not None and data["higher_from"] <= 0:
            self.add_error("higher_from", _("The higher discount starts above zero."))
        return data


class CurrencyForm(Form):
    ru_one = forms.CharField(label=gettext_lazy("In Russian: 1 …"), max_length=50,
                             initial="булавка")
    ru_few = forms.CharField(label=gettext_lazy("In Russian: 2 …"), max_length=50,
                             initial="булавки")
    ru_many = forms.CharField(label=gettext_lazy("In Russian: 5 …"), max_length=50,
                              initial="булавок")
    uk_one = forms.CharField(label=gettext_lazy("In Ukrainian: 1 …"), max_length=50,
                             initial="шпилька")
    uk_few = forms.CharField(label=gettext_lazy("In Ukrainian: 2 …"), max_length=50,
                             initial="шпильки")
    uk_many = forms.CharField(label=gettext_lazy("In Ukrainian: 5 …"), max_length=50,
                              initial="шпильок")
    en_one = forms.CharField(label=gettext_lazy("In English: 1 …"), max_length=50,
                             initial="pin")
    en_other = forms.CharField(label=gettext_lazy("In English: 5 …"), max_length=50,
                               initial="pins")
    value = forms.DecimalField(label=gettext_lazy("One of them is worth"), initial=Decimal("0.10"),
                               min_value=Decimal("0.01"), max_digits=12, decimal_places=2)
    percent = _percent(gettext_lazy("Earned on every purchase, %"), 5)
    welcome = forms.IntegerField(label=gettext_lazy("Welcome gift, how many"), initial=50,
                                 min_value=0, max_value=10**9)
    max_redeem = _max_redeem()


class RewardsCafeForm(Form):
    """Minter's café: whole points for purchases, spent only on the reward catalogue."""

    per = _amount(gettext_lazy("One point for every"), 300,
                  help_text=gettext_lazy("Of the check: a check of twice this earns 2 points."))
    welcome = forms.IntegerField(label=gettext_lazy("Welcome gift, points"), initial=1,
                                 min_value=0, max_value=1000)
    value = _amount(gettext_lazy("One point is worth"), 150,
                    help_text=gettext_lazy("What members see their points are worth."))
    coffee = forms.IntegerField(label=gettext_lazy("Coffee costs, points"), initial=1,
                                min_value=1, max_value=10**6)
    donut = forms.IntegerField(label=gettext_lazy("Donut costs, points"), initial=2,
                               min_value=1, max_value=10**6)
    cheesecake = forms.IntegerField(label=gettext_lazy("Cheesecake costs, points"), initial=3,
                                    min_value=1, max_value=10**6)

    def clean(self):
        data = super().clean()
        for name in ("per", "value"):
            if data.get(name) is not None and data[name] <= 0:
                self.add_error(name, _("Enter an amount above zero."))
        return data


@dataclass(frozen=True)
class Starter:
    key: str
    title: str
    pitch: str
    form: type[Form]

    def build(self, data: dict, currency: str) -> dict:
        return _BUILDERS[self.key](data, currency)

    def after_save(self, merchant, data: dict, *, actor) -> None:
        """What the template sets up beside the program (the café's reward catalogue)."""
        finish = _AFTER_SAVE.get(self.key)
        if finish is not None:
            finish(merchant, data, actor=actor)


def _cafe(data: dict, currency: str) -> dict:
    rules = []
    if data["double_from"] is not None:
        start, end = (data[name].strftime("%H:%M") for name in ("double_from", "double_to"))
        rules.append({"code": "double-hours",
                      "name": _("Double bonuses %(start)s–%(end)s") % {"start": start,
                                                                        "end": end},
                      "conditions": {"time_from": start, "time_to": end},
                      "effects": {"multiply_accrual": 2}})
    return {
        "type": "bonus",
        "max_redeem_percent": _number(data["max_redeem"]),
        "welcome_bonus": int(data["welcome"].scaleb(2)),  # bonuses with kopecks: precision 2
        "tiers": [{"code": "guest", "name": _("Guest"),
                   "accrual": {"kind": "percent", "percent": _number(data["percent"])}}],
        "rules": rules,
    }


def _shop(data: dict, currency: str) -> dict:
    return {
        "type": "bonus",
        "max_redeem_percent": _number(data["max_redeem"]),
        "tiers": [
            {"code": "bronze", "name": data["bronze_name"].strip(), "start": True,
             "accrual": {"kind": "percent", "percent": _number(data["bronze_percent"])}},
            {"code": "silver", "name": data["silver_name"].strip(),
             "threshold": _minor(data["silver_from"], currency),
             "accrual": {"kind": "percent", "percent": _number(data["silver_percent"])}},
            {"code": "platinum", "name": data["platinum_name"].strip(),
             "threshold": _minor(data["platinum_from"], currency),
             "accrual": {"kind": "percent", "percent": _number(data["platinum_percent"])}},
        ],
    }


def _discount(data: dict, currency: str) -> dict:
    start, higher = _number(data["start_percent"]), _number(data["higher_percent"])
    return {
        "type": "discount",
        "tiers": [
            {"code": "discount", "name": _("Discount %(percent)s %%") % {"percent": start},
             "discount": {"kind": "percent", "percent": start}},
            {"code": "discount-higher",
             "name": _("Discount %(percent)s %%") % {"percent": higher},
             "threshold": _minor(data["higher_from"], currency),
             "discount": {"kind": "percent", "percent": higher}},
        ],
    }


def _currency(data: dict, currency: str) -> dict:
    return {
        "type": "bonus",
        "currency_names": {
            "ru": {form: data[f"ru_{form}"].strip() for form in ("one", "few", "many")},
            "uk": {form: data[f"uk_{form}"].strip() for form in ("one", "few", "many")},
            "en": {form: data[f"en_{form}"].strip() for form in ("one", "other")},
        },
        "points_precision": 0,  # whole pins
        "point_value": str(_minor(data["value"], currency)),  # money minor units per pin
        "max_redeem_percent": _number(data["max_redeem"]),
        "welcome_bonus": data["welcome"],
        "tiers": [{"code": "member", "name": _("Member"),
                   "accrual": {"kind": "percent", "percent": _number(data["percent"])}}],
    }


def _rewards_cafe(data: dict, currency: str) -> dict:
    return {
        "type": "bonus",
        "points_precision": 0,  # whole points: a coffee is 1
        "point_value": str(_minor(data["value"], currency)),
        "max_redeem_percent": 0,  # points buy rewards from the catalogue, not checks
        "welcome_bonus": data["welcome"],
        "tiers": [{"code": "guest", "name": _("Guest"),
                   "accrual": {"kind": "per_amount", "points": 1,
                               "per": _minor(data["per"], currency)}}],
    }


def _rewards_cafe_items(merchant, data: dict, *, actor) -> None:
    """Coffee, donut, cheesecake in the catalogue, named in the merchant's language; a
    catalogue that has items already is left as it is."""
    if rewards.items(merchant).exists():
        return
    with translation.override(merchant.language):
        for name, key in ((_("Coffee"), "coffee"), (_("Donut"), "donut"),
                          (_("Cheesecake"), "cheesecake")):
            rewards.create_item(merchant, rewards.ItemInput(name=name, price=data[key]),
                                actor=actor)


_BUILDERS = {"cafe": _cafe, "shop": _shop, "discount": _discount, "currency": _currency,
             "rewards_cafe": _rewards_cafe}
_AFTER_SAVE = {"rewards_cafe": _rewards_cafe_items}

STARTERS = {starter.key: starter for starter in (
    Starter("cafe", gettext_lazy("Café"),
            gettext_lazy("5 % back in bonuses, a welcome gift, double bonuses from 9 to 12."),
            CafeForm),
    Starter("shop", gettext_lazy("Shop with levels"),
            gettext_lazy("Bronze, Silver, Platinum: 5, 7 and 10 %, as purchases add up to "
                         "5 000 and 25 000."),
            ShopForm),
    Starter("discount", gettext_lazy("Discount card"),
            gettext_lazy("A discount on every purchase: 3 %; once purchases reach 10 000, 5 %."),
            DiscountForm),
    Starter("currency", gettext_lazy("Your own bonus currency"),
            gettext_lazy("Points with your own name and rate: 1 pin = 0.10."),
            CurrencyForm),
    Starter("rewards_cafe", gettext_lazy("Café with a reward catalogue"),
            gettext_lazy("A point for every 300 spent; members pick a coffee for 1, a donut "
                         "for 2 or a cheesecake for 3 in their wallet."),
            RewardsCafeForm),
)}


# --- the program in words -----------------------------------------------------------------------


def _pct(value: Decimal) -> str:
    return f"{format_decimal(value, locale=locale())}\u00a0%"


def describe(config: ProgramConfig, currency: str, language: str) -> list[str]:
    """Sentences an owner reads to check the program: what members get, when, how much."""
    lines = []
    one_point = 10 ** config.points_precision
    worth = money(config.point_value.money * one_point // config.point_value.points, currency)
    if config.type != "discount":
        lines.append(_("1 %(one)s is worth %(worth)s.") % {
            "one": config.currency_word(language, one_point), "worth": worth})
    for tier in config.tiers:
        parts = []
        if tier.accrual is not None and tier.accrual.kind == "percent":
            parts.append(_("%(percent)s of every purchase back") % {
                "percent": _pct(tier.accrual.percent)})
        if tier.discount.kind == "percent":
            parts.append(_("a %(percent)s discount") % {"percent": _pct(tier.discount.percent)})
        what = ", ".join(parts) or _("see the settings")
        if tier.manual_only:
            lines.append(_("%(tier)s (given by staff): %(what)s.") % {"tier": tier.name,
                                                                     "what": what})
        elif tier.threshold:
            lines.append(_("%(tier)s, once purchases add up to %(amount)s: %(what)s.") % {
                "tier": tier.name, "amount": money(tier.threshold, currency), "what": what})
        else:
            lines.append(_("%(tier)s, from the first purchase: %(what)s.") % {
                "tier": tier.name, "what": what})
    for rule in config.rules:
        if not rule.active:
            continue
        effects, when = rule.effects, rule.conditions
        if effects.multiply_accrual is not None and when.time_from is not None:
            lines.append(_("From %(start)s to %(end)s bonuses are multiplied by %(factor)s.") % {
                "start": when.time_from.strftime("%H:%M"), "end": when.time_to.strftime("%H:%M"),
                "factor": format_decimal(effects.multiply_accrual, locale=locale())})
        else:
            lines.append(_("Rule: %(name)s.") % {"name": rule.name})
    if config.welcome_bonus:
        lines.append(_("A new member gets %(points)s as a welcome gift.")
                     % {"points": format_points(config.welcome_bonus, config)})
    if config.type != "discount":
        if config.max_redeem_percent >= 100:
            lines.append(_("Points can pay for the whole check."))
        elif config.max_redeem_percent > 0:
            lines.append(_("Points can pay up to %(percent)s of a check.")
                         % {"percent": _pct(config.max_redeem_percent)})
        else:
            lines.append(_("Points cannot be spent."))
        if config.expiry.mode == "none":
            lines.append(_("Points never expire."))
        elif config.expiry.mode == "after_accrual":
            lines.append(ngettext("Points expire %(days)d day after they are earned.",
                                  "Points expire %(days)d days after they are earned.",
                                  config.expiry.days) % {"days": config.expiry.days})
        elif config.expiry.mode == "after_last_purchase":
            lines.append(ngettext("Points expire %(days)d day after the member's last purchase.",
                                  "Points expire %(days)d days after the member's last purchase.",
                                  config.expiry.days) % {"days": config.expiry.days})
        else:
            lines.append(_("Points expire on fixed dates of the year."))
    return lines
