"""Billing (OPS-4): the merchant's plan, prepaid balance and its state (paid, grace, read-only),
the statement of a period, and its downloads: XLSX, PDF and the reconciliation statement."""

from datetime import date

from django import forms
from django.http import HttpResponse
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from kopilka.billing import limits, services, statements
from kopilka.web.cabinet.session import cabinet_view
from kopilka.web.cabinet.tabs import Tab, register
from kopilka.web.forms import Form
from kopilka.web.htmx import render_page

PERMISSION = "read_billing"
PDF_DAYS = 366  # the longest period a PDF is made for in the request


class PeriodForm(Form):
    start = forms.DateField(label=gettext_lazy("From"), required=False,
                            widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=gettext_lazy("To"), required=False,
                          widget=forms.DateInput(attrs={"type": "date"}),
                          help_text=gettext_lazy("Including this day."))

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["end"] < data["start"]:
            self.add_error("end", _("Must not be before the start."))
        if data.get("start") and data.get("end") and (data["end"] - data["start"]).days > 1830:
            self.add_error("end", _("At most five years at a time."))
        return data


def _period(request) -> tuple[PeriodForm, date, date]:
    """The chosen period, the current month by default."""
    today = services.today(request.cabinet.merchant)
    form = PeriodForm(request.GET or None)
    start, end = today.replace(day=1), today
    if form.is_bound and form.is_valid():
        start = form.cleaned_data["start"] or start
        end = form.cleaned_data["end"] or max(end, start)
    return form, start, end


@require_http_methods(["GET", "HEAD"])
@cabinet_view(PERMISSION)
def home(request):
    merchant = request.cabinet.merchant
    form, start, end = _period(request)
    sub = services.subscription(merchant)
    balance = services.account(merchant).balance
    found = statements.statement(merchant, start, end) if not form.errors else None
    money = services.money
    return render_page(request, "cabinet/billing/home.html", {
        "sub": sub, "plan": sub.plan if sub else None,
        "plan_price": money(sub.plan.period_price if sub.plan.kind == "period"
                            else sub.plan.daily_price) if sub else "",
        "balance": money(balance), "negative": balance < 0,
        "grace_ends": services.grace_ends(sub), "read_only": services.read_only(merchant),
        # Usage beside the plan's limits (billing/limits.py), when the plan has any.
        "usage": (limits.usage(merchant, sub.plan) if sub and (
            sub.plan.max_stores is not None or sub.plan.max_members is not None) else None),
        "form": form, "start": start, "end": end, "s": found,
        "rows": [{**row, "charge": money(row["charge"]) if row["charge"] else "",
                  "payment": money(row["payment"]) if row["payment"] else "",
                  "after": money(row["after"])} for row in found.rows()] if found else [],
        "figures": {"opening": money(found.opening), "closing": money(found.closing),
                    "charges": money(found.charges), "payments": money(found.payments),
                    "sms": money(found.sms_cost)} if found else None,
        "query": f"start={start.isoformat()}&end={end.isoformat()}",
    }, status=422 if form.errors else 200)


def _download(request, kind: str):
    form, start, end = _period(request)
    if form.errors:
        return HttpResponse(_("Choose a valid period."), status=422,
                            content_type="text/plain; charset=utf-8")
    if kind != "xlsx" and (end - start).days >= PDF_DAYS:
        # Rendered in the request: a year of daily debits is about a second (bench/).
        return HttpResponse(_("A PDF covers at most a year; download the XLSX for longer."),
                            status=422, content_type="text/plain; charset=utf-8")
    found = statements.statement(request.cabinet.merchant, start, end)
    name = f"{request.cabinet.merchant.slug}-{start.isoformat()}-{end.isoformat()}"
    if kind == "xlsx":
        body, mime, name = (statements.xlsx(found), "application/vnd.openxmlformats-"
                            "officedocument.spreadsheetml.sheet", f"statement-{name}.xlsx")
    elif kind == "pdf":
        body, mime, name = statements.pdf(found), "application/pdf", f"statement-{name}.pdf"
    else:
        body, mime = statements.pdf(found, "billing/act.html"), "application/pdf"
        name = f"reconciliation-{name}.pdf"
    response = HttpResponse(body, content_type=mime)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@require_http_methods(["GET", "HEAD"])
@cabinet_view(PERMISSION)
def statement_xlsx(request):
    return _download(request, "xlsx")


@require_http_methods(["GET", "HEAD"])
@cabinet_view(PERMISSION)
def statement_pdf(request):
    return _download(request, "pdf")


@require_http_methods(["GET", "HEAD"])
@cabinet_view(PERMISSION)
def reconciliation_pdf(request):
    return _download(request, "act")


urlpatterns = [
    path("billing/", home, name="billing"),
    path("billing/statement.xlsx", statement_xlsx, name="billing-xlsx"),
    path("billing/statement.pdf", statement_pdf, name="billing-pdf"),
    path("billing/reconciliation.pdf", reconciliation_pdf, name="billing-act"),
]

register(Tab("billing", gettext_lazy("Billing"), "cabinet:billing", PERMISSION, order=95))
