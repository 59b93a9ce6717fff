"""The program simulator in the cabinet: what would the last N days have cost under another
program? (kopilka/analytics/simulator.py: the real engine, no writes.)"""

import json

from django import forms
from django.urls import path
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from kopilka.analytics import simulator
from kopilka.core.errors import Conflict, InvalidInput
from kopilka.programs import services as programs
from kopilka.web.cabinet.session import cabinet_view
from kopilka.web.forms import Form
from kopilka.web.htmx import render_page


class SimulatorForm(Form):
    days = forms.IntegerField(label=_("Replay the last days"), min_value=1,
                              max_value=simulator.MAX_DAYS, initial=30)
    config = forms.CharField(label=_("Proposed program (JSON)"),
                             widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "false"}),
                             help_text=_("The current program is filled in: change what you "
                                         "want to try."))

    def clean_config(self):
        try:
            found = json.loads(self.cleaned_data["config"])
        except ValueError as error:
            raise forms.ValidationError(
                _("Not valid JSON: %(error)s") % {"error": error}) from error
        if not isinstance(found, dict):
            raise forms.ValidationError(_("A program is a JSON object."))
        return found


ROWS = (
    ("purchases", _("Purchases replayed"), "count"),
    ("discount", _("Discounts"), "money"),
    ("points_issued", _("Points issued"), "points"),
    ("points_spent", _("Points spent"), "points"),
    ("points_spent_money", _("Paid with points"), "money"),
    ("payable", _("Paid in money"), "money"),
    ("liability", _("Liability added"), "money"),
    ("cost", _("What the program gave away"), "money"),
)


@require_http_methods(["GET", "HEAD", "POST"])
@cabinet_view("read_analytics")
def simulator_view(request):
    merchant = request.cabinet.merchant
    try:
        current = programs.load(merchant).config
    except Conflict:
        current = None
    context = {"current": current}
    if request.method != "POST":
        initial = {"days": 30, "config": json.dumps(
            current.model_dump(mode="json", by_alias=True) if current else {},
            ensure_ascii=False, indent=2)}
        return render_page(request, "cabinet/analytics/simulator.html",
                           context | {"form": SimulatorForm(initial=initial)})
    form = SimulatorForm(request.POST)
    if form.is_valid() and current is not None:
        try:
            result = simulator.simulate(merchant, form.cleaned_data["config"],
                                        form.cleaned_data["days"])
        except InvalidInput as error:
            form.add_error("days" if error.field == "days" else "config", str(error))
        else:
            rows = []
            for key, label, unit in ROWS:
                now, then = getattr(result.current, key), getattr(result.proposed, key)
                rows.append({"key": key, "label": label, "unit": unit, "current": now,
                             "proposed": then, "change": then - now})
            return render_page(request, "cabinet/analytics/simulator.html",
                               context | {"form": form, "result": result, "rows": rows})
    return render_page(request, "cabinet/analytics/simulator.html",
                       context | {"form": form}, status=422)


urlpatterns = [path("analytics/simulator/", simulator_view, name="analytics-simulator")]
