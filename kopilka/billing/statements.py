"""Statements of a merchant's billing account for a period of local days: the opening
balance, every charge and payment, the closing balance (opening + payments - charges, which
is the last entry's `balance_after`), with the SMS money of the period from the SMS account
shown beside it. As XLSX (XlsxWriter) and PDF (WeasyPrint), and the reconciliation statement
(акт сверки) of the same period as PDF. Figures are integers in minor units to the end."""

import io
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import xlsxwriter
from babel.numbers import get_currency_precision
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from kopilka.billing.models import Entry
from kopilka.billing.services import money
from kopilka.messaging import billing as sms
from kopilka.tenancy.models import Merchant


@dataclass
class Statement:
    merchant: Merchant
    start: date  # first local day
    end: date  # last local day (inclusive)
    opening: int
    entries: list[Entry] = field(default_factory=list)
    sms_cost: int = 0  # the SMS account's charges less refunds in the period (linked)

    @property
    def charges(self) -> int:
        return -sum(entry.amount for entry in self.entries if entry.amount < 0)

    @property
    def payments(self) -> int:
        return sum(entry.amount for entry in self.entries if entry.amount > 0)

    @property
    def closing(self) -> int:
        return self.opening + self.payments - self.charges

    @property
    def currency(self) -> str:
        return sms.currency()

    def rows(self) -> list[dict]:
        return [{"entry": entry, "when": entry.created_at, "day": entry.day,
                 "what": capfirst(entry.get_kind_display()), "note": entry.note,
                 "charge": -entry.amount if entry.amount < 0 else 0,
                 "payment": entry.amount if entry.amount > 0 else 0,
                 "after": entry.balance_after} for entry in self.entries]


def _midnight(merchant: Merchant, day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=ZoneInfo(merchant.timezone))


def statement(merchant: Merchant, start: date, end: date) -> Statement:
    """The statement of local days `start`..`end` (inclusive)."""
    since, until = _midnight(merchant, start), _midnight(merchant, end + timedelta(days=1))
    rows = Entry.objects.filter(merchant=merchant)
    before = rows.filter(created_at__lt=since).order_by("-created_at", "-pk").first()
    entries = list(rows.filter(created_at__gte=since, created_at__lt=until)
                   .order_by("created_at", "pk"))
    return Statement(merchant=merchant, start=start, end=end,
                     opening=before.balance_after if before else 0, entries=entries,
                     sms_cost=sum(topic.cost for topic in sms.costs(merchant, since, until)))


def _major(amount: int) -> Decimal:
    return Decimal(amount).scaleb(-get_currency_precision(sms.currency()))


def xlsx(found: Statement) -> bytes:
    """The statement as a workbook: one sheet, money as numbers in major units (2 places)."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = book.add_worksheet(_("Statement")[:31])
    bold = book.add_format({"bold": True})
    amount = book.add_format({"num_format": "#,##0.00"})
    total = book.add_format({"num_format": "#,##0.00", "bold": True})
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    sheet.write(0, 0, _("Statement of the Kopilka account"), bold)
    sheet.write(1, 0, found.merchant.name)
    sheet.write(2, 0, _("Period"))
    sheet.write(2, 1, f"{found.start.isoformat()} – {found.end.isoformat()}")
    sheet.write(3, 0, _("Currency"))
    sheet.write(3, 1, found.currency)
    sheet.write(5, 0, _("Opening balance"), bold)
    sheet.write_number(5, 4, _major(found.opening), total)
    heads = [_("Day"), _("What"), _("Charge"), _("Payment"), _("Balance after")]
    for col, head in enumerate(heads):
        sheet.write(6, col, head, bold)
    line = 7
    for row in found.rows():
        sheet.write_datetime(line, 0, datetime.combine(row["day"], time()), day)
        sheet.write(line, 1, f"{row['what']} · {row['note']}" if row["note"] else row["what"])
        sheet.write_number(line, 2, _major(row["charge"]), amount)
        sheet.write_number(line, 3, _major(row["payment"]), amount)
        sheet.write_number(line, 4, _major(row["after"]), amount)
        line += 1
    sheet.write(line, 1, _("Total"), bold)
    sheet.write_number(line, 2, _major(found.charges), total)
    sheet.write_number(line, 3, _major(found.payments), total)
    sheet.write(line + 1, 0, _("Closing balance"), bold)
    sheet.write_number(line + 1, 4, _major(found.closing), total)
    sheet.write(line + 3, 0, _("SMS in the period (the SMS account)"))
    sheet.write_number(line + 3, 4, _major(found.sms_cost), amount)
    sheet.set_column(0, 0, 14)
    sheet.set_column(1, 1, 48)
    sheet.set_column(2, 4, 16)
    book.close()
    return out.getvalue()


def _context(found: Statement) -> dict:
    return {
        "s": found, "merchant": found.merchant,
        "rows": [{**row, "charge": money(row["charge"]) if row["charge"] else "",
                  "payment": money(row["payment"]) if row["payment"] else "",
                  "after": money(row["after"])} for row in found.rows()],
        "opening": money(found.opening), "closing": money(found.closing),
        "charges": money(found.charges), "payments": money(found.payments),
        "sms_cost": money(found.sms_cost),
        "debt": money(-found.closing) if found.closing < 0 else None,
        "credit": money(found.closing) if found.closing > 0 else None,
        "language": translation.get_language(),
    }


def document(found: Statement, template: str = "billing/statement.html"):
    """The statement (or with `billing/act.html`, the reconciliation statement) laid out in
    pages: a WeasyPrint Document (its `pages`, then `write_pdf()`)."""
    from weasyprint import CSS, HTML  # a heavy import: only where a PDF is made

    html = render_to_string(template, _context(found))
    # The page's styles come as a separate stylesheet: no <style> in our templates.
    style = CSS(string=render_to_string(template.replace(".html", ".css")))
    return HTML(string=html).render(stylesheets=[style])


def pdf(found: Statement, template: str = "billing/statement.html") -> bytes:
    return document(found, template).write_pdf()
