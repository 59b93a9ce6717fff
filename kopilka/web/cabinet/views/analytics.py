"""The cabinet's analytics (#17): the 17 figures of a period by store and cashier, each beside
the previous period and loaded on its own request; the charts; the exports
(analytics_exports.py); the owner's money view and the program simulator
(analytics_money.py).

The page's first response carries the filter and empty places only: each figure and chart is
fetched by htmx when it loads or scrolls into view (UI.md: dashboards that compute everything
at once are what users of such screens suffer from)."""

import json
from datetime import timedelta
from urllib.parse import urlencode

from babel import Locale
from babel.numbers import format_decimal, format_percent, get_currency_precision
from django import forms
from django.http import Http404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django.views.decorators.http import require_http_methods

from kopilka.analytics import cards
from kopilka.automation import winback
from kopilka.core.errors import Conflict, InvalidInput, NotFound
from kopilka.messaging import billing
from kopilka.messaging.models import Event
from kopilka.programs import services as programs
from kopilka.tenancy import counter as counters
from kopilka.tenancy.models import Staff, Store
from kopilka.web.cabinet.session import cabinet_view
from kopilka.web.cabinet.tabs import Tab, register
from kopilka.web.cabinet.views import analytics_exports, analytics_money, analytics_simulator
from kopilka.web.forms import Form
from kopilka.web.htmx import render_page
from kopilka.web.templatetags.kopilka import locale, money, points

PRESETS = (
    ("today", pgettext_lazy("period", "Today")),
    ("7", _("7 days")),
    ("30", _("30 days")),
    ("month", _("This month")),
    ("year", _("A year")),
    ("custom", _("Other dates")),
)
TITLES = {
    1: _("Revenue"), 2: _("Checks"), 3: _("Average check"), 4: _("Average discount"),
    5: _("Revenue per buyer"), 6: _("Points accrued"), 7: _("Points spent"),
    8: _("Members"), 9: _("Members by purchases"), 10: _("Lost members"),
    11: _("SMS spend"), 12: _("Reviews"), 13: _("Positive reviews"),
    14: _("Negative reviews"), 15: _("Neutral reviews"),
    16: _("Win-back: members reached"), 17: _("Win-back: sales"),
}
LABELS = {
    "members_total": _("All members"), "members_new": _("Joined in the period"),
    "members_1_purchase": _("1 purchase"), "members_2_purchases": _("2 purchases"),
    "members_3_or_more_purchases": _("3 or more purchases"), "sms_cost": _("All topics"),
    "winback_participants": _("Members reached"), "winback_sms_cost": _("SMS cost"),
    "winback_purchases": _("Purchases"), "winback_revenue": _("Revenue"),
}
CHARTS = {
    "sales": _("Revenue and checks by day"),
    "points": _("Points accrued and spent"),
    "purchases": _("Members by number of purchases"),
    "tiers": _("Members by tier"),
    "sms": _("SMS spend by topic"),
    "winback": _("Win-back funnel"),
}

# The analytics' other pages, linked from the figures' page: (url name, label, permission).
LINKS = [("cabinet:analytics-money", _("Points liability"), "read_analytics"),
         ("cabinet:analytics-simulator", _("Program simulator"), "read_analytics"),
         ("cabinet:analytics-exports", _("Exports"), "export_records")]


class PeriodForm(Form):
    period = forms.ChoiceField(label=_("Period"), choices=PRESETS, required=False,
                               widget=forms.RadioSelect)
    since = forms.DateField(label=_("From"), required=False,
                            widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    until = forms.DateField(label=_("To"), required=False,
                            widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    store = forms.IntegerField(label=_("Store"), required=False, min_value=1,
                               widget=forms.Select)
    cashier = forms.IntegerField(label=_("Cashier"), required=False, min_value=1,
                                 widget=forms.Select)

    def __init__(self, *args, merchant, **kwargs):
        super().__init__(*args, **kwargs)
        self.merchant = merchant
        everyone = [("", _("All stores"))]
        self.fields["store"].widget.choices = everyone + [
            (store.pk, store.name) for store in Store.objects.filter(merchant=merchant)
            .order_by("-active", "name")]
        self.fields["cashier"].widget.choices = [("", _("All cashiers"))] + [
            (staff.pk, counters.display_name(staff)) for staff in
            Staff.objects.select_related("user").filter(merchant=merchant)
            .order_by("-active", "created_at")]

    def clean(self):
        data = super().clean()
        preset = data.get("period") or "30"
        data["period"] = preset
        today = timezone.localdate()
        if preset == "custom":
            if not data.get("since"):
                self.add_error("since", _("Choose the first day."))
            if not data.get("until"):
                self.add_error("until", _("Choose the last day."))
            return data
        data["until"] = today
        data["since"] = {
            "today": today, "7": today - timedelta(days=6), "30": today - timedelta(days=29),
            "month": today.replace(day=1), "year": today - timedelta(days=364),
        }[preset]
        return data

    def clean_default(self) -> dict:
        """The filter nobody chose: the last 30 days, every store and cashier."""
        self.cleaned_data = {"period": "30"}
        return self.clean()


def _selection(request) -> tuple[PeriodForm, cards.Selection | None]:
    """The filter of the query string and the selection it names; None with the form's
    errors when it names no valid period. Another merchant's store or cashier is a 404."""
    merchant = request.cabinet.merchant
    # The default period is shown chosen, so the owner sees which one the figures are for.
    form = PeriodForm(request.GET or None, merchant=merchant, initial={"period": "30"})
    if request.GET and not form.is_valid():
        return form, None
    data = form.cleaned_data if request.GET else form.clean_default()
    try:
        return form, cards.select(merchant, data["since"], data["until"],
                                  store_id=data.get("store"), cashier_id=data.get("cashier"))
    except NotFound as error:
        raise Http404(str(error)) from error
    except InvalidInput as error:
        form.add_error(error.field if error.field in form.fields else None, str(error))
        return form, None


def _query(selection: cards.Selection) -> str:
    return urlencode({key: value for key, value in (
        ("period", "custom"), ("since", selection.period.start.isoformat()),
        ("until", selection.period.end.isoformat()), ("store", selection.store_id or ""),
        ("cashier", selection.cashier_id or "")) if value != ""})


@require_http_methods(["GET", "HEAD"])
@cabinet_view("read_analytics")
def page(request):
    form, selection = _selection(request)
    context = {"form": form, "selection": selection, "links": [
        {"url": reverse(name), "label": label} for name, label, permission in LINKS
        if request.cabinet.principal.may(permission)]}
    if selection is None:
        return render_page(request, "cabinet/analytics/page.html", context, status=422)
    query = _query(selection)
    context |= {
        "query": query,
        # The first eight come at once, the rest when scrolled to.
        "cards": [{"number": number, "title": TITLES[number],
                   "url": f"{reverse('cabinet:analytics-figure', args=[number])}?{query}",
                   "trigger": "load" if index < 8 else "revealed"}
                  for index, number in enumerate(cards.NUMBERS)],
        "chart_urls": [{"key": key, "title": title,
                        "url": f"{reverse('cabinet:analytics-chart', args=[key])}?{query}"}
                       for key, title in CHARTS.items()],
    }
    return render_page(request, "cabinet/analytics/page.html", context)


def _program(merchant):
    """The program's configuration (the points' precision and word), None before one."""
    try:
        return programs.load(merchant).config
    except Conflict:  # no program yet: points shown as plain numbers
        return None


def formatted(value: int, unit: str, merchant, program, *, sms: bool = False) -> str:
    if unit == "money":
        return money(value, billing.currency() if sms else merchant.currency)
    if unit == "points" and program is not None:
        return points(value, program)
    return format_decimal(value, locale=locale())


def _percent_pattern() -> str:
    """The language's own per-cent pattern ("#,##0%", "#,##0 %") with one decimal."""
    pattern = Locale.parse(locale()).percent_formats[None].pattern
    return pattern.replace("0%", "0.0%").replace("0\xa0%", "0.0\xa0%").replace("0 %", "0.0 %")


def change_text(figure) -> tuple[str, str]:
    """The change as the card shows it ("+12.5 %", or the difference when there was nothing
    before) and its tone."""
    if figure.change == 0:
        return "±0", "neutral"
    tone = "ok" if figure.change > 0 else "warn"
    if figure.key in ("members_lost", "average_discount") or figure.key.endswith("sms_cost"):
        tone = "warn" if figure.change > 0 else "ok"  # more of these is not good news
    if figure.change_percent is None:
        return "", tone
    text = format_percent(figure.change_percent / 100, _percent_pattern(), locale=locale())
    return ("+" if figure.change > 0 else "") + text, tone


@require_http_methods(["GET", "HEAD"])
@cabinet_view("read_analytics")
def figure(request, number: int):
    if number not in cards.NUMBERS:
        raise Http404
    form, selection = _selection(request)
    if selection is None:
        return render_page(request, "cabinet/analytics/figure.html",
                           {"errors": form.errors}, status=422)
    merchant = request.cabinet.merchant
    program = _program(merchant)
    found = cards.figure(selection, number, winback=winback.figures)
    rows = []
    for one in found:
        change, tone = change_text(one)
        sms = one.key.endswith("sms_cost")
        label = LABELS.get(one.key, "")
        if one.topic:
            label = Event(one.topic).label if one.topic in Event.values else one.topic
        rows.append({
            "label": label, "value": formatted(one.value, one.unit, merchant, program, sms=sms),
            "previous": formatted(one.previous, one.unit, merchant, program, sms=sms),
            "change": change, "tone": tone, "key": one.key, "topic": one.topic or "",
            "main": one is found[0],
        })
    return render_page(request, "cabinet/analytics/figure.html", {
        "number": number, "title": TITLES[number], "rows": rows, "selection": selection,
        "whole": number not in cards.SELECTED and (selection.store_id or selection.cashier_id),
        "reviews_pending": number in (12, 13, 14, 15) and not cards.figures.REVIEWS_AVAILABLE,
    })


def _chart(request, key: str, selection: cards.Selection) -> dict:
    merchant = request.cabinet.merchant
    labels: list = []
    datasets: list = []
    kind, unit = "bar", "count"
    if key in ("sales", "points"):
        series = cards.by_day(selection)
        labels = [day.isoformat() for day in series["days"]]
        if key == "sales":
            kind, unit = "bar", "money"
            datasets = [{"label": str(_("Revenue")), "data": series["revenue"], "unit": "money"},
                        {"label": str(_("Checks")), "data": series["checks"], "unit": "count",
                         "type": "line", "axis": "count"}]
        else:
            kind, unit = "line", "points"
            datasets = [{"label": str(_("Accrued")), "data": series["points_accrued"]},
                        {"label": str(_("Spent")), "data": series["points_spent"]}]
    elif key == "purchases":
        parts = {one.key: one.value for one in cards.figure(selection, 9)}
        total = cards.figure(selection, 8)[0].value
        bought = sum(parts.values())
        labels = [str(_("No purchase yet")), str(LABELS["members_1_purchase"]),
                  str(LABELS["members_2_purchases"]),
                  str(LABELS["members_3_or_more_purchases"])]
        datasets = [{"label": str(_("Members")),
                     "data": [max(total - bought, 0), parts["members_1_purchase"],
                              parts["members_2_purchases"],
                              parts["members_3_or_more_purchases"]]}]
    elif key == "tiers":
        kind = "doughnut"
        program = _program(merchant)
        names = {}
        if program is not None:
            names = {tier.code: tier.name for tier in program.tiers}
        rows = cards.tiers(merchant)
        labels = [names.get(code, code or "—") for code, _count in rows]
        datasets = [{"label": str(_("Members")), "data": [count for _code, count in rows]}]
    elif key == "sms":
        kind, unit = "bar", "sms"
        parts = [one for one in cards.figure(selection, 11) if one.topic]
        labels = [str(Event(one.topic).label) if one.topic in Event.values else one.topic
                  for one in parts]
        datasets = [{"label": str(_("SMS spend")), "data": [one.value for one in parts]}]
    elif key == "winback":
        span = selection.period
        won = winback.figures(merchant, span.start, span.end)
        labels = [str(_("Contacted")), str(_("Sent a message")), str(_("Came back")),
                  str(_("Purchases"))]
        datasets = [{"label": str(_("Win-back")),
                     "data": [won.contacts, won.messages, won.buyers, won.purchases]}]
    program = _program(merchant)
    return {
        "type": kind, "unit": unit, "labels": labels, "datasets": datasets,
        "locale": locale().replace("_", "-"),
        "currency": billing.currency() if unit == "sms" else merchant.currency,
        "precision": _precision(billing.currency() if unit == "sms" else merchant.currency),
        "points_precision": program.points_precision if program is not None else 0,
        "dates": key in ("sales", "points"),
        "empty": not any(any(value for value in one["data"]) for one in datasets),
    }


def _precision(currency: str) -> int:
    return get_currency_precision(currency)


@require_http_methods(["GET", "HEAD"])
@cabinet_view("read_analytics")
def chart(request, key: str):
    if key not in CHARTS:
        raise Http404
    form, selection = _selection(request)
    if selection is None:
        return render_page(request, "cabinet/analytics/chart.html", {"errors": form.errors},
                           status=422)
    data = _chart(request, key, selection)
    return render_page(request, "cabinet/analytics/chart.html", {
        "key": key, "title": CHARTS[key], "chart": data,
        "chart_json": json.dumps(data, ensure_ascii=False, separators=(",", ":"))})


urlpatterns = [
    path("analytics/", page, name="analytics"),
    path("analytics/figures/<int:number>/", figure, name="analytics-figure"),
    path("analytics/charts/<slug:key>/", chart, name="analytics-chart"),
    *analytics_exports.urlpatterns,
    *analytics_money.urlpatterns,
    *analytics_simulator.urlpatterns,
]
register(Tab("analytics", _("Analytics"), "cabinet:analytics", "read_analytics", order=60))
