"""The program editor's forms: everything `ProgramConfig` can express, in the words and units
an owner uses (money in the currency, points as shown, percentages), split into sections.

`EditorForms` holds the main form, the tiers and the rules (formsets) and the example sale of
the preview. `config()` turns valid answers into a configuration dict, `initial()` turns a
configuration into answers; the configuration's own validation (Pydantic) then runs on the
result, and each of its errors is put next to the field it came from, in the user's language
(`place_errors`).
"""

import json
import re
from datetime import time
from decimal import Decimal
from fractions import Fraction

from babel.numbers import get_currency_precision
from django import forms
from django.core.exceptions import ValidationError
from django.forms import formset_factory
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from pydantic import ValidationError as PydanticError

from kopilka.programs.config import ProgramConfig
from kopilka.web.forms import Form

ROUNDING = [("down", gettext_lazy("Down")), ("half_up", gettext_lazy("To the nearest")),
            ("up", gettext_lazy("Up"))]
WEEKDAYS = [(1, gettext_lazy("Monday")), (2, gettext_lazy("Tuesday")),
            (3, gettext_lazy("Wednesday")), (4, gettext_lazy("Thursday")),
            (5, gettext_lazy("Friday")), (6, gettext_lazy("Saturday")),
            (7, gettext_lazy("Sunday"))]
#: "on Friday" as the preview's sentence says it (a case of its own in Russian and Ukrainian).
ON_WEEKDAY = {1: pgettext_lazy("preview", "on Monday"), 2: pgettext_lazy("preview", "on Tuesday"),
              3: pgettext_lazy("preview", "on Wednesday"),
              4: pgettext_lazy("preview", "on Thursday"), 5: pgettext_lazy("preview", "on Friday"),
              6: pgettext_lazy("preview", "on Saturday"), 7: pgettext_lazy("preview", "on Sunday")}
DECIMAL = {"inputmode": "decimal", "autocomplete": "off"}
NUMBER = {"inputmode": "numeric", "autocomplete": "off"}


def _percent(label, required=False, help_text="", **kwargs) -> forms.DecimalField:
    return forms.DecimalField(label=label, required=required, min_value=Decimal(0),
                              max_value=Decimal(100), max_digits=5, decimal_places=2,
                              localize=True, help_text=help_text,
                              widget=forms.TextInput(attrs=DECIMAL), **kwargs)


def _amount(label, required=False, help_text="") -> forms.DecimalField:
    """Money in the currency's units (1500.00); stored in minor units."""
    return forms.DecimalField(label=label, required=required, min_value=Decimal(0),
                              max_digits=14, decimal_places=2, localize=True,
                              help_text=help_text, widget=forms.TextInput(attrs=DECIMAL))


def _points(label, required=False, help_text="", min_value=0) -> forms.DecimalField:
    """Points as shown (75.5 with two decimals); stored in the program's minor units."""
    return forms.DecimalField(label=label, required=required, min_value=Decimal(min_value),
                              max_digits=14, decimal_places=2, localize=True,
                              help_text=help_text, widget=forms.TextInput(attrs=DECIMAL))


def _days(label, required=False, help_text="", min_value=1, max_value=3650) -> forms.IntegerField:
    return forms.IntegerField(label=label, required=required, min_value=min_value,
                              max_value=max_value, help_text=help_text,
                              widget=forms.TextInput(attrs=NUMBER))


def _time(label) -> forms.TimeField:
    return forms.TimeField(label=label, required=False,
                           widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))


def _words(label, max_length=50) -> forms.CharField:
    return forms.CharField(label=label, max_length=max_length)


class ProgramForm(Form):
    # Basics
    type = forms.ChoiceField(label=gettext_lazy("Kind of program"), choices=[
        ("bonus", gettext_lazy("Bonuses: members collect points and pay with them")),
        ("discount", gettext_lazy("Discount card: a discount on every purchase")),
        ("hybrid", gettext_lazy("Both: a discount and bonuses")),
    ], widget=forms.RadioSelect)
    point_value = forms.DecimalField(
        label=gettext_lazy("One point is worth"), min_value=Decimal("0.000001"), max_digits=16,
        decimal_places=6, localize=True, widget=forms.TextInput(attrs=DECIMAL),
        help_text=gettext_lazy("In your currency: 1 means one point pays 1.00."))
    points_precision = forms.TypedChoiceField(
        label=gettext_lazy("Points are counted"), coerce=int, choices=[
            (0, gettext_lazy("Whole: 75")), (1, gettext_lazy("With tenths: 75.5")),
            (2, gettext_lazy("With hundredths: 75.55"))])
    name_ru_one = _words(gettext_lazy("Russian: 1 …"))
    name_ru_few = _words(gettext_lazy("Russian: 2 …"))
    name_ru_many = _words(gettext_lazy("Russian: 5 …"))
    name_uk_one = _words(gettext_lazy("Ukrainian: 1 …"))
    name_uk_few = _words(gettext_lazy("Ukrainian: 2 …"))
    name_uk_many = _words(gettext_lazy("Ukrainian: 5 …"))
    name_en_one = _words(gettext_lazy("English: 1 …"))
    name_en_other = _words(gettext_lazy("English: 5 …"))
    accrual_rounding = forms.ChoiceField(label=gettext_lazy("Round bonuses"), choices=ROUNDING)
    discount_rounding = forms.ChoiceField(label=gettext_lazy("Round discounts"),
                                          choices=ROUNDING)
    accrue_on_points_paid = forms.BooleanField(
        label=gettext_lazy("Give bonuses on the part paid with points"), required=False)
    tier_refund_policy = forms.ChoiceField(label=gettext_lazy("After a refund the tier"),
                                           choices=[
        ("keep", gettext_lazy("Stays as reached")),
        ("recalculate", gettext_lazy("Is recalculated and may go down"))])
    # Expiry
    expiry_mode = forms.ChoiceField(label=gettext_lazy("Points expire"), choices=[
        ("none", gettext_lazy("Never")),
        ("after_accrual", gettext_lazy("A number of days after they were given")),
        ("after_last_purchase", gettext_lazy("A number of days after the last purchase")),
        ("fixed_dates", gettext_lazy("On fixed dates every year"))])
    expiry_days = _days(gettext_lazy("Days until they expire"))
    expiry_dates = forms.CharField(
        label=gettext_lazy("Dates (month-day)"), required=False, max_length=400,
        help_text=gettext_lazy("For example 12-31, 06-30."))
    activation_delay_days = _days(gettext_lazy("New bonuses can be spent after, days"),
                                  required=True, min_value=0, max_value=365,
                                  help_text=gettext_lazy("0: at once."))
    expiry_warning_days = _days(gettext_lazy("Warn the cashier, days before expiry"),
                                required=True, min_value=0, max_value=365)
    expiry_reminder_days = _days(gettext_lazy("Remind the member, days before expiry"),
                                 required=True, min_value=0, max_value=365,
                                 help_text=gettext_lazy("0: no reminders."))
    # Gifts
    welcome_bonus = _points(gettext_lazy("Welcome bonus"),
                            help_text=gettext_lazy("On joining; empty or 0: none."))
    welcome_validity_days = _days(gettext_lazy("Welcome bonus valid, days"),
                                  help_text=gettext_lazy("Empty: like other points."))
    birthday_percent = _percent(gettext_lazy("Extra bonus around the birthday, %"),
                                help_text=gettext_lazy("Empty: none."))
    birthday_days_before = _days(gettext_lazy("Days before the birthday"), min_value=0,
                                 max_value=31)
    birthday_days_after = _days(gettext_lazy("Days after the birthday"), min_value=0,
                                max_value=31)
    birthday_gift_points = _points(gettext_lazy("Birthday gift"), min_value=0)
    birthday_gift_days = _days(gettext_lazy("Birthday gift valid, days"))
    first_gift_points = _points(gettext_lazy("Gift with the first purchase"))
    first_gift_days = _days(gettext_lazy("First purchase gift valid, days"))
    join_gift_points = _points(gettext_lazy("Gift for joining by your link or QR poster"))
    join_gift_days = _days(gettext_lazy("Joining gift valid, days"))
    relative_gift_points = _points(gettext_lazy("Gift on a relative's birthday"))
    relative_gift_days = _days(gettext_lazy("Relative's birthday gift valid, days"))
    # Limits
    max_redeem_percent = _percent(gettext_lazy("Share of a check payable with points, %"),
                                  required=True,
                                  help_text=gettext_lazy("100: the whole check; 0: points are "
                                                         "never spent."))
    redeem_requires_code = forms.BooleanField(
        label=gettext_lazy("Spending points needs a code sent to the member"), required=False)
    max_total_accrual_percent = _percent(
        gettext_lazy("Bonuses never exceed (percent of a line)"),
        help_text=gettext_lazy("A cap after all rules; empty: no cap."))
    transfers_enabled = forms.BooleanField(
        label=gettext_lazy("Members may send points to each other"), required=False)
    transfers_min = _points(gettext_lazy("Smallest transfer"))
    transfers_max = _points(gettext_lazy("Largest transfer"),
                            help_text=gettext_lazy("Empty: no limit."))
    transfers_per_day = _points(gettext_lazy("Most a member sends a day"),
                                help_text=gettext_lazy("Empty: no limit."))
    transfers_code = forms.BooleanField(
        label=gettext_lazy("Sending points needs a code sent to the sender"), required=False)
    winback_window_days = _days(gettext_lazy("A purchase counts as won back within, days"),
                                required=True)
    # Advanced
    chains = forms.CharField(
        label=gettext_lazy("Inactivity chains (JSON)"), required=False,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
        help_text=gettext_lazy("Messages and gifts for members who stopped coming; see the "
                               "rules guide."))

    def clean_chains(self):
        text = self.cleaned_data["chains"].strip()
        if not text:
            return []
        try:
            value = json.loads(text)
        except ValueError:
            raise ValidationError(_("This is not valid JSON.")) from None
        if not isinstance(value, list):
            raise ValidationError(_("Write a list: [ … ]."))
        return value

    def clean_expiry_dates(self):
        text = self.cleaned_data["expiry_dates"]
        return [part.strip() for part in re.split(r"[,;\s]+", text) if part.strip()]


SECTIONS = [
    ("basics", gettext_lazy("Basics"), [
        "type", "point_value", "points_precision", "accrual_rounding", "discount_rounding",
        "accrue_on_points_paid", "tier_refund_policy"]),
    ("names", gettext_lazy("The points' name"), [
        "name_ru_one", "name_ru_few", "name_ru_many", "name_uk_one", "name_uk_few",
        "name_uk_many", "name_en_one", "name_en_other"]),
    ("expiry", gettext_lazy("Expiry"), [
        "expiry_mode", "expiry_days", "expiry_dates", "activation_delay_days",
        "expiry_warning_days", "expiry_reminder_days"]),
    ("gifts", gettext_lazy("Gifts"), [
        "welcome_bonus", "welcome_validity_days", "birthday_percent", "birthday_days_before",
        "birthday_days_after", "birthday_gift_points", "birthday_gift_days",
        "first_gift_points", "first_gift_days", "join_gift_points", "join_gift_days",
        "relative_gift_points", "relative_gift_days"]),
    ("limits", gettext_lazy("Limits"), [
        "max_redeem_percent", "redeem_requires_code", "max_total_accrual_percent",
        "transfers_enabled", "transfers_min", "transfers_max", "transfers_per_day",
        "transfers_code",
        "winback_window_days"]),
    ("advanced", gettext_lazy("Advanced"), ["chains"]),
]

ACCRUAL_KINDS = [("percent", gettext_lazy("A percent of the purchase")),
                 ("per_amount", gettext_lazy("Points for every full amount")),
                 ("progressive", gettext_lazy("A percent by the check's amount"))]
DISCOUNT_KINDS = [("none", gettext_lazy("No discount")),
                  ("percent", gettext_lazy("A percent")),
                  ("progressive", gettext_lazy("A percent by the check's amount"))]


class TierForm(Form):
    code = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)
    name = forms.CharField(label=gettext_lazy("Tier name"), max_length=200)
    threshold = _amount(gettext_lazy("Reached when purchases total"),
                        help_text=gettext_lazy("0 for the first tier."))
    accrual_kind = forms.ChoiceField(label=gettext_lazy("Bonuses"), choices=ACCRUAL_KINDS,
                                     initial="percent")
    accrual_percent = _percent(gettext_lazy("Bonus, %"))
    per_points = _points(gettext_lazy("Points"))
    per_amount = _amount(gettext_lazy("For every full"))
    accrual_steps = forms.CharField(
        label=gettext_lazy("Bonus steps"), required=False, max_length=1000,
        help_text=gettext_lazy("From amount: percent; for example 0: 3; 1000: 5"))
    discount_kind = forms.ChoiceField(label=gettext_lazy("Discount"), choices=DISCOUNT_KINDS,
                                      initial="none")
    discount_percent = _percent(gettext_lazy("Discount, %"))
    discount_steps = forms.CharField(
        label=gettext_lazy("Discount steps"), required=False, max_length=1000,
        help_text=gettext_lazy("From amount: percent; for example 0: 3; 1000: 5"))
    start = forms.BooleanField(label=gettext_lazy("New members start here"), required=False)
    manual_only = forms.BooleanField(label=gettext_lazy("Only staff can give this tier"),
                                     required=False)

    def clean_accrual_steps(self):
        return _steps(self.cleaned_data["accrual_steps"])

    def clean_discount_steps(self):
        return _steps(self.cleaned_data["discount_steps"])


_STEP = re.compile(r"^\s*([\d\s\u00a0\u202f]+(?:[.,]\d{1,2})?)\s*:"
                   r"\s*(\d+(?:[.,]\d{1,2})?)\s*%?\s*$")


def _steps(text: str) -> list[tuple[Decimal, Decimal]]:
    steps = []
    for part in (part for part in text.split(";") if part.strip()):
        match = _STEP.match(part)
        if match is None:
            raise ValidationError(_("Write steps as “from amount: percent”, separated by "
                                    "semicolons: 0: 3; 1000: 5"))
        amount = re.sub(r"[\s\u00a0\u202f]", "", match[1]).replace(",", ".")
        steps.append((Decimal(amount), Decimal(match[2].replace(",", "."))))
    return steps


class RuleForm(Form):
    code = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)
    rest = forms.CharField(required=False, widget=forms.HiddenInput)  # conditions not shown
    name = forms.CharField(label=gettext_lazy("Rule name"), max_length=200)
    active = forms.BooleanField(label=gettext_lazy("On"), required=False, initial=True)
    priority = forms.IntegerField(label=gettext_lazy("Priority"), initial=0, required=False,
                                  min_value=-1000, max_value=1000,
                                  widget=forms.TextInput(attrs=NUMBER),
                                  help_text=gettext_lazy("Higher wins when rules disagree."))
    product_groups = forms.CharField(label=gettext_lazy("Product groups"), required=False,
                                     max_length=1000,
                                     help_text=gettext_lazy("Separated by commas; empty: all."))
    weekdays = forms.TypedMultipleChoiceField(label=gettext_lazy("Days"), coerce=int,
                                              choices=WEEKDAYS, required=False,
                                              widget=forms.CheckboxSelectMultiple)
    time_from = _time(gettext_lazy("From"))
    time_to = _time(gettext_lazy("Until"))
    date_from = forms.DateField(label=gettext_lazy("First day"), required=False,
                                widget=forms.DateInput(attrs={"type": "date"},
                                                       format="%Y-%m-%d"))
    date_to = forms.DateField(label=gettext_lazy("Last day"), required=False,
                              widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    tiers = forms.MultipleChoiceField(label=gettext_lazy("Only for tiers"), required=False,
                                      widget=forms.CheckboxSelectMultiple)
    multiply_accrual = forms.DecimalField(
        label=gettext_lazy("Multiply bonuses by"), required=False, min_value=Decimal(0),
        max_value=Decimal(100), max_digits=5, decimal_places=2, localize=True,
        widget=forms.TextInput(attrs=DECIMAL))
    add_percent = _percent(gettext_lazy("Add to the bonus, %"))
    set_percent = _percent(gettext_lazy("Bonus instead, %"))
    fixed_points_per_line = _points(gettext_lazy("Points for each line"))
    fixed_points_per_check = _points(gettext_lazy("Points for the check"))
    max_redeem_percent = _percent(gettext_lazy("Payable with points, %"))
    points_validity_days = _days(gettext_lazy("These bonuses valid, days"))
    exclude_from_accrual = forms.BooleanField(label=gettext_lazy("No bonuses at all"),
                                              required=False)

    def __init__(self, *args, tier_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tiers"].choices = list(tier_choices)


class PreviewForm(Form):
    """The example sale the preview tells about."""

    amount = _amount(gettext_lazy("Purchase"), required=True)
    weekday = forms.TypedChoiceField(label=gettext_lazy("Day"), coerce=int, choices=WEEKDAYS,
                                     initial=5)
    at = forms.TimeField(label=pgettext_lazy("preview", "Time"), initial=time(10, 0),
                         widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    tier = forms.ChoiceField(label=gettext_lazy("Member's tier"))

    def __init__(self, *args, tier_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tier"].choices = list(tier_choices)
        self.fields["amount"].initial = Decimal("1500.00")


TierFormSet = formset_factory(TierForm, extra=1, can_delete=True, max_num=50)
RuleFormSet = formset_factory(RuleForm, extra=1, can_delete=True, max_num=200)

# --- configuration ⇄ answers ---------------------------------------------------------------------


def _number(value: Decimal) -> int | str:
    return int(value) if value == value.to_integral_value() else str(value.normalize())


def _minor(value: Decimal, places: int) -> int:
    return int(value.scaleb(places).to_integral_value())


def _major(value: int, places: int) -> Decimal:
    return Decimal(value).scaleb(-places)


class EditorForms:
    """The editor's forms, bound to a POST or prefilled from a configuration."""

    def __init__(self, currency: str, config: ProgramConfig | None, data=None):
        self.currency = currency
        self.money_places = get_currency_precision(currency)
        self.saved = config
        self.tier_choices = [(tier.code, tier.name) for tier in config.tiers] if config else []
        initial = self.initial(config) if config else {}
        self.program = ProgramForm(data, initial=initial.get("program"))
        self.tiers = TierFormSet(data, prefix="tier", initial=initial.get("tiers"))
        self.rules = RuleFormSet(data, prefix="rule", initial=initial.get("rules"),
                                 form_kwargs={"tier_choices": self.tier_choices})
        self.preview = PreviewForm(data, prefix="preview", tier_choices=self.tier_choices,
                                   initial={"tier": config.start_tier.code if config else None})
        self.paths: dict[tuple, tuple[forms.Form, str]] = {}  # config path -> (form, field)

    def read_only(self) -> None:
        """For a role that may look but not change: every answer shown, none editable."""
        for form in (self.program, *self.tiers.forms, *self.rules.forms):
            for field in form.fields.values():
                field.disabled = True

    @property
    def points_places(self) -> int:
        if self.program.is_bound and self.program.is_valid():
            return self.program.cleaned_data["points_precision"]
        return self.saved.points_precision if self.saved else 2

    def is_valid(self) -> bool:
        valid = [self.program.is_valid(), self.tiers.is_valid(), self.rules.is_valid()]
        return all(valid)

    def sections(self) -> list[dict]:
        return [{"key": key, "title": title, "fields": [self.program[name] for name in names]}
                for key, title, names in SECTIONS]

    # answers -> configuration

    def _points(self, value: Decimal | None, form: forms.Form, field: str) -> int | None:
        if value is None:
            return None
        places = self.points_places
        minor = value.scaleb(places)
        if minor != minor.to_integral_value():
            form.add_error(field, _("Points are counted with %(places)s decimal places here.")
                           % {"places": places})
            return None
        return int(minor)

    def _money(self, value: Decimal | None) -> int | None:
        return None if value is None else _minor(value, self.money_places)

    def config(self) -> dict | None:
        """The configuration the valid answers describe, or None (errors on the forms)."""
        if not self.is_valid():
            return None
        data = self.program.cleaned_data
        program_type = data["type"]
        places = self.points_places
        value = Fraction(data["point_value"]) * 10 ** self.money_places / 10 ** places
        config = {
            "type": program_type,
            "currency_names": {
                "ru": {"one": data["name_ru_one"], "few": data["name_ru_few"],
                       "many": data["name_ru_many"]},
                "uk": {"one": data["name_uk_one"], "few": data["name_uk_few"],
                       "many": data["name_uk_many"]},
                "en": {"one": data["name_en_one"], "other": data["name_en_other"]},
            },
            "point_value": {"money": value.numerator, "points": value.denominator},
            "points_precision": places,
            "accrual_rounding": data["accrual_rounding"],
            "discount_rounding": data["discount_rounding"],
            "accrue_on_points_paid": data["accrue_on_points_paid"],
            "max_redeem_percent": _number(data["max_redeem_percent"]),
            "redeem_requires_code": data["redeem_requires_code"],
            "activation_delay_days": data["activation_delay_days"],
            "expiry_warning_days": data["expiry_warning_days"],
            "expiry_reminder_days": data["expiry_reminder_days"],
            "welcome_bonus": self._points(data.get("welcome_bonus"), self.program,
                                          "welcome_bonus") or 0,
            "welcome_validity_days": data["welcome_validity_days"],
            "tier_refund_policy": data["tier_refund_policy"],
            "winback_window_days": data["winback_window_days"],
            "chains": data["chains"],
        }
        paths = {("point_value",): "point_value", ("max_redeem_percent",): "max_redeem_percent",
                 ("welcome_bonus",): "welcome_bonus", ("chains",): "chains",
                 ("welcome_validity_days",): "welcome_validity_days",
                 ("expiry",): "expiry_mode", ("birthday",): "birthday_percent",
                 ("transfers",): "transfers_max", ("currency_names",): "name_ru_one"}
        mode = data["expiry_mode"]
        expiry = {"mode": mode}
        if mode in ("after_accrual", "after_last_purchase"):
            expiry["days"] = data.get("expiry_days")
            if expiry["days"] is None:
                self.program.add_error("expiry_days", _("How many days?"))
        elif mode == "fixed_dates":
            expiry["dates"] = data.get("expiry_dates")
            if not expiry["dates"]:
                self.program.add_error("expiry_dates", _("Which dates?"))
        config["expiry"] = expiry
        paths[("expiry", "days")] = "expiry_days"
        paths[("expiry", "dates")] = "expiry_dates"
        if data["birthday_percent"] is not None:
            config["birthday"] = {"extra_percent": _number(data["birthday_percent"]),
                                  "days_before": data["birthday_days_before"] or 0,
                                  "days_after": data["birthday_days_after"] or 0}
        for key, points_field, days_field in (
                ("birthday_gift", "birthday_gift_points", "birthday_gift_days"),
                ("first_purchase_gift", "first_gift_points", "first_gift_days"),
                ("self_registration_gift", "join_gift_points", "join_gift_days"),
                ("relative_birthday_gift", "relative_gift_points", "relative_gift_days")):
            points = self._points(data.get(points_field), self.program, points_field)
            if points:
                days = data.get(days_field)
                if days is None:
                    self.program.add_error(days_field, _("How many days is the gift valid?"))
                config[key] = {"points": points, "validity_days": days}
            paths[(key,)] = points_field
            paths[(key, "points")] = points_field
            paths[(key, "validity_days")] = days_field
        if data["max_total_accrual_percent"] is not None:
            config["max_total_accrual_percent"] = _number(data["max_total_accrual_percent"])
        if data["transfers_enabled"]:
            config["transfers"] = {
                "enabled": True,
                "min_points": self._points(data.get("transfers_min"), self.program,
                                           "transfers_min") or 1,
                "max_points": self._points(data.get("transfers_max"), self.program,
                                           "transfers_max") or None,
                "max_points_per_day": self._points(data.get("transfers_per_day"), self.program,
                                                   "transfers_per_day") or None,
                "confirm_by_code": bool(data.get("transfers_code")),
            }
        for path, field in paths.items():
            self.paths[path] = (self.program, field)
        for name in ("birthday_percent", "birthday_days_before", "birthday_days_after"):
            self.paths[("birthday", name.removeprefix("birthday_").replace(
                "percent", "extra_percent"))] = (self.program, name)
        for name, key in (("transfers_min", "min_points"), ("transfers_max", "max_points"),
                          ("transfers_per_day", "max_points_per_day")):
            self.paths[("transfers", key)] = (self.program, name)
        config["tiers"] = self._tiers(program_type)
        config["rules"] = self._rules()
        if not self.is_valid():  # a unit or a missing answer found above
            return None
        return config

    def _kept(self, formset) -> list[forms.Form]:
        """The formset's filled-in forms not marked for deletion (a blank extra one has no
        cleaned data)."""
        return [form for form in formset.forms
                if form.cleaned_data and not form.cleaned_data.get("DELETE")]

    def _tiers(self, program_type: str) -> list[dict]:
        tiers = []
        kept = self._kept(self.tiers)
        taken = {form.cleaned_data["code"] for form in kept if form.cleaned_data["code"]}
        for form in kept:
            data = form.cleaned_data
            code = data["code"] or _code(data["name"], taken, "tier")
            taken.add(code)
            index = len(tiers)
            tier = {"code": code, "name": data["name"],
                    "threshold": self._money(data["threshold"]) or 0,
                    "start": data["start"], "manual_only": data["manual_only"]}
            if program_type != "discount":
                kind = data["accrual_kind"]
                if kind == "percent":
                    percent = data.get("accrual_percent")
                    if percent is None:
                        form.add_error("accrual_percent", _("What percent?"))
                    tier["accrual"] = {"kind": kind, "percent": _number(percent or Decimal(0))}
                elif kind == "per_amount":
                    points = self._points(data.get("per_points"), form, "per_points")
                    per = self._money(data.get("per_amount"))
                    if not points:
                        form.add_error("per_points", _("How many points?"))
                    if not per:
                        form.add_error("per_amount", _("For what amount?"))
                    tier["accrual"] = {"kind": kind, "points": points or 1, "per": per or 1}
                else:
                    tier["accrual"] = {"kind": kind,
                                       "brackets": self._brackets(data.get("accrual_steps", []))}
            if program_type != "bonus":
                kind = data["discount_kind"]
                if kind == "percent":
                    percent = data.get("discount_percent")
                    if percent is None:
                        form.add_error("discount_percent", _("What percent?"))
                    tier["discount"] = {"kind": kind, "percent": _number(percent or Decimal(0))}
                elif kind == "progressive":
                    tier["discount"] = {"kind": kind,
                                        "brackets": self._brackets(data.get("discount_steps",
                                                                            []))}
                else:
                    tier["discount"] = {"kind": "none"}
            for path, field in {
                ("code",): "name", ("name",): "name", ("threshold",): "threshold",
                ("accrual",): "accrual_kind", ("accrual", "percent"): "accrual_percent",
                ("accrual", "points"): "per_points", ("accrual", "per"): "per_amount",
                ("accrual", "brackets"): "accrual_steps", ("discount",): "discount_kind",
                ("discount", "percent"): "discount_percent",
                ("discount", "brackets"): "discount_steps", ("start",): "start",
                ("manual_only",): "manual_only",
            }.items():
                self.paths[("tiers", index, *path)] = (form, field)
            tiers.append(tier)
        if not tiers:
            self.program.add_error(None, _("The program needs at least one tier."))
        return tiers

    def _brackets(self, steps) -> list[dict]:
        return [{"from": self._money(amount), "percent": _number(percent)}
                for amount, percent in steps]

    def _rules(self) -> list[dict]:
        rules = []
        kept = self._kept(self.rules)
        taken = {form.cleaned_data["code"] for form in kept if form.cleaned_data["code"]}
        for form in kept:
            data = form.cleaned_data
            code = data["code"] or _code(data["name"], taken, "rule")
            taken.add(code)
            index = len(rules)
            try:
                conditions = json.loads(data["rest"]) if data["rest"] else {}
            except ValueError:
                conditions = {}
            if not isinstance(conditions, dict):
                conditions = {}
            groups = [part.strip() for part in data["product_groups"].split(",")
                      if part.strip()]
            for key, value in (("product_groups", groups or None),
                               ("weekdays", data["weekdays"] or None),
                               ("time_from", _clock(data["time_from"])),
                               ("time_to", _clock(data["time_to"])),
                               ("date_from", data["date_from"] and data["date_from"].isoformat()),
                               ("date_to", data["date_to"] and data["date_to"].isoformat()),
                               ("tiers", data["tiers"] or None)):
                if value is not None:
                    conditions[key] = value
            effects = {}
            for key in ("multiply_accrual", "add_percent", "set_percent", "max_redeem_percent"):
                if data[key] is not None:
                    effects[key] = _number(data[key])
            for key in ("fixed_points_per_line", "fixed_points_per_check"):
                points = self._points(data.get(key), form, key)
                if points is not None:
                    effects[key] = points
            if data["points_validity_days"] is not None:
                effects["points_validity_days"] = data["points_validity_days"]
            if data["exclude_from_accrual"]:
                effects["exclude_from_accrual"] = True
            rules.append({"code": code, "name": data["name"], "active": data["active"],
                          "priority": data["priority"] or 0, "conditions": conditions,
                          "effects": effects})
            self.paths[("rules", index)] = (form, "name")
            for key in ("name", "active", "priority"):
                self.paths[("rules", index, key)] = (form, key)
            for key in ("product_groups", "weekdays", "time_from", "time_to", "date_from",
                        "date_to", "tiers"):
                self.paths[("rules", index, "conditions", key)] = (form, key)
            self.paths[("rules", index, "conditions")] = (form, "time_from")
            self.paths[("rules", index, "effects")] = (form, "multiply_accrual")
            for key in effects:
                self.paths[("rules", index, "effects", key)] = (form, key)
        return rules

    # configuration -> answers

    def initial(self, config: ProgramConfig) -> dict:
        places, money_places = config.points_precision, self.money_places
        names = config.currency_names
        value = config.point_value
        worth = Decimal(value.money * 10 ** places) / Decimal(value.points) \
            / Decimal(10 ** money_places)

        def points(amount):
            return None if amount is None else _major(amount, places)

        expiry = config.expiry
        program = {
            "type": config.type, "point_value": worth.normalize() if worth % 1 else int(worth),
            "points_precision": places,
            "name_ru_one": names.ru.one, "name_ru_few": names.ru.few,
            "name_ru_many": names.ru.many, "name_uk_one": names.uk.one,
            "name_uk_few": names.uk.few, "name_uk_many": names.uk.many,
            "name_en_one": names.en.one, "name_en_other": names.en.other,
            "accrual_rounding": config.accrual_rounding,
            "discount_rounding": config.discount_rounding,
            "accrue_on_points_paid": config.accrue_on_points_paid,
            "tier_refund_policy": config.tier_refund_policy,
            "expiry_mode": expiry.mode, "expiry_days": getattr(expiry, "days", None),
            "expiry_dates": ", ".join(getattr(expiry, "dates", ())),
            "activation_delay_days": config.activation_delay_days,
            "expiry_warning_days": config.expiry_warning_days,
            "expiry_reminder_days": config.expiry_reminder_days,
            "welcome_bonus": points(config.welcome_bonus),
            "welcome_validity_days": config.welcome_validity_days,
            "max_redeem_percent": config.max_redeem_percent,
            "redeem_requires_code": config.redeem_requires_code,
            "max_total_accrual_percent": config.max_total_accrual_percent,
            "winback_window_days": config.winback_window_days,
            "chains": json.dumps([chain.model_dump(mode="json", exclude_none=True)
                                  for chain in config.chains], ensure_ascii=False, indent=1)
            if config.chains else "",
        }
        if config.birthday:
            program.update(birthday_percent=config.birthday.extra_percent,
                           birthday_days_before=config.birthday.days_before,
                           birthday_days_after=config.birthday.days_after)
        for gift, points_field, days_field in (
                (config.birthday_gift, "birthday_gift_points", "birthday_gift_days"),
                (config.first_purchase_gift, "first_gift_points", "first_gift_days"),
                (config.self_registration_gift, "join_gift_points", "join_gift_days"),
                (config.relative_birthday_gift, "relative_gift_points", "relative_gift_days")):
            if gift:
                program[points_field] = points(gift.points)
                program[days_field] = gift.validity_days
        if config.transfers:
            program.update(transfers_enabled=config.transfers.enabled,
                           transfers_min=points(config.transfers.min_points),
                           transfers_max=points(config.transfers.max_points),
                           transfers_per_day=points(config.transfers.max_points_per_day),
                           transfers_code=config.transfers.confirm_by_code)

        def steps(brackets):
            return "; ".join(f"{_plain(_major(step.from_amount, money_places))}: "
                             f"{_plain(step.percent)}" for step in brackets)

        tiers = []
        for tier in config.tiers:
            answers = {"code": tier.code, "name": tier.name,
                       "threshold": _major(tier.threshold, money_places),
                       "start": tier.start, "manual_only": tier.manual_only,
                       "discount_kind": tier.discount.kind}
            accrual = tier.accrual
            if accrual is not None:
                answers["accrual_kind"] = accrual.kind
                if accrual.kind == "percent":
                    answers["accrual_percent"] = accrual.percent
                elif accrual.kind == "per_amount":
                    answers["per_points"] = points(accrual.points)
                    answers["per_amount"] = _major(accrual.per, money_places)
                else:
                    answers["accrual_steps"] = steps(accrual.brackets)
            if tier.discount.kind == "percent":
                answers["discount_percent"] = tier.discount.percent
            elif tier.discount.kind == "progressive":
                answers["discount_steps"] = steps(tier.discount.brackets)
            tiers.append(answers)
        rules = []
        shown = {"product_groups", "weekdays", "time_from", "time_to", "date_from", "date_to",
                 "tiers"}
        for rule in config.rules:
            cond, eff = rule.conditions, rule.effects
            rest = {key: value for key, value in cond.model_dump(
                mode="json", exclude_none=True).items() if key not in shown}
            answers = {"code": rule.code, "name": rule.name, "active": rule.active,
                       "priority": rule.priority,
                       "rest": json.dumps(rest, ensure_ascii=False) if rest else "",
                       "product_groups": ", ".join(cond.product_groups or ()),
                       "weekdays": list(cond.weekdays or ()), "time_from": cond.time_from,
                       "time_to": cond.time_to, "date_from": cond.date_from,
                       "date_to": cond.date_to, "tiers": list(cond.tiers or ()),
                       "multiply_accrual": eff.multiply_accrual, "add_percent": eff.add_percent,
                       "set_percent": eff.set_percent,
                       "fixed_points_per_line": points(eff.fixed_points_per_line),
                       "fixed_points_per_check": points(eff.fixed_points_per_check),
                       "max_redeem_percent": eff.max_redeem_percent,
                       "points_validity_days": eff.points_validity_days,
                       "exclude_from_accrual": eff.exclude_from_accrual}
            rules.append(answers)
        return {"program": program, "tiers": tiers, "rules": rules}

    # the configuration's own errors, next to their fields

    def validate(self, config: dict) -> ProgramConfig | None:
        try:
            return ProgramConfig.model_validate(config)
        except PydanticError as error:
            for item in error.errors():
                self.place_error(tuple(item["loc"]), item)
            return None

    def place_error(self, loc: tuple, item: dict) -> None:
        message = str(item.get("ctx", {}).get("error", item["msg"]))
        # A discriminated union puts its tag in the path: tiers.1.accrual.progressive.brackets.
        loc = tuple(part for i, part in enumerate(loc)
                    if not (i and loc[i - 1] in _UNIONS and part in _TAGS))
        # A list's own validator names the item in its message: tiers[2].threshold ...
        named = re.match(r"^(tiers|rules|chains)\[(\d+)\]\.([\w.]+)", message)
        if len(loc) == 1 and named:
            loc = (named[1], int(named[2]), *named[3].split("."))
        while loc and loc not in self.paths:
            loc = loc[:-1]
        form, field = self.paths.get(loc, (self.program, None))
        if field is not None and field in form.errors:
            return  # one message per field is enough
        form.add_error(field, plain_words(item, message))


_UNIONS = {"accrual", "discount", "expiry", "segment"}
_TAGS = {"percent", "per_amount", "progressive", "none", "after_accrual", "after_last_purchase",
         "fixed_dates", "new", "one_time", "regular", "vip", "tier", "tag", "all"}


def plain_words(item: dict, message: str) -> str:
    """A Pydantic error in the user's language."""
    ctx = item.get("ctx", {})
    kind = item["type"]
    by_kind = {
        "greater_than_equal": _("Must be at least %(limit)s."),
        "greater_than": _("Must be more than %(limit)s."),
        "less_than_equal": _("Must be at most %(limit)s."),
        "less_than": _("Must be less than %(limit)s."),
        "string_too_long": _("Too long."),
        "string_too_short": _("Required."),
        "missing": _("Required."),
        "string_pattern_mismatch": _("Use Latin letters, digits, dots, dashes and "
                                     "underscores."),
        "decimal_max_places": _("At most two decimal places."),
        "too_long": _("Too many."),
    }
    if kind in by_kind:
        limit = ctx.get("ge", ctx.get("gt", ctx.get("le", ctx.get("lt", ""))))
        return by_kind[kind] % {"limit": limit}
    known = [
        ("greater than the previous automatic tier", _("Must be more than the previous tier's "
                                                       "threshold.")),
        ("the first automatic tier is where", _("The first tier starts at 0.")),
        ("a manual_only tier is never reached", _("A tier only staff can give has no "
                                                  "threshold: write 0.")),
        ("is used twice", _("Give each one its own name.")),
        ("accrual is required", _("Set the bonuses: this program gives points.")),
        ("only one tier can be the start tier", _("New members can start in one tier only.")),
        ("from must be 0", _("The first step starts at 0.")),
        ("must be greater than brackets", _("Each step starts above the previous one.")),
        ("at least one bracket", _("Write at least one step.")),
        ("time_from and time_to must differ", _("“From” and “until” must differ.")),
        ("date_from must not be after", _("The first day must not be after the last day.")),
        ("a rule needs at least one effect", _("Say what the rule does: multiply, add or "
                                               "set bonuses, points, or no bonuses.")),
        ("max_points must not be below", _("Must not be below the smallest transfer.")),
        ("unknown tier", _("No such tier.")),
        ("birthday_window needs", _("Set the birthday bonus first.")),
        ("must be a calendar date", _("Write dates as month-day, for example 12-31.")),
        ("must not repeat", _("The dates repeat.")),
        ("must not be empty", _("Required.")),
    ]
    for needle, text in known:
        if needle in message:
            return text
    return _("This value does not fit: %(detail)s") % {"detail": message}


def _code(name: str, taken: set[str], fallback: str) -> str:
    base = (slugify(name, allow_unicode=False) or fallback)[:56]
    if not re.match(r"^[A-Za-z0-9]", base):
        base = f"{fallback}-{base}"
    code, n = base, 2
    while code in taken:
        code, n = f"{base}-{n}", n + 1
    return code


def _clock(value: time | None) -> str | None:
    return None if value is None else value.strftime("%H:%M")


def _plain(value: Decimal) -> str:
    value = Decimal(value)
    return str(int(value)) if value == value.to_integral_value() else str(value.normalize())
