"""The owner's money view in the cabinet: the points liability at a day, what expires in
30 and 90 days, breakage (kopilka/analytics/liability.py)."""

from babel.numbers import format_decimal, format_percent
from django import forms
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from kopilka.analytics import liability
from kopilka.core.errors import Conflict
from kopilka.programs import services as programs
from kopilka.web.cabinet.session import cabinet_view
from kopilka.web.forms import Form
from kopilka.web.htmx import render_page
from kopilka.web.templatetags.kopilka import locale, points


class DayForm(Form):
    day = forms.DateField(label=_("At the end of"), required=False,
                          widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))


@require_http_methods(["GET", "HEAD"])
@cabinet_view("read_analytics")
def money_view(request):
    merchant = request.cabinet.merchant
    form = DayForm(request.GET or None)
    if request.GET and not form.is_valid():
        return render_page(request, "cabinet/analytics/money.html", {"form": form}, status=422)
    day = (form.cleaned_data.get("day") if request.GET else None) or timezone.localdate()
    found = liability.liability(merchant, day)
    try:
        program = programs.load(merchant).config
    except Conflict:
        program = None
    breakage = (None if found.breakage_percent is None else
                format_percent(found.breakage_percent / 100, "#,##0.0%", locale=locale()))
    def text(amount: int) -> str:
        return points(amount, program) if program is not None else format_decimal(
            amount, locale=locale())

    return render_page(request, "cabinet/analytics/money.html", {
        "form": form, "found": found, "breakage": breakage, "currency": merchant.currency,
        "texts": {name: text(getattr(found, name))
                  for name in ("points", "available", "pending", "expired", "issued")},
        "expiring": [{"days": days, "points": text(amount), "money": money}
                     for days, (amount, money) in found.expiring.items()],
    })


urlpatterns = [path("analytics/money/", money_view, name="analytics-money")]
