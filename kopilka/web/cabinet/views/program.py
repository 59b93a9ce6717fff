"""The program, tiers and rules editors with the engine's live preview; versions and roll
back (#16).

/cabinet/program/ is the editor once the merchant has a program (read_setup to look,
edit_program to save), and the template picker before that. The editor saves through
`programs.services.save_program`, as the management API does, so both store a version
(`kopilka.programs.versions`). The preview quotes the UNSAVED answers with the real engine
(`programs.services.try_program`) and writes nothing.
"""

from datetime import datetime, timedelta

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from kopilka.core.errors import DomainError
from kopilka.programs import services as programs
from kopilka.programs import versions
from kopilka.programs.config import ProgramConfig
from kopilka.programs.engine import BasketLine
from kopilka.programs.models import ProgramVersion
from kopilka.tenancy import access
from kopilka.tenancy import counter as counters
from kopilka.tenancy.models import Staff
from kopilka.web.cabinet.session import cabinet_view
from kopilka.web.cabinet.starters import STARTERS, describe
from kopilka.web.cabinet.tabs import Tab, register
from kopilka.web.cabinet.views.program_forms import ON_WEEKDAY, EditorForms
from kopilka.web.htmx import render_page

SIMULATOR = "/cabinet/analytics/simulator/"


def _refused(request):
    staff = request.cabinet.staff
    return render(request, "cabinet/refused.html",
                  {"staff": staff, "counter": access.role_may(staff.role, "sell")}, status=403)


def _saved(merchant) -> ProgramConfig | None:
    if access.context(merchant)["program"] is None:
        return None
    return programs.load(merchant).config


def _simulator() -> str | None:
    """The analytics simulator's address when that part of the cabinet has it."""
    from django.urls import resolve
    from django.urls.exceptions import Resolver404

    try:
        resolve(SIMULATOR)
    except Resolver404:
        return None
    return SIMULATOR


@require_http_methods(["GET", "HEAD", "POST"])
@cabinet_view("read_setup")
def editor(request):
    cabinet = request.cabinet
    merchant = cabinet.merchant
    may_edit = cabinet.principal.may("edit_program")
    saved = _saved(merchant)
    if saved is None:  # no program yet: the templates first
        if not may_edit:
            return _refused(request)
        return render_page(request, "cabinet/program.html", {"starters": STARTERS.values()})
    if request.method == "POST" and not may_edit:
        return _refused(request)
    forms = EditorForms(merchant.currency, saved,
                        request.POST if request.method == "POST" else None)
    if not may_edit:
        forms.read_only()
    status = 200
    if request.method == "POST":
        config = forms.config()
        validated = forms.validate(config) if config is not None else None
        if validated is not None:
            try:
                program = programs.save_program(merchant, config,
                                                actor=cabinet.principal.actor)
            except DomainError as error:
                forms.program.add_error(None, error.detail)
            else:
                messages.success(request, _("Program saved: version %(number)s.")
                                 % {"number": program.version})
                return redirect("cabinet:program")
        status = 422
    return render_page(request, "cabinet/program/editor.html", {
        "forms": forms, "may_edit": may_edit, "preview": _preview(merchant, forms, saved),
        "simulator": _simulator(),
        "version": access.context(merchant)["program"].version,
    }, status=status)


def _moment(merchant, weekday: int, at) -> datetime:
    """The next `weekday` (1 = Monday) at local time `at`, from today on."""
    zone = timezone.get_current_timezone()
    today = timezone.localdate()
    day = today + timedelta(days=(weekday - today.isoweekday()) % 7)
    return datetime.combine(day, at, tzinfo=zone)


def _preview(merchant, forms: EditorForms, saved: ProgramConfig) -> dict:
    """What the example sale earns and may pay under the answers on the page (or the saved
    program when the page sent none: a role that only reads)."""
    preview = forms.preview
    if preview.is_bound and not preview.is_valid():
        return {"errors": True, "form": preview}
    example = preview.cleaned_data if preview.is_bound else {
        name: preview[name].initial if name != "tier" else preview.initial["tier"]
        for name in preview.fields}
    config = saved.model_dump(mode="json", by_alias=True)
    if forms.program.is_bound and "type" in forms.program.data:
        config = forms.config()
        if config is None or forms.validate(config) is None:
            return {"errors": True}
    moment = _moment(merchant, example["weekday"], example["at"])
    try:
        validated, quote = programs.try_program(merchant, config, programs.TrialSale(
            lines=(BasketLine(line_id="1", amount=forms._money(example["amount"])),),
            tier=example["tier"] if example["tier"] in {t["code"] for t in config["tiers"]}
            else None, occurred_at=moment))
    except DomainError as error:
        return {"problem": error.detail}
    tier = next(t for t in validated.tiers if t.code == quote.tier_code)
    return {"quote": quote, "program": validated, "tier": tier,
            "weekday": ON_WEEKDAY[example["weekday"]], "at": example["at"], "quote_at": moment,
            "currency": merchant.currency, "amount": quote.total}


@require_http_methods(["GET", "HEAD", "POST"])
@cabinet_view("read_setup")
def preview(request):
    """The preview alone, for htmx as the owner types: no writes."""
    merchant = request.cabinet.merchant
    saved = _saved(merchant)
    if saved is None:
        raise Http404
    forms = EditorForms(merchant.currency, saved,
                        request.POST if request.method == "POST" else None)
    # Always the fragment: it is only ever asked for by the editor's page.
    return render(request, "cabinet/program/editor.html#preview",
                  {"preview": _preview(merchant, forms, saved), "forms": forms})


@require_http_methods(["GET", "HEAD"])
@cabinet_view("edit_program")
def templates(request):
    return render_page(request, "cabinet/program.html", {"starters": STARTERS.values()})


# --- versions -----------------------------------------------------------------------------------


def _who(version: ProgramVersion, names: dict) -> str:
    if version.actor_kind == "staff":
        return names.get(version.actor_label, version.actor_label)
    return {"token": _("the management API"), "cli": _("the command line"),
            "system": _("Kopilka")}.get(version.actor_kind, version.actor_label)


def _staff_names(merchant) -> dict:
    return {staff.user.email: counters.display_name(staff)
            for staff in Staff.objects.select_related("user").filter(merchant=merchant)}


@require_http_methods(["GET", "HEAD"])
@cabinet_view("read_setup")
def history(request):
    merchant = request.cabinet.merchant
    found = versions.history(merchant)
    names = _staff_names(merchant)
    language = translation.get_language() or "en"
    rows = []
    for index, version in enumerate(found):
        before = found[index + 1].config if index + 1 < len(found) else None
        rows.append({"version": version, "who": _who(version, names),
                     "changes": versions.changes(before, version.config, merchant.currency,
                                                 language)})
    return render_page(request, "cabinet/program/versions.html", {
        "rows": rows, "current": found[0].number if found else None,
        "may_edit": request.cabinet.principal.may("edit_program")})


@require_http_methods(["GET", "HEAD", "POST"])
@cabinet_view("read_setup")
def version(request, pk: int):
    """One version: the program in words and its changes from the current one; POST rolls
    back to it (a new version equal to this one)."""
    cabinet = request.cabinet
    merchant = cabinet.merchant
    found = ProgramVersion.objects.filter(merchant=merchant, pk=pk).first()
    if found is None:
        raise Http404
    if request.method == "POST":
        if not cabinet.principal.may("edit_program"):
            return _refused(request)
        try:
            program = versions.restore(merchant, found.number, actor=cabinet.principal.actor)
        except DomainError as error:
            messages.error(request, error.detail)
            return redirect("cabinet:program-version", pk)
        messages.success(request, _("Version %(old)s is back as version %(new)s.")
                         % {"old": found.number, "new": program.version})
        return redirect("cabinet:program-versions")
    language = translation.get_language() or "en"
    current = access.context(merchant)["program"]
    config = ProgramConfig.model_validate(found.config)
    return render_page(request, "cabinet/program/version.html", {
        "found": found, "who": _who(found, _staff_names(merchant)),
        "summary": describe(config, merchant.currency, language),
        "is_current": current is not None and current.version == found.number,
        "changes": versions.changes(current.config, found.config, merchant.currency, language)
        if current is not None else [],
        "may_edit": cabinet.principal.may("edit_program")})


urlpatterns = [
    path("program/", editor, name="program"),
    path("program/preview/", preview, name="program-preview"),
    path("program/templates/", templates, name="program-templates"),
    path("program/versions/", history, name="program-versions"),
    path("program/versions/<int:pk>/", version, name="program-version"),
]
register(Tab("program", gettext_lazy("Program"), "cabinet:program", "read_setup", order=30))

