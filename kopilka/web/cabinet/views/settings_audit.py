"""Settings: the audit log (OPS-3) — who did what, to which object, when and from where —
filtered by actor, action, object and period, newest first in keyset pages: the next page
starts after the last row's (time, id), so a page costs the same at row 10 and row 10 million
(the index audit_merchant_time)."""

import json
from datetime import datetime, time, timedelta

from django import forms
from django.urls import path
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from kopilka.core.models import AuditEntry
from kopilka.tenancy import counter as counters
from kopilka.tenancy.models import Staff
from kopilka.web.cabinet.session import cabinet_view
from kopilka.web.forms import Form
from kopilka.web.htmx import render_page

PAGE = 50


class AuditFilter(Form):
    actor = forms.TypedChoiceField(label=gettext_lazy("Who"), coerce=int, required=False,
                                   empty_value=None)
    action = forms.CharField(label=gettext_lazy("Action"), max_length=100, required=False,
                             help_text=gettext_lazy("The beginning is enough, e.g. tenancy.store"))
    object_type = forms.CharField(label=gettext_lazy("Object"), max_length=60, required=False,
                                  help_text=gettext_lazy("E.g. tenancy.store"))
    object_id = forms.CharField(label=gettext_lazy("Object id"), max_length=60, required=False)
    start = forms.DateField(label=gettext_lazy("From"), required=False,
                            widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=gettext_lazy("To"), required=False,
                          widget=forms.DateInput(attrs={"type": "date"}),
                          help_text=gettext_lazy("Including this day."))

    def __init__(self, *args, people, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["actor"].choices = [("", _("Anyone"))] + [
            (person.user_id, counters.display_name(person)) for person in people]

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["end"] < data["start"]:
            self.add_error("end", _("Must not be before the start."))
        return data


def _midnight(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time()))


def _cursor(text: str) -> tuple[datetime, int] | None:
    """"<ISO time>_<id>" of the last row shown; None when absent or not ours."""
    moment, _sep, pk = text.rpartition("_")
    try:
        parsed = parse_datetime(moment)
    except ValueError:
        return None
    return (parsed, int(pk)) if parsed and parsed.tzinfo and pk.isdigit() else None


def entries(merchant, *, limit: int = PAGE, **filters):
    """One page of the merchant's audit entries, newest first, and whether more follow."""
    found = list(rows_of(merchant, **filters)[:limit + 1])
    return found[:limit], len(found) > limit


def rows_of(merchant, *, actor=None, action="", object_type="", object_id="", start=None,
            end=None, after: tuple[datetime, int] | None = None):
    """The merchant's entries under the filters, newest first, after the cursor."""
    rows = AuditEntry.objects.filter(merchant=merchant)
    if actor is not None:
        rows = rows.filter(actor_user_id=actor)
    if action:
        rows = rows.filter(action__startswith=action)
    if object_type:
        rows = rows.filter(object_type=object_type.lower())
    if object_id:
        rows = rows.filter(object_id=object_id)
    if start is not None:
        rows = rows.filter(created_at__gte=_midnight(start))
    if end is not None:
        rows = rows.filter(created_at__lt=_midnight(end + timedelta(days=1)))
    if after is not None:
        moment, pk = after
        # (time, id) < (moment, pk), written so the time is an index range condition
        rows = rows.filter(created_at__lte=moment).exclude(created_at=moment, pk__gte=pk)
    return rows.order_by("-created_at", "-pk")


@require_http_methods(["GET", "HEAD"])
@cabinet_view("read_audit")
def audit(request):
    merchant = request.cabinet.merchant
    people = list(Staff.objects.select_related("user").filter(merchant=merchant)
                  .order_by("created_at"))
    form = AuditFilter(request.GET or None, people=people)
    filters = {}
    if form.is_bound and form.is_valid():
        filters = {name: value for name, value in form.cleaned_data.items()
                   if value not in (None, "")}
    rows, more = ([], False) if form.errors else entries(
        merchant, after=_cursor(request.GET.get("after", "")), **filters)
    following = None
    if more:
        query = {name: value for name, value in request.GET.items()
                 if name != "after" and value}
        query["after"] = f"{rows[-1].created_at.isoformat()}_{rows[-1].pk}"
        following = "?" + urlencode(query)
    return render_page(request, "cabinet/settings/audit.html", {
        "form": form, "following": following,
        "rows": [{"entry": row, "data": json.dumps(row.data, ensure_ascii=False,
                                                   sort_keys=True) if row.data else ""}
                 for row in rows],
    }, status=422 if form.errors else 200)


urlpatterns = [
    path("settings/audit/", audit, name="settings-audit"),
]
