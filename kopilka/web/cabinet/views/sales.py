"""Sales and refunds: lists with filters and totals, a purchase's page (#16).

The lists read processing/queries.py (`purchases`, `refunds`, `purchase`), the reads the API
uses; pages are keyset on (time, id), newest first: no OFFSET. The sales' totals of a period
(whole local days) at a store and/or cashier come from the analytics roll-up
(analytics.totals: days × stores × cashiers cells, whatever the purchases); a member, a search
or an amount range — filters the roll-up cannot answer, and narrow ones — add up the matching
purchases, as the refunds' totals always do (a refund's day is its own, the roll-up's is its
purchase's). A period is always set (the last 7 days unless chosen).
"""

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel.numbers import format_percent, get_currency_precision
from django import forms
from django.db.models import Count, Exists, OuterRef, Q, Sum
from django.http import Http404
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from kopilka.analytics import totals as rollup_totals
from kopilka.core import clock
from kopilka.core.errors import NotFound
from kopilka.ledger.models import Entry
from kopilka.members import services as members
from kopilka.members.models import Member
from kopilka.processing import queries
from kopilka.processing import wallet as wallet_reads
from kopilka.tenancy import counter as counters
from kopilka.tenancy.models import Staff, Store
from kopilka.web.cabinet.session import cabinet_view
from kopilka.web.cabinet.tabs import Tab, register
from kopilka.web.cabinet.views.members import (
    PERMISSION,
    AmountField,
    DateInput,
    alias_shown,
    phone_shown,
    program_of,
)
from kopilka.web.forms import Form
from kopilka.web.htmx import render_page
from kopilka.web.templatetags.kopilka import locale

PAGE = 50
DEFAULT_DAYS = 7


class SaleFilterForm(Form):
    find = forms.CharField(label=gettext_lazy("Member: phone, card or name"), max_length=100,
                           required=False,
                           widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}))
    since = forms.DateField(label=gettext_lazy("From"), required=False, widget=DateInput())
    until = forms.DateField(label=gettext_lazy("To"), required=False, widget=DateInput())
    store = forms.TypedChoiceField(label=gettext_lazy("Store"), required=False, coerce=int,
                                   empty_value=None)
    cashier = forms.TypedChoiceField(label=gettext_lazy("Cashier"), required=False,
                                     coerce=int, empty_value=None)
    member = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1,
                                widget=forms.HiddenInput)
    amount_min = AmountField(label=gettext_lazy("Amount from"))
    amount_max = AmountField(label=gettext_lazy("Amount to"))

    def __init__(self, *args, merchant, refunds: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.merchant = merchant
        self.fields["store"].choices = [("", _("any")), *(
            (store.pk, store.name)
            for store in Store.objects.filter(merchant=merchant).order_by("name"))]
        if refunds:  # a refund is the counter's, not a cashier's row
            del self.fields["cashier"]
        else:
            self.fields["cashier"].choices = [("", _("any")), *(
                (staff.pk, counters.display_name(staff))
                for staff in Staff.objects.select_related("user").filter(merchant=merchant)
                .order_by("created_at"))]
        precision = get_currency_precision(merchant.currency)
        for name in ("amount_min", "amount_max"):
            self.fields[name] = AmountField(label=self.fields[name].label, precision=precision)

    def clean(self):
        data = super().clean()
        for name in ("since", "until"):
            if data.get(name) is not None and not 1970 <= data[name].year <= 2200:
                self.add_error(name, _("Enter a date between 1970 and 2200."))
                data.pop(name, None)
        for low, high in (("since", "until"), ("amount_min", "amount_max")):
            if data.get(low) is not None and data.get(high) is not None and data[low] > data[high]:
                self.add_error(high, _("Must not be less than “from”."))
        return data

    def period(self) -> tuple[date, date]:
        """The chosen days (both inclusive), the last DEFAULT_DAYS by default."""
        zone = ZoneInfo(self.merchant.timezone)
        today = clock.now().astimezone(zone).date()
        data = self.cleaned_data if self.is_bound else {}
        until = data.get("until") or today
        since = data.get("since") or until - timedelta(days=DEFAULT_DAYS - 1)
        return since, until


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone)


def _narrow(rows, form: SaleFilterForm, merchant, *, member_path: str, amount: str,
            store_path: str):
    data = form.cleaned_data if form.is_bound else {}
    if data.get("store") is not None:
        rows = rows.filter(**{store_path: data["store"]})
    if data.get("cashier") is not None:
        rows = rows.filter(cashier_id=data["cashier"])
    if data.get("member") is not None:
        rows = rows.filter(**{member_path: data["member"]})
    if data.get("find"):
        found = members.search_members(merchant, members.MemberFilter(find=data["find"]))
        rows = rows.filter(Exists(found.filter(pk=OuterRef(member_path))))
    for name, lookup in (("amount_min", "gte"), ("amount_max", "lte")):
        if data.get(name) is not None:
            rows = rows.filter(**{f"{amount}__{lookup}": form.fields[name].minor(data[name])})
    return rows


def _cursor(request) -> tuple[datetime, int] | None:
    """The `before` cursor: "<microseconds since 1970>.<id>" of the last row shown."""
    text = request.GET.get("before", "")
    stamp, _dot, pk = text.partition(".")
    if not (stamp.isdigit() and pk.isdigit() and len(stamp) <= 18 and 0 < int(pk) < 2**63):
        return None
    try:
        at = datetime.fromtimestamp(int(stamp) / 1_000_000, tz=ZoneInfo("UTC"))
    except (OverflowError, OSError, ValueError):
        return None
    return at, int(pk)


def _page(rows, request) -> tuple[list, str]:
    cursor = _cursor(request)
    if cursor is not None:
        at, pk = cursor
        rows = rows.filter(Q(occurred_at__lt=at) | Q(occurred_at=at, pk__lt=pk))
    found = list(rows.order_by("-occurred_at", "-pk")[: PAGE + 1])
    if len(found) <= PAGE:
        return found, ""
    found = found[:PAGE]
    last = found[-1]
    stamp = int(last.occurred_at.timestamp()) * 1_000_000 + last.occurred_at.microsecond
    query = request.GET.copy()
    query["before"] = f"{stamp}.{last.pk}"
    return found, "?" + query.urlencode()


def _first_url(request) -> str:
    if "before" not in request.GET:
        return ""
    query = request.GET.copy()
    query.pop("before")
    return "?" + query.urlencode()


def _list(request, *, refunds: bool):
    cabinet = request.cabinet
    merchant = cabinet.merchant
    bound = bool(set(request.GET) - {"before"})
    form = SaleFilterForm(request.GET if bound else None, merchant=merchant, refunds=refunds)
    program = program_of(merchant)
    valid = not bound or form.is_valid()
    context = {"form": form, "refunds": refunds, "currency": merchant.currency,
               "program": program and program.config,
               "rows": [], "totals": None, "next_url": "", "first_url": _first_url(request),
               "may": {"export_records": cabinet.principal.may("export_records")}}
    if valid:
        since, until = form.period()
        zone = ZoneInfo(merchant.timezone)
        start, end = _midnight(since, zone), _midnight(until + timedelta(days=1), zone)
        if refunds:
            rows = queries.refunds(merchant, since=start, until=end)
            rows = _narrow(rows, form, merchant, member_path="purchase__member_id",
                           amount="amount", store_path="purchase__store_id")
            totals = rows.aggregate(count=Count("pk"), amount=Sum("amount"),
                                    reversed=Sum("points_reversed"),
                                    returned=Sum("points_returned"))
            rows = rows.select_related("purchase__store", "purchase__member__person")
        else:
            rows = queries.purchases(merchant, since=start, until=end)
            rows = _narrow(rows, form, merchant, member_path="member_id", amount="total",
                           store_path="store_id")
            totals = _sale_totals(rows, form, merchant, since, until)
            rows = rows.select_related("store", "member__person", "cashier__user")
        found, next_url = _page(rows, request)
        context.update({
            "rows": [{"row": row, "member": _member_label(
                row.purchase.member if refunds else row.member, cabinet.principal)}
                for row in found],
            "totals": {key: value or 0 for key, value in totals.items()},
            "since": since, "until": until, "next_url": next_url,
        })
    return render_page(request, "cabinet/sales/list.html", context,
                       status=200 if valid else 422)


# Filters the roll-up's cells cannot answer: the totals then add up the matching purchases.
RAW_FILTERS = ("member", "find", "amount_min", "amount_max")


def _sale_totals(rows, form: SaleFilterForm, merchant, since: date, until: date) -> dict:
    data = form.cleaned_data if form.is_bound else {}
    if any(data.get(name) not in (None, "") for name in RAW_FILTERS):
        return purchase_totals(rows)
    return rollup_totals.sales_totals(merchant, since, until, store_id=data.get("store"),
                                      cashier_id=data.get("cashier"))


def purchase_totals(rows) -> dict:
    """The sales list's totals added up from purchases (`rows`: a queryset of them)."""
    # COUNT(*), not of the id: every column read here is in the covering index
    # purchase_merchant_time, so PostgreSQL answers from the index alone.
    found = rows.aggregate(count=Count("*"), total=Sum("total"),
                           discount=Sum("discount"), points_spent=Sum("points_spent"),
                           paid_with_points=Sum("points_spent_money"),
                           accrued=Sum("points_accrued"), refunded=Sum("refunded_amount"))
    return {key: value or 0 for key, value in found.items()}


def _member_label(member: Member, principal) -> str:
    return member.full_name or phone_shown(member, principal) or alias_shown(member) or \
        _("Member %(id)s") % {"id": member.pk}


@require_http_methods(["GET", "HEAD"])
@cabinet_view(PERMISSION)
def sale_list(request):
    return _list(request, refunds=False)


@require_http_methods(["GET", "HEAD"])
@cabinet_view(PERMISSION)
def refund_list(request):
    return _list(request, refunds=True)


# --- a purchase ---------------------------------------------------------------------------------


@require_http_methods(["GET", "HEAD"])
@cabinet_view(PERMISSION)
def sale(request, purchase_id: int):
    cabinet = request.cabinet
    merchant = cabinet.merchant
    if not 0 < purchase_id < 2**63:
        raise Http404
    try:
        purchase = queries.purchase(merchant, purchase_id)
    except NotFound:
        raise Http404 from None
    member = Member.objects.select_related("person").get(merchant=merchant,
                                                          pk=purchase.member_id)
    refunds = sorted(purchase.refunds.all(), key=lambda refund: (refund.occurred_at, refund.pk))
    causes = Q(cause_type__in=("purchase", "first_purchase"), cause_id=str(purchase.pk))
    if refunds:
        causes |= Q(cause_type="refund", cause_id__in=[str(refund.pk) for refund in refunds])
    words = wallet_reads.cause_words()
    entries = [{"entry": entry, "why": words.get(entry.cause_type, entry.cause_type),
                "points": entry.available_delta if entry.kind == Entry.Kind.ACTIVATE
                else entry.available_delta + entry.pending_delta}
               for entry in Entry.objects.filter(causes, merchant=merchant,
                                                 account_id=purchase.account_id)
               .order_by("seq")]
    quoted = {line["line_id"]: line for line in purchase.quote.get("lines", [])}
    lines = [{"line": line, "quote": quoted.get(line.line_id, {}),
              "percent": _percent(quoted.get(line.line_id, {}).get("accrual_percent_bp"))}
             for line in sorted(purchase.lines.all(), key=lambda line: line.pk)]
    program = program_of(merchant)
    tiers = program.tiers if program is not None else {}
    store = Store.objects.filter(merchant=merchant, pk=purchase.store_id).first()
    cashier = Staff.objects.select_related("user").filter(
        merchant=merchant, pk=purchase.cashier_id).first()
    return render_page(request, "cabinet/sales/sale.html", {
        "purchase": purchase, "member": member, "member_label": _member_label(
            member, cabinet.principal),
        "store": store, "cashier": counters.display_name(cashier) if cashier else "",
        "lines": lines, "entries": entries, "refunds": refunds,
        "quote": purchase.quote, "currency": merchant.currency,
        "accrual_percent": _percent(purchase.quote.get("effective_accrual_bp")),
        "program": program and program.config,
        "tier_before": getattr(tiers.get(purchase.tier_before), "name", purchase.tier_before),
        "tier_after": getattr(tiers.get(purchase.tier_after), "name", purchase.tier_after),
        "paid": purchase.total - purchase.discount - purchase.points_spent_money,
    })


def _percent(basis_points) -> str:
    """Basis points as a percent in the active language: 550 -> "5.5 %" ("5,5 %" in ru)."""
    if type(basis_points) is not int:
        return ""
    return format_percent(Decimal(basis_points) / 10_000, "#,##0.##\u00a0%", locale=locale())


urlpatterns = [
    path("sales/", sale_list, name="sales"),
    path("sales/refunds/", refund_list, name="refunds"),
    path("sales/<int:purchase_id>/", sale, name="sale"),
]
register(Tab("sales", gettext_lazy("Sales"), "cabinet:sales", PERMISSION, order=30))
