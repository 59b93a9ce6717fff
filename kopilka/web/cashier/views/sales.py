"""Selling at the counter: the sale with a live quote and points, refunds, manual grants.

Each view calls the service the POS API calls (processing.sale, refund, manual; codes for the
spending code) and turns every DomainError into a form error in the cashier's language (422
with the form). Each form carries an idempotency key made when it is drawn — the sale's
receipt id, the refund id, the adjustment key — so a double click or a retry after a lost
answer is the same operation: the service answers it with the first result (`replayed`) and
nothing happens twice. A form sent back with errors keeps its key: nothing was written.
"""

import re
import secrets

from babel.numbers import get_currency_precision
from django import forms
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from kopilka.campaigns import promo as promos
from kopilka.codes import services as codes
from kopilka.codes.models import Purpose
from kopilka.core import clock
from kopilka.core.errors import Conflict, DomainError, NotFound
from kopilka.core.phones import mask_phone
from kopilka.ledger import services as ledger
from kopilka.members import services as members
from kopilka.members.models import Member
from kopilka.processing import manual, queries, sale
from kopilka.processing import refund as refunds
from kopilka.processing.models import Allowance
from kopilka.programs import services as programs
from kopilka.tenancy import access
from kopilka.web.cashier.counter import counter_view
from kopilka.web.forms import Form
from kopilka.web.htmx import render_page
from kopilka.web.templatetags.kopilka import money as money_text
from kopilka.web.templatetags.kopilka import points as points_text

MAX_MINOR = 10**13  # the API's bound for money and points: no till sells more
KEY_LETTERS = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read aloud or retyped safely


def new_key(prefix: str, terminal) -> str:
    """An idempotency key for one drawn form: short, readable, unique per device ("W-12-
    261207-K7M2QX9A"). The date and 8 random letters (31^8) keep two sales of one device
    from ever sharing a key, which would make the second a replay of the first."""
    letters = "".join(secrets.choice(KEY_LETTERS) for _n in range(8))
    return f"{prefix}-{terminal.pk}-{clock.now():%y%m%d}-{letters}"


# --- figures typed by the cashier -------------------------------------------------------------

_SPACES = dict.fromkeys(map(ord, " \u00a0\u202f\u2009\u2007'_"), None)


def to_minor(text: str, places: int) -> int:
    """"1500", "1 500,50", "1,500.50", "1500.5" -> minor units with `places` decimals. The last
    "." or "," followed by 1..places digits is the decimal sign; any other must group
    thousands (three digits after it). Raises ValidationError in the cashier's language."""
    cleaned = text.strip().translate(_SPACES)
    if cleaned[:1] in ("-", "\u2212"):
        raise ValidationError(_("Cannot be negative."), code="negative")
    cleaned = cleaned.removeprefix("+")
    if cleaned[-1:] in (".", ","):  # "1500," typed on the way to "1500,50"
        cleaned = cleaned[:-1]
    invalid = ValidationError(
        _("Enter a number such as 1500 or 1500.50."), code="invalid")
    if not re.fullmatch(r"[0-9][0-9.,]*", cleaned):
        raise invalid
    fraction = ""
    last = max(cleaned.rfind("."), cleaned.rfind(","))
    if last != -1 and 0 < len(cleaned) - last - 1 <= places:
        cleaned, fraction = cleaned[:last], cleaned[last + 1:]
    groups = re.split(r"[.,]", cleaned)
    if len(groups) > 1 and (not 1 <= len(groups[0]) <= 3
                            or any(len(group) != 3 for group in groups[1:])):
        raise invalid
    whole = "".join(groups)
    if len(whole) > 16:
        raise ValidationError(_("This number is too large."), code="max_value")
    return int(whole) * 10**places + int(fraction.ljust(places, "0") or 0)


class MinorUnitsField(forms.CharField):
    """Money or points as a person types them, cleaned to an int of minor units (or None)."""

    def __init__(self, *, places: int, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.TextInput(attrs={
            "inputmode": "decimal", "autocomplete": "off", "class": "figure-input"}))
        super().__init__(**kwargs)
        self.places = places

    def to_python(self, value):
        text = super().to_python(value)
        if text in self.empty_values:
            return None
        amount = to_minor(text, self.places)
        if amount > MAX_MINOR:
            raise ValidationError(_("This number is too large."), code="max_value")
        return amount


def _error_field(form: forms.Form, error: DomainError, fields: dict[str, str]) -> None:
    """Put a service's error on the form field it names (`fields` maps the service's field
    names to the form's), or above the form."""
    name = fields.get((error.field or "").split(".")[0])
    form.add_error(name if name in form.fields else None, error.detail)


def _member(request, member_id: int) -> Member:
    try:
        return members.get_member(request.counter.merchant, member_id)
    except NotFound:
        raise Http404 from None


def _card(request, member: Member) -> dict:
    """What every page about a member shows on top: who, the balance, the tier."""
    merchant = request.counter.merchant
    program = programs.load(merchant)
    card = queries.member_card(merchant, member)
    tier = program.tiers.get(card.tier)
    return {"member": member, "card": card, "tier_name": tier.name if tier else card.tier,
            "active": member.status == Member.Status.ACTIVE}


def _context(request, member: Member, **more) -> dict:
    merchant = request.counter.merchant
    return {"counter": request.counter, "merchant": merchant,
            "program": programs.load(merchant).config, **_card(request, member), **more}


# --- the sale ---------------------------------------------------------------------------------

PAYMENT_METHODS = [("card", gettext_lazy("Card")), ("cash", gettext_lazy("Cash"))]
SALE_FIELDS = {"lines": "amount", "points_to_spend": "points", "code": "code",
               "payment_method": "payment", "promo_code": "promo"}


def product_groups(program) -> list[str]:
    """The product groups the program's active rules name, in the order they appear: a sale
    split by them earns what those rules give."""
    found: list[str] = []
    for rule in program.config.rules:
        for group in (rule.conditions.product_groups or ()) if rule.active else ():
            if group not in found:
                found.append(group)
    return found


class SaleForm(Form):
    amount = forms.CharField()  # replaced per merchant in __init__ (its currency's decimals)
    payment = forms.ChoiceField(label=gettext_lazy("Payment"), choices=PAYMENT_METHODS,
                                initial="card", widget=forms.RadioSelect)
    points = forms.CharField()
    code = forms.CharField(
        label=gettext_lazy("Code from the customer's SMS"), required=False, max_length=16,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}))
    promo = forms.CharField(
        label=gettext_lazy("Promo code"), required=False, max_length=40,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters",
                                      "spellcheck": "false", "class": "sale__promo-input"}))
    receipt = forms.CharField(max_length=100, widget=forms.HiddenInput)

    def __init__(self, *args, currency: str, program, promo_groups=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["amount"] = MinorUnitsField(
            places=get_currency_precision(currency), label=_("Amount"),
            widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off",
                                          "autofocus": True, "class": "figure-input"}))
        self.redeems = program.redeems
        if self.redeems:
            self.fields["points"] = MinorUnitsField(places=program.config.points_precision,
                                                    label=_("Pay with points"))
        else:  # a discount-only program has no points to pay with
            del self.fields["points"]
        # The running promo codes' groups too: "double points on coffee" needs the coffee.
        self.groups = product_groups(program)
        self.groups += [group for group in promo_groups if group not in self.groups]
        for n, group in enumerate(self.groups, start=1):
            self.fields[f"group_{n}"] = MinorUnitsField(
                places=get_currency_precision(currency), label=group)

    def group_names(self) -> list[str]:
        return [f"group_{n}" for n in range(1, len(self.groups) + 1)]

    def group_fields(self):
        return [self[name] for name in self.group_names()]

    def clean(self):
        data = super().clean()
        if any(name in self.errors for name in ["amount", *self.group_names()]):
            return data
        parts = [(group, data.get(f"group_{n}") or 0)
                 for n, group in enumerate(self.groups, start=1)]
        grouped = sum(amount for _group, amount in parts)
        total = data.get("amount")
        if total is None:
            total = grouped
        if total <= 0:
            self.add_error("amount", _("Enter the amount of the sale."))
            return data
        if grouped > total:
            self.add_error("amount", _("The product groups add up to more than the amount."))
            return data
        lines = [{"line_id": str(n), "amount": amount, "product_group": group}
                 for n, (group, amount) in enumerate(parts, start=1) if amount]
        if total > grouped:  # the rest of the check, in no group
            lines.append({"line_id": str(len(parts) + 1), "amount": total - grouped})
        data["lines"] = lines
        return data


def _sale_form(request, data=None) -> SaleForm:
    merchant = request.counter.merchant
    initial = {"receipt": new_key("W", request.counter.terminal)}
    return SaleForm(data, initial=initial, currency=merchant.currency,
                    program=programs.load(merchant),
                    promo_groups=promos.product_groups_in_use(merchant))


def _sale_of(request, form: SaleForm, member: Member, *, commit: bool = False) -> sale.Sale:
    """The sale the form holds; a promo code typed or scanned into it is looked up and
    checked here (a DomainError naming promo_code when it cannot be used)."""
    data = form.cleaned_data
    counter = request.counter
    offer = None
    if data.get("promo", "").strip():
        offer = promos.for_sale(counter.merchant, data["promo"], member=member,
                                store=counter.store, terminal=counter.terminal,
                                receipt_id=data["receipt"] if commit else None)
    return sale.sale_from(data["lines"], points_to_spend=data.get("points") or 0,
                          payment_method=data["payment"], store=counter.store,
                          cashier=counter.staff, promo=offer)


def _quote_context(request, member: Member, form: SaleForm) -> dict:
    """The live quote of a valid form, or why there is none. Never checks the one-time code:
    each wrong code costs an attempt, and the quote runs as the cashier types."""
    if not form.is_valid():
        return {"quote": None}
    merchant = request.counter.merchant
    try:
        quote = sale.quote_purchase(merchant, member, _sale_of(request, form, member))
        refused = promos.refusal(merchant, quote)
        if refused is not None:
            raise refused
    except DomainError as error:
        return {"quote": None, "quote_error": error.detail,
                "promo_error": error.field == promos.FIELD}
    card = queries.member_card(merchant, member)
    most = min(quote.max_redeem_points, max(card.available, 0))
    requested = form.cleaned_data.get("points") or 0
    return {
        "quote": quote, "max_points": most, "too_many_points": requested > most,
        "accrual_later": quote.available_at > clock.now(),
        "code_required": quote.redeem_requires_code and requested > 0,
    }


@require_http_methods(["GET", "POST"])
@counter_view("sell")
def sale_view(request, member_id: int):
    """GET: the sale form, a new receipt id in it. POST: commit it; a retry of the same receipt
    shows the same receipt again (replayed), never a second sale."""
    member = _member(request, member_id)
    if request.method == "GET":
        return render_page(request, "cashier/sales/sale.html",
                           _context(request, member, form=_sale_form(request)))
    form = _sale_form(request, request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            result = sale.commit_purchase(
                request.counter.merchant, member, _sale_of(request, form, member, commit=True),
                receipt_id=data["receipt"], actor=request.counter.principal.actor,
                terminal=request.counter.terminal, store=request.counter.store,
                cashier=request.counter.staff, code=data.get("code") or None)
        except DomainError as error:
            _error_field(form, _worded_sale_error(request, member, form, error), SALE_FIELDS)
        else:
            return render_page(request, "cashier/sales/sale.html",
                               _receipt_context(request, member, result), fragment="form")
    context = _context(request, member, form=form, **_quote_context(request, member, form))
    return render_page(request, "cashier/sales/sale.html", context, fragment="form", status=422)


def _worded_sale_error(request, member, form, error: DomainError) -> DomainError:
    """The service counts points in minor units ("at most 7550 points"); the cashier reads
    them as the program shows them ("at most 75.5 bonuses")."""
    if isinstance(error, Conflict) and error.field == "points_to_spend":
        context = _quote_context(request, member, form)
        if context.get("quote") is not None:
            most = points_text(context["max_points"], programs.load(member.merchant).config)
            return Conflict(_("At most %(points)s can be paid with points on this check.")
                            % {"points": most}, field=error.field)
    return error


def _receipt_context(request, member: Member, result: sale.PurchaseResult) -> dict:
    purchase = result.purchase
    program = programs.load(request.counter.merchant)
    tier = program.tiers.get(purchase.tier_after)
    given = purchase.quote.get("promo") or {}
    return _context(
        request, member, purchase=purchase, result=result,
        promo_used=given if given.get("applied") else None,
        payable=purchase.total - purchase.discount - purchase.points_spent_money,
        new_tier=(tier.name if tier else purchase.tier_after) if result.tier_changed else "")


@require_POST
@counter_view("sell")
def quote(request, member_id: int):
    """The quote panel alone, for what the form holds now (htmx, as the cashier types)."""
    member = _member(request, member_id)
    data = request.POST.copy()
    data.setdefault("receipt", "quote")  # a quote commits nothing: no receipt needed
    merchant = request.counter.merchant
    context = {"merchant": merchant, "program": programs.load(merchant).config,
               **_quote_context(request, member, _sale_form(request, data))}
    return render(request, "cashier/sales/sale.html#quote", context)


@require_POST
@counter_view("send_codes")
def send_code(request, member_id: int):
    """Send the member the one-time code that confirms spending points (as POST /pos/codes)."""
    member = _member(request, member_id)
    counter = request.counter
    try:
        issued = codes.request_code(
            counter.merchant, purpose=Purpose.SPENDING, actor=counter.principal.actor,
            member=member, terminal=counter.terminal, ip=counter.principal.actor.ip)
    except DomainError as error:
        return _toast(error.detail, 429 if isinstance(error, codes.RateLimited) else 409)
    return render(request, "cashier/sales/sale.html#code_sent", {
        "sent_to": mask_phone(str(issued.code.phone)), "sent": issued.code,
        "merchant": counter.merchant})


def _toast(text: str, status: int) -> HttpResponse:
    """A refusal htmx shows as a message (static/web/app.js reads [data-toast])."""
    return HttpResponse(format_html("<p data-toast>{}</p>", text), status=status)


# --- refunds ----------------------------------------------------------------------------------

REFUND_WHOLE, REFUND_AMOUNT, REFUND_LINES = "whole", "amount", "lines"


class RefundForm(Form):
    mode = forms.ChoiceField(
        label=gettext_lazy("What to refund"), initial=REFUND_WHOLE, widget=forms.RadioSelect,
        choices=[(REFUND_WHOLE, gettext_lazy("The whole purchase")),
                 (REFUND_AMOUNT, gettext_lazy("An amount")),
                 (REFUND_LINES, gettext_lazy("By lines"))])
    amount = forms.CharField(required=False)
    refund_id = forms.CharField(max_length=100, widget=forms.HiddenInput)

    def __init__(self, *args, currency: str, lines, **kwargs):
        super().__init__(*args, **kwargs)
        places = get_currency_precision(currency)
        self.fields["amount"] = MinorUnitsField(places=places, label=_("Amount to refund"))
        self.lines = [line for line in lines if line.paid > line.refunded_amount]
        for line in self.lines:
            self.fields[f"line_{line.line_id}"] = MinorUnitsField(
                places=places, label=line.product_group or _("Other goods"))
        if len(self.lines) < 2:
            self.fields["mode"].choices = self.fields["mode"].choices[:2]

    def line_fields(self):
        return [(line, self[f"line_{line.line_id}"]) for line in self.lines]

    def clean(self):
        data = super().clean()
        mode = data.get("mode")
        data["refund_amount"] = data["refund_lines"] = None
        if mode == REFUND_AMOUNT:
            if "amount" in self.errors:
                return data
            if not data.get("amount"):
                self.add_error("amount", _("Enter the amount to refund."))
            data["refund_amount"] = data.get("amount")
        elif mode == REFUND_LINES:
            names = [f"line_{line.line_id}" for line in self.lines]
            if any(name in self.errors for name in names):
                return data
            parts = {line.line_id: data[f"line_{line.line_id}"] for line in self.lines
                     if data.get(f"line_{line.line_id}")}
            if not parts:
                self.add_error(None, _("Enter what to refund of at least one line."))
            data["refund_lines"] = parts
        return data


def _purchase(request, purchase_id: int):
    try:
        return queries.purchase(request.counter.merchant, purchase_id)
    except NotFound:
        raise Http404 from None


def _refund_form(request, purchase, data=None, refund_id: str | None = None) -> RefundForm:
    return RefundForm(data, currency=request.counter.merchant.currency,
                      lines=purchase.lines.all(),
                      initial={"refund_id": refund_id or new_key("RF", request.counter.terminal)})


def _refund_context(request, purchase, **more) -> dict:
    member = _member(request, purchase.member_id)
    return _context(request, member, purchase=purchase,
                    refundable=purchase.total - purchase.discount - purchase.refunded_amount,
                    **more)


@require_http_methods(["GET", "POST"])
@counter_view("refund")
def refund(request, purchase_id: int):
    """Refund the whole purchase, an amount spread over its lines, or parts of lines. Accrued
    points come back in proportion, spent points go back to the member."""
    purchase = _purchase(request, purchase_id)
    if request.method == "GET":
        return render_page(request, "cashier/sales/refund.html",
                           _refund_context(request, purchase,
                                           form=_refund_form(request, purchase)))
    form = _refund_form(request, purchase, request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            result = refunds.refund_purchase(
                request.counter.merchant, purchase, refund_id=data["refund_id"],
                actor=request.counter.principal.actor, amount=data["refund_amount"],
                lines=data["refund_lines"])
        except DomainError as error:
            _error_field(form, _worded_refund_error(request, purchase, error),
                         {"amount": "amount", "refund_id": "refund_id"})
        else:
            purchase = _purchase(request, purchase_id)  # its refunded totals now
            return render_page(request, "cashier/sales/refund.html",
                               _refund_context(request, purchase, result=result),
                               fragment="form")
    return render_page(request, "cashier/sales/refund.html",
                       _refund_context(request, purchase, form=form), fragment="form",
                       status=422)


def _worded_refund_error(request, purchase, error: DomainError) -> DomainError:
    """"At most 75000 can be refunded" counts kopecks; say it in the merchant's money."""
    if isinstance(error, Conflict) and error.field == "amount":
        left = purchase.total - purchase.discount - purchase.refunded_amount
        if left > 0:
            return Conflict(_("At most %(amount)s can be refunded.") % {
                "amount": money_text(left, request.counter.merchant.currency)}, field="amount")
    if isinstance(error, Conflict) and (error.field or "").startswith("lines."):
        return Conflict(_("That is more than is left of this line."), field="amount")
    return error


# --- grants and deductions by hand ------------------------------------------------------------

GRANT, DEDUCT = "grant", "deduct"


class AdjustForm(Form):
    direction = forms.ChoiceField(
        label=gettext_lazy("Change"), initial=GRANT, widget=forms.RadioSelect,
        choices=[(GRANT, gettext_lazy("Grant points")), (DEDUCT, gettext_lazy("Deduct points"))])
    points = forms.CharField()
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=300,
                             widget=forms.TextInput(attrs={"autocomplete": "off"}))
    key = forms.CharField(max_length=100, widget=forms.HiddenInput)

    def __init__(self, *args, program, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["points"] = MinorUnitsField(
            places=program.config.points_precision, label=_("Points"), required=True)

    def clean_points(self):
        points = self.cleaned_data["points"]
        if not points:
            raise ValidationError(_("Must be more than zero."), code="min_value")
        return points

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise ValidationError(_("Say why the points are changed."), code="required")
        return reason


def _allowance(counter) -> int | None:
    """Points this cashier may still grant; None when their role grants without a limit."""
    if access.role_may(counter.staff.role, "grant_unlimited"):
        return None
    allowance = Allowance.objects.filter(merchant=counter.merchant, staff=counter.staff).first()
    return allowance.remaining if allowance else 0


def _adjust_form(request, data=None) -> AdjustForm:
    return AdjustForm(data, program=programs.load(request.counter.merchant),
                      initial={"key": new_key("A", request.counter.terminal)})


@require_http_methods(["GET", "POST"])
@counter_view("adjust")
def adjust(request, member_id: int):
    """Grant points (paid from the cashier's allowance) or deduct them, with a reason."""
    member = _member(request, member_id)
    counter = request.counter

    def page(form, status=200, **more):
        context = _context(request, member, form=form, allowance=_allowance(counter), **more)
        return render_page(request, "cashier/sales/adjust.html", context,
                           fragment="form" if request.method == "POST" else "content",
                           status=status)

    if request.method == "GET":
        return page(_adjust_form(request))
    form = _adjust_form(request, request.POST)
    if form.is_valid():
        data = form.cleaned_data
        points = data["points"] if data["direction"] == GRANT else -data["points"]
        try:
            result = manual.adjust_points(
                counter.merchant, member, points=points, by=counter.staff,
                reason=data["reason"], key=data["key"], actor=counter.principal.actor)
        except DomainError as error:
            _error_field(form, _worded_adjust_error(request, member, error),
                         {"points": "points", "reason": "reason"})
        else:
            return page(_adjust_form(request), done=result)
    return page(form, status=422)


def _worded_adjust_error(request, member: Member, error: DomainError) -> DomainError:
    """The allowance and the balance in points as the program shows them, not in minor
    units ("7550 points left" would read as 7550 where the member sees 75.5)."""
    if not isinstance(error, Conflict) or error.field != "points":
        return error
    program = programs.load(request.counter.merchant).config
    if isinstance(error, ledger.InsufficientPoints):
        available = queries.member_card(request.counter.merchant, member).available
        return Conflict(_("Only %(points)s can be deducted.") % {
            "points": points_text(max(available, 0), program)}, field="points")
    left = _allowance(request.counter)
    if left is None:
        return error
    return Conflict(_("Your allowance has %(points)s left. Ask a manager for more.") % {
        "points": points_text(left, program)}, field="points")


urlpatterns = [
    path("members/<int:member_id>/sale/", sale_view, name="sale"),
    path("members/<int:member_id>/sale/quote/", quote, name="quote"),
    path("members/<int:member_id>/sale/code/", send_code, name="sale-code"),
    path("purchases/<int:purchase_id>/refund/", refund, name="refund"),
    path("members/<int:member_id>/adjust/", adjust, name="adjust"),
]
