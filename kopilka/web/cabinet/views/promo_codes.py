"""Promo codes in the cabinet (Campaigns tab, #18): the list with each code's uses and revenue,
a new code, one code with its figures and the switch to turn it off. The cashier gives a code
with a sale on the counter's sale form (or the POS API's `promo_code`)."""

from decimal import Decimal, InvalidOperation

from babel.numbers import get_currency_precision
from django import forms
from django.http import Http404
from django.shortcuts import redirect
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from kopilka.campaigns import promo as promos
from kopilka.campaigns.models import PromoCode
from kopilka.core.errors import DomainError
from kopilka.tenancy.models import Store
from kopilka.web.cabinet.session import cabinet_view
from kopilka.web.cabinet.views.campaigns import PointsField, _program
from kopilka.web.cashier.views.sales import MinorUnitsField
from kopilka.web.forms import Form
from kopilka.web.htmx import render_page

MULTIPLY, ADD, FIXED = "multiply", "add", "fixed"


class PromoForm(Form):
    code = forms.CharField(
        label=gettext_lazy("Code"), max_length=40,
        help_text=gettext_lazy("Latin letters and digits, e.g. COFFEE2X: the cashier types it "
                               "or scans it with a sale."),
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "off",
                                      "autocapitalize": "characters", "spellcheck": "false"}))
    name = forms.CharField(label=gettext_lazy("What it is for"), max_length=200,
                           required=False,
                           help_text=gettext_lazy("For your staff, e.g. December flyers."))
    effect = forms.ChoiceField(
        label=gettext_lazy("What the code gives"), widget=forms.RadioSelect, initial=MULTIPLY,
        choices=[(MULTIPLY, gettext_lazy("Points multiplied (e.g. 2 = double points)")),
                 (ADD, gettext_lazy("Extra percent of the purchase in points")),
                 (FIXED, gettext_lazy("Bonus points for the purchase"))])
    value = forms.CharField(label=gettext_lazy("How much"), max_length=20,
                            widget=forms.TextInput(attrs={"inputmode": "decimal"}),
                            help_text=gettext_lazy("The multiplier, the percent or the points."))
    product_group = forms.CharField(
        label=gettext_lazy("Only for a product group"), max_length=100, required=False,
        help_text=gettext_lazy("As the till names it, e.g. coffee. Empty: the whole purchase."))
    starts_on = forms.DateField(label=gettext_lazy("Starts on"),
                                widget=forms.DateInput(attrs={"type": "date"}))
    ends_on = forms.DateField(label=gettext_lazy("Ends on"), required=False,
                              widget=forms.DateInput(attrs={"type": "date"}),
                              help_text=gettext_lazy("Empty: no end."))
    stores = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Stores"), queryset=Store.objects.none(), required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("None ticked: every store."))
    per_member = forms.IntegerField(
        label=gettext_lazy("Uses per customer"), required=False, min_value=1,
        max_value=10**9, initial=1,
        help_text=gettext_lazy("1: once per customer. Empty: no limit."))
    max_uses = forms.IntegerField(
        label=gettext_lazy("Uses in total"), required=False, min_value=1, max_value=10**9,
        help_text=gettext_lazy("1: a single-use code. Empty: no limit."))
    min_check = forms.CharField(required=False)  # replaced in __init__ (the currency's decimals)

    def __init__(self, *args, merchant, precision: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.precision = precision
        self.fields["stores"].queryset = Store.objects.filter(merchant=merchant, active=True)
        self.fields["min_check"] = MinorUnitsField(
            places=get_currency_precision(merchant.currency), label=_("Minimum check"),
            help_text=_("Empty: any check."))

    def clean(self):
        data = super().clean()
        effect, value = data.get("effect"), (data.get("value") or "").strip()
        if not effect or "value" in self.errors:
            return data
        if effect == FIXED:
            try:
                points = PointsField(precision=self.precision).clean(value)
            except forms.ValidationError as error:
                self.add_error("value", error)
                return data
            data["rule"] = {"fixed_points": points}
        else:
            try:
                number = Decimal(value.replace(",", ".").replace(" ", ""))
            except InvalidOperation:
                number = None
            if number is None or not number.is_finite() or number <= 0:
                self.add_error("value", _("Enter a number above zero."))
                return data
            if effect == MULTIPLY:
                data["rule"] = {"multiply_accrual": str(number)}
            else:
                data["rule"] = {"add_percent": str(number)}
        group = data.get("product_group", "").strip()
        if group:
            data["rule"]["product_groups"] = [group]
        return data


def _refuse(form: forms.Form, error: DomainError) -> None:
    field = (error.field or "").split(".")[0]
    if field == "rule":
        field = "value"
    form.add_error(field if field in form.fields else None, str(error.detail))


def _precision(merchant) -> int:
    program = _program(merchant)
    return program.points_precision if program else 0


def _summary(promo: PromoCode) -> dict:
    """What a code gives, for the templates: one of multiplier, percent, points; and groups."""
    rule = promo.rule
    return {"multiplier": rule.get("multiply_accrual"), "percent": rule.get("add_percent"),
            "points": rule.get("fixed_points"), "groups": ", ".join(rule.get("product_groups")
                                                                    or ())}


def _state(promo: PromoCode, today) -> str:
    if not promo.active:
        return "off"
    if today < promo.starts_on:
        return "later"
    if promo.ends_on is not None and today > promo.ends_on:
        return "ended"
    if promo.max_uses is not None and promo.uses >= promo.max_uses:
        return "used_up"
    return "running"


@require_safe
@cabinet_view("manage_campaigns")
def promo_list(request):
    merchant = request.cabinet.merchant
    today = timezone.localdate()
    codes = PromoCode.objects.filter(merchant=merchant).order_by("-created_at", "-pk")[:500]
    rows = [{"stats": stats, "summary": _summary(stats.promo), "state": _state(stats.promo, today)}
            for stats in promos.stats(merchant, codes)]
    return render_page(request, "cabinet/promo/list.html", {
        "rows": rows, "program": _program(merchant), "merchant": merchant})


@require_http_methods(["GET", "HEAD", "POST"])
@cabinet_view("manage_campaigns")
def promo_new(request):
    merchant = request.cabinet.merchant
    form = PromoForm(request.POST if request.method == "POST" else None, merchant=merchant,
                     precision=_precision(merchant), initial={"starts_on": timezone.localdate()})
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        try:
            created = promos.create(
                merchant, code=data["code"], name=data["name"], rule=data["rule"],
                starts_on=data["starts_on"], ends_on=data["ends_on"], stores=data["stores"],
                min_check=data["min_check"] or 0, max_uses=data["max_uses"],
                per_member=data["per_member"], actor=request.cabinet.principal.actor)
        except DomainError as error:
            _refuse(form, error)
        else:
            return redirect("cabinet:promo-code", created.pk)
    return render_page(request, "cabinet/promo/new.html", {"form": form},
                       status=422 if form.is_bound else 200)


def _promo(request, promo_id: int) -> PromoCode:
    found = PromoCode.objects.filter(pk=promo_id, merchant=request.cabinet.merchant).first()
    if found is None:
        raise Http404
    return found


@require_safe
@cabinet_view("manage_campaigns")
def promo_detail(request, promo_id: int):
    promo = _promo(request, promo_id)
    merchant = request.cabinet.merchant
    return render_page(request, "cabinet/promo/detail.html", {
        "promo": promo, "stats": promos.stats(merchant, [promo])[0], "summary": _summary(promo),
        "state": _state(promo, timezone.localdate()), "stores": list(promo.stores.all()),
        "program": _program(merchant), "merchant": merchant})


@require_POST
@cabinet_view("manage_campaigns")
def promo_deactivate(request, promo_id: int):
    promos.deactivate(_promo(request, promo_id), actor=request.cabinet.principal.actor)
    return redirect("cabinet:promo-code", promo_id)


urlpatterns = [
    path("campaigns/promo/", promo_list, name="promo-codes"),
    path("campaigns/promo/new/", promo_new, name="promo-code-new"),
    path("campaigns/promo/<int:promo_id>/", promo_detail, name="promo-code"),
    path("campaigns/promo/<int:promo_id>/deactivate/", promo_deactivate,
         name="promo-code-deactivate"),
]
