"""Secret-code campaigns in the cabinet (#18): the list, a new campaign, a campaign with its
batches' statistics and a new batch, and each batch's one download for the printer (a ZIP of
codes.csv, codes.xlsx and, for batches of up to PRINT_SHEET_MAX codes, QR print sheets as
SVG). After the download only the codes' hashes remain.
"""

import csv
import io
import zipfile
from decimal import Decimal, InvalidOperation

import segno
import xlsxwriter
from django import forms
from django.conf import settings
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.urls import path
from django.utils import timezone
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from kopilka.campaigns import services as campaigns
from kopilka.campaigns.models import Alphabet, Campaign, CodeBatch
from kopilka.core.errors import DomainError
from kopilka.programs import services as programs
from kopilka.web.cabinet.session import cabinet_view
from kopilka.web.cabinet.tabs import Tab, register
from kopilka.web.forms import Form
from kopilka.web.htmx import render_page

PRINT_SHEET_MAX = 5000  # codes; a QR sheet per 40 codes (A4, 5 x 8)
XLSX_MAX = 200_000  # codes; a bigger workbook is built in memory too slowly for a request
SHEET_COLUMNS, SHEET_ROWS = 5, 8


def _program(merchant):
    try:
        return programs.load(merchant).config
    except DomainError:
        return None


class PointsField(forms.CharField):
    """Points as shown ("12.50"), cleaned to the program's minor units."""

    def __init__(self, *args, precision: int = 0, **kwargs):
        self.precision = precision
        kwargs.setdefault("max_length", 20)
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal"}))
        super().__init__(*args, **kwargs)

    def clean(self, value):
        text = (super().clean(value) or "").strip().replace(",", ".").replace(" ", "")
        if not text:
            return None
        try:
            number = Decimal(text)
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite() or number <= 0:
            raise forms.ValidationError(_("Enter a number of points above zero."))
        minor = number.scaleb(self.precision)
        if minor != minor.to_integral_value() or minor > 10**9:
            raise forms.ValidationError(
                ngettext("At most %(places)s digit after the point.",
                         "At most %(places)s digits after the point.", self.precision)
                % {"places": self.precision} if self.precision else
                _("Points are whole numbers here."))
        return int(minor)


class CampaignForm(Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200,
                           widget=forms.TextInput(attrs={"autofocus": True}))
    points = PointsField(label=gettext_lazy("Points per code"))
    starts_on = forms.DateField(label=gettext_lazy("Starts on"),
                                widget=forms.DateInput(attrs={"type": "date"}))
    ends_on = forms.DateField(label=gettext_lazy("Ends on"), required=False,
                              widget=forms.DateInput(attrs={"type": "date"}),
                              help_text=gettext_lazy("Empty: no end."))
    per_member = forms.IntegerField(label=gettext_lazy("Codes per member"), required=False,
                                    min_value=1, max_value=100000,
                                    help_text=gettext_lazy("Empty: no limit."))
    per_day = forms.IntegerField(label=gettext_lazy("Codes per member a day"), required=False,
                                 min_value=1, max_value=100000,
                                 help_text=gettext_lazy("Empty: no limit."))
    validity_days = forms.IntegerField(
        label=gettext_lazy("Points valid for, days"), required=False, min_value=1,
        max_value=3650, help_text=gettext_lazy("Empty: as the program says."))
    text = forms.CharField(label=gettext_lazy("Text the member sees after activating"),
                           max_length=500, required=False,
                           widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, precision: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["points"].precision = precision


class BatchForm(Form):
    count = forms.IntegerField(label=gettext_lazy("Number of codes"), min_value=1,
                               max_value=campaigns.MAX_BATCH,
                               widget=forms.NumberInput(attrs={"inputmode": "numeric"}))
    length = forms.IntegerField(label=gettext_lazy("Characters in a code"), initial=8,
                                min_value=campaigns.LENGTHS[0],
                                max_value=campaigns.LENGTHS[1])
    alphabet = forms.ChoiceField(label=gettext_lazy("Characters"), choices=Alphabet.choices,
                                 initial=Alphabet.CLEAR)
    prefix = forms.CharField(label=gettext_lazy("Prefix"), max_length=8, required=False,
                             help_text=gettext_lazy("Capital Latin letters and digits put "
                                                    "before every code of the batch, e.g. LM."))
    check_char = forms.BooleanField(
        label=gettext_lazy("Add a check character"), required=False,
        help_text=gettext_lazy("One more character that catches a mistyped one."))
    points = PointsField(label=gettext_lazy("Points per code"), required=False,
                         help_text=gettext_lazy("Empty: as the campaign says."))

    def __init__(self, *args, precision: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["points"].precision = precision


def _refuse(form: forms.Form, error: DomainError) -> None:
    form.add_error(error.field if error.field in form.fields else None, str(error.detail))


def _campaign(request, campaign_id: int) -> Campaign:
    found = Campaign.objects.filter(pk=campaign_id, merchant=request.cabinet.merchant).first()
    if found is None:
        raise Http404
    return found


def _running(campaign: Campaign, today) -> bool:
    return campaign.starts_on <= today and (campaign.ends_on is None or campaign.ends_on >= today)


@require_safe
@cabinet_view("manage_campaigns")
def campaign_list(request):
    merchant = request.cabinet.merchant
    today = timezone.localdate()
    rows = [{"campaign": c, "running": _running(c, today)} for c in
            Campaign.objects.filter(merchant=merchant).order_by("-starts_on", "-pk")[:200]]
    return render_page(request, "cabinet/campaigns/list.html", {
        "rows": rows, "program": _program(merchant)})


@require_http_methods(["GET", "HEAD", "POST"])
@cabinet_view("manage_campaigns")
def campaign_new(request):
    merchant = request.cabinet.merchant
    program = _program(merchant)
    precision = program.points_precision if program else 0
    form = CampaignForm(request.POST if request.method == "POST" else None, precision=precision,
                        initial={"starts_on": timezone.localdate()})
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        try:
            created = campaigns.create_campaign(
                merchant, name=data["name"], starts_on=data["starts_on"],
                ends_on=data["ends_on"], points=data["points"], per_member=data["per_member"],
                per_day=data["per_day"], validity_days=data["validity_days"],
                text=data["text"], actor=request.cabinet.principal.actor)
        except DomainError as error:
            _refuse(form, error)
        else:
            return redirect("cabinet:campaign", created.pk)
    return render_page(request, "cabinet/campaigns/new.html", {"form": form},
                       status=422 if form.is_bound else 200)


def _detail(request, campaign: Campaign, form: BatchForm, status: int = 200):
    return render_page(request, "cabinet/campaigns/detail.html", {
        "campaign": campaign, "stats": campaigns.batch_stats(campaign), "form": form,
        "program": _program(campaign.merchant),
        "running": _running(campaign, timezone.localdate()),
    }, status=status)


def _precision(merchant) -> int:
    program = _program(merchant)
    return program.points_precision if program else 0


@require_safe
@cabinet_view("manage_campaigns")
def campaign_detail(request, campaign_id: int):
    campaign = _campaign(request, campaign_id)
    return _detail(request, campaign, BatchForm(precision=_precision(campaign.merchant)))


@require_POST
@cabinet_view("manage_campaigns")
def batch_new(request, campaign_id: int):
    campaign = _campaign(request, campaign_id)
    form = BatchForm(request.POST, precision=_precision(campaign.merchant))
    if form.is_valid():
        data = form.cleaned_data
        try:
            campaigns.create_batch(
                campaign, count=data["count"], length=data["length"],
                alphabet=data["alphabet"], prefix=data["prefix"].upper(),
                check_char=data["check_char"], points=data["points"],
                actor=request.cabinet.principal.actor)
        except DomainError as error:
            _refuse(form, error)
        else:
            return redirect("cabinet:campaign", campaign.pk)
    return _detail(request, campaign, form, status=422)


@require_POST
@cabinet_view("manage_campaigns")
def batch_download(request, batch_id: int):
    batch = CodeBatch.objects.filter(pk=batch_id, merchant=request.cabinet.merchant) \
        .select_related("campaign").first()
    if batch is None:
        raise Http404
    try:
        # One transaction: if making the file fails, the codes are still there to retry.
        with transaction.atomic():
            codes = campaigns.take_sheet(batch, actor=request.cabinet.principal.actor)
            payload = printer_zip(batch, codes)
    except DomainError as error:
        return render_page(request, "cabinet/campaigns/gone.html", {
            "campaign": batch.campaign, "problem": str(error.detail)}, status=409)
    response = HttpResponse(payload, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="codes-{batch.pk}.zip"'
    response["Cache-Control"] = "no-store"
    return response


def link_of(code: str) -> str:
    return f"{settings.PUBLIC_URL.rstrip('/')}/my/c/{code}/"


def printer_zip(batch: CodeBatch, codes: list[str]) -> bytes:
    """codes.csv (code, link), codes.xlsx (the same, up to XLSX_MAX codes) and, for small
    batches, QR sheets."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow(["code", "link"])
        writer.writerows((code, link_of(code)) for code in codes)
        archive.writestr("codes.csv", text.getvalue())
        if len(codes) <= XLSX_MAX:
            book_bytes = io.BytesIO()
            book = xlsxwriter.Workbook(book_bytes, {"in_memory": True})
            sheet = book.add_worksheet("codes")
            sheet.write_row(0, 0, ["code", "link"])
            for row, code in enumerate(codes, start=1):
                sheet.write_string(row, 0, code)
                sheet.write_string(row, 1, link_of(code))
            book.close()
            archive.writestr("codes.xlsx", book_bytes.getvalue())
        if len(codes) <= PRINT_SHEET_MAX:
            per_page = SHEET_COLUMNS * SHEET_ROWS
            for page, start in enumerate(range(0, len(codes), per_page), start=1):
                archive.writestr(f"qr/sheet-{page:03d}.svg",
                                 qr_sheet(codes[start:start + per_page]))
    return out.getvalue()


def qr_sheet(codes: list[str]) -> str:
    """An A4 page (210 x 297 mm) of QR codes of the codes' links, each with its code below."""
    cell_w, cell_h = 210 / SHEET_COLUMNS, 297 / SHEET_ROWS
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="210mm" height="297mm" '
             'viewBox="0 0 210 297">']
    for i, code in enumerate(codes):
        x, y = (i % SHEET_COLUMNS) * cell_w, (i // SHEET_COLUMNS) * cell_h
        qr = segno.make(link_of(code), error="m")
        size = qr.symbol_size(scale=1, border=2)[0]
        scale = (cell_h - 9) / size
        path_d = qr.svg_inline(scale=1, border=2)
        left = x + (cell_w - size * scale) / 2
        parts.append(f'<g transform="translate({left:.2f} {y + 2:.2f}) scale({scale:.4f})">'
                     f'{path_d}</g>')
        parts.append(f'<text x="{x + cell_w / 2:.2f}" y="{y + cell_h - 3:.2f}" '
                     f'font-family="monospace" font-size="4" text-anchor="middle">'
                     f'{escape(code)}</text>')
    parts.append("</svg>")
    return "".join(parts)


urlpatterns = [
    path("campaigns/", campaign_list, name="campaigns"),
    path("campaigns/new/", campaign_new, name="campaign-new"),
    path("campaigns/<int:campaign_id>/", campaign_detail, name="campaign"),
    path("campaigns/<int:campaign_id>/batches/", batch_new, name="batch-new"),
    path("campaigns/batches/<int:batch_id>/download/", batch_download, name="batch-download"),
]
register(Tab("campaigns", gettext_lazy("Campaigns"), "cabinet:campaigns", "manage_campaigns",
             order=50))
