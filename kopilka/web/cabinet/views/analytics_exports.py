"""The cabinet's exports (ANL-3): members and transactions to XLSX or CSV. A small export is
written during the request; a large one by a worker, its progress polled by the page. The
download link works for a day (kopilka/analytics/exports.py)."""

from django import forms
from django.http import FileResponse, Http404
from django.shortcuts import redirect
from django.urls import path
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from kopilka.analytics import exports
from kopilka.analytics.models import Export
from kopilka.core.errors import InvalidInput, NotFound
from kopilka.web.cabinet.session import cabinet_view
from kopilka.web.forms import Form
from kopilka.web.htmx import render_page

RECENT = 20
WAITING = (Export.Status.QUEUED, Export.Status.RUNNING)


class ExportForm(Form):
    kind = forms.ChoiceField(label=_("What"), widget=forms.RadioSelect, initial="members",
                             choices=[("members", _("Members")),
                                      ("transactions", _("Transactions"))])
    format = forms.ChoiceField(label=_("Format"), widget=forms.RadioSelect, initial="xlsx",
                               choices=Export.Format.choices)
    since = forms.DateField(label=_("Transactions from"), required=False,
                            widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    until = forms.DateField(label=_("Transactions to"), required=False,
                            widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))


def _recent(merchant) -> list[Export]:
    return list(Export.objects.filter(merchant=merchant).order_by("-created_at", "-pk")[:RECENT])


def _context(request, form) -> dict:
    cabinet = request.cabinet
    recent = _recent(cabinet.merchant)
    return {"form": form, "exports": recent,
            "waiting": any(export.status in WAITING for export in recent),
            "phones": cabinet.principal.may("export_members")}


@require_http_methods(["GET", "HEAD", "POST"])
@cabinet_view("export_records")
def exports_page(request):
    cabinet = request.cabinet
    if request.method != "POST":
        return render_page(request, "cabinet/analytics/exports.html",
                           _context(request, ExportForm()))
    form = ExportForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            exports.start(cabinet.merchant, kind=data["kind"], format=data["format"],
                          phones=cabinet.principal.may("export_members"),
                          language=translation.get_language() or "ru",
                          actor=cabinet.principal.actor, since=data.get("since"),
                          until=data.get("until"))
        except InvalidInput as error:
            form.add_error(error.field if error.field in form.fields else None, str(error))
        else:
            return redirect("cabinet:analytics-exports")
    return render_page(request, "cabinet/analytics/exports.html", _context(request, form),
                       status=422)


@require_http_methods(["GET", "HEAD"])
@cabinet_view("export_records")
def exports_list(request):
    """The list alone: what the page polls while an export is being written."""
    return render_page(request, "cabinet/analytics/exports.html",
                       _context(request, ExportForm()), fragment="list")


@require_http_methods(["GET", "HEAD"])
@cabinet_view("export_records")
def export_file(request, token: str):
    try:
        export, found = exports.downloadable(request.cabinet.merchant, token,
                                             actor=request.cabinet.principal.actor)
    except NotFound as error:
        raise Http404(str(error)) from error
    content_type = ("text/csv; charset=utf-8" if export.format == Export.Format.CSV else
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    return FileResponse(found.open("rb"), as_attachment=True,
                        filename=exports.file_name(export), content_type=content_type)


urlpatterns = [
    path("analytics/exports/", exports_page, name="analytics-exports"),
    path("analytics/exports/list/", exports_list, name="analytics-exports-list"),
    path("analytics/exports/<str:token>/", export_file, name="analytics-export-file"),
]
