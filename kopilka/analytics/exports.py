"""Exports of members and transactions to XLSX and CSV (ANL-3).

- `start` checks the request, records an `Export` and the audit entry, and writes the file at
  once when it is small (up to SMALL_ROWS rows) or queues the `write` task for a worker.
- `write` streams the rows from the database in chunks into the file (XlsxWriter with
  `constant_memory`: one row in memory at a time; CSV in UTF-8 with a BOM, which Excel reads),
  counting its progress in the row every PROGRESS_EVERY rows.
- The file is downloaded through the export's secret token until `expires_at` (a day);
  then the `expire_task`, queued to run at that moment, deletes it; `purge` (run whenever an
  export starts) catches any whose task was lost.
  Every download is audited too.
- Column headers are in the language of whoever asked; the phone column is there only for
  someone who may see full phones (`export_members`), decided by the caller.
"""

import csv
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.numbers import get_currency_precision
from django.conf import settings
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.tasks import task
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django_scopes import scope, scopes_disabled

from kopilka.analytics.models import Export
from kopilka.core import audit, clock
from kopilka.core.actor import Actor
from kopilka.core.errors import Conflict, InvalidInput, NotFound
from kopilka.members.models import Card, Member
from kopilka.processing.models import Purchase
from kopilka.programs import services as programs
from kopilka.tenancy.models import Merchant

LIFETIME = timedelta(days=1)  # how long a finished file may be downloaded
SMALL_ROWS = 10_000  # written in the request; more go to a worker
PROGRESS_EVERY = 5_000
CHUNK = 2_000
MAX_DAYS = 3 * 366 + 1


@dataclass(frozen=True)
class Column:
    key: str
    title: object  # a lazy translation
    kind: str  # text, money, points, date, datetime, int


MEMBER_COLUMNS = (
    Column("phone", gettext_lazy("Phone"), "text"),
    Column("name", pgettext_lazy("a person", "Name"), "text"),
    Column("gender", gettext_lazy("Gender"), "text"),
    Column("birth_date", gettext_lazy("Birth date"), "date"),
    Column("email", gettext_lazy("E-mail"), "text"),
    Column("comment", gettext_lazy("Comment"), "text"),
    Column("registered", gettext_lazy("Registered"), "datetime"),
    Column("tier", gettext_lazy("Tier"), "text"),
    Column("balance", gettext_lazy("Balance"), "points"),
    Column("purchases", gettext_lazy("Purchases"), "int"),
    Column("average_check", gettext_lazy("Average check"), "money"),
    Column("last_purchase", gettext_lazy("Last purchase"), "datetime"),
    Column("total_spend", gettext_lazy("Total spend"), "money"),
)
TRANSACTION_COLUMNS = (
    Column("date", gettext_lazy("Date"), "datetime"),
    Column("phone", gettext_lazy("Phone"), "text"),
    Column("card", gettext_lazy("Card"), "text"),
    Column("amount", gettext_lazy("Amount"), "money"),
    Column("discount", gettext_lazy("Discount"), "money"),
    Column("points_spent", gettext_lazy("Points spent"), "points"),
    Column("points_accrued", gettext_lazy("Points accrued"), "points"),
    Column("refunded", gettext_lazy("Refunded"), "money"),
    Column("card_type", gettext_lazy("Card type"), "text"),
)


def directory() -> Path:
    return Path(settings.DATA_DIR) / "exports"


def file_path(export: Export) -> Path:
    return directory() / str(export.merchant_id) / f"{export.token}.{export.format}"


def columns(export: Export) -> tuple[Column, ...]:
    chosen = MEMBER_COLUMNS if export.kind == Export.Kind.MEMBERS else TRANSACTION_COLUMNS
    return tuple(column for column in chosen if export.phones or column.key != "phone")


def _bounds(merchant: Merchant, since: date | None, until: date | None):
    zone = ZoneInfo(merchant.timezone)
    start = datetime.combine(since, time(0), tzinfo=zone) if since else None
    end = datetime.combine(until + timedelta(days=1), time(0), tzinfo=zone) if until else None
    return start, end


def _members(merchant: Merchant):
    return Member.objects.filter(merchant=merchant).exclude(status=Member.Status.ERASED)


def _purchases(export: Export):
    rows = Purchase.objects.filter(merchant=export.merchant)
    start, end = _bounds(export.merchant, export.since, export.until)
    if start is not None:
        rows = rows.filter(occurred_at__gte=start)
    if end is not None:
        rows = rows.filter(occurred_at__lt=end)
    return rows


def count(export: Export) -> int:
    if export.kind == Export.Kind.MEMBERS:
        return _members(export.merchant).count()
    return _purchases(export).count()


def start(merchant: Merchant, *, kind: str, format: str, phones: bool, language: str,
          actor: Actor, since: date | None = None, until: date | None = None,
          background: bool | None = None) -> Export:
    """Record an export and write it now (small) or queue it (large, or `background`)."""
    if kind not in Export.Kind.values:
        raise InvalidInput(_("Export members or transactions."), field="kind")
    if format not in Export.Format.values:
        raise InvalidInput(_("The format is xlsx or csv."), field="format")
    if since and until and until < since:
        raise InvalidInput(_("The period must not end before it starts."), field="until")
    if since and until and (until - since).days + 1 > MAX_DAYS:
        raise InvalidInput(_("A period may be at most %(days)s days long.") % {"days": MAX_DAYS},
                           field="since")
    purge()
    now = clock.now()
    with transaction.atomic():
        export = Export.objects.create(
            merchant=merchant, kind=kind, format=format, phones=phones,
            language=language or merchant.language or "ru",
            since=since if kind == Export.Kind.TRANSACTIONS else None,
            until=until if kind == Export.Kind.TRANSACTIONS else None,
            token=secrets.token_urlsafe(24), requested_by=actor.label[:200], created_at=now,
            expires_at=now + LIFETIME)
        export.rows_total = count(export)
        export.save(update_fields=["rows_total"])
        audit.record("analytics.export.started", actor=actor, merchant=merchant, obj=export,
                     data={"kind": kind, "format": format, "phones": phones,
                           "rows": export.rows_total,
                           "since": since.isoformat() if since else None,
                           "until": until.isoformat() if until else None})
        if background is None:
            background = export.rows_total > SMALL_ROWS
        if background:
            transaction.on_commit(lambda: write_task.enqueue(export.pk), robust=True)
        if expire_task.get_backend().supports_defer:
            transaction.on_commit(lambda: expire_task.using(run_after=export.expires_at)
                                  .enqueue(export.pk), robust=True)
    if not background:
        write(export)
    return export


@task()
def write_task(export_id: int) -> str:
    """The worker's side of `start`: write the export if it is still queued."""
    with scopes_disabled():
        merchant_id = (Export.objects.filter(pk=export_id)
                       .values_list("merchant_id", flat=True).first())
    if merchant_id is None:
        return "gone"
    with scope(merchant=merchant_id):
        export = Export.objects.select_related("merchant").get(pk=export_id)
        if export.status != Export.Status.QUEUED:
            return export.status
        return write(export).status


def write(export: Export) -> Export:
    """Write the file, with progress in the row; FAILED (and no file) on an error."""
    claimed = Export.objects.filter(pk=export.pk, status=Export.Status.QUEUED).update(
        status=Export.Status.RUNNING)
    if not claimed:
        export.refresh_from_db()
        return export
    path = file_path(export)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with translation.override(export.language):
            titles = [str(column.title) for column in columns(export)]
            rows = _rows(export)
            if export.format == Export.Format.XLSX:
                done = _xlsx(export, path, titles, rows)
            else:
                done = _csv(export, path, titles, rows)
    except Exception as error:  # the file is useless: say so in the row, keep no half file
        path.unlink(missing_ok=True)
        Export.objects.filter(pk=export.pk).update(status=Export.Status.FAILED,
                                                   error=str(error)[:500],
                                                   finished_at=clock.now())
        raise
    Export.objects.filter(pk=export.pk).update(
        status=Export.Status.DONE, rows_done=done, size=path.stat().st_size,
        finished_at=clock.now())
    export.refresh_from_db()
    return export


def _progress(export: Export, done: int) -> None:
    if done % PROGRESS_EVERY == 0:
        Export.objects.filter(pk=export.pk).update(rows_done=done)


def _xlsx(export: Export, path: Path, titles: list[str], rows: Iterator[list]) -> int:
    import xlsxwriter

    kinds = [column.kind for column in columns(export)]
    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True,
                                               "remove_timezone": True})
    try:
        sheet = workbook.add_worksheet(_("Members") if export.kind == Export.Kind.MEMBERS
                                       else _("Transactions"))
        bold = workbook.add_format({"bold": True})
        formats = {"money": workbook.add_format({"num_format": "#,##0.00"}),
                   "points": workbook.add_format({"num_format": "#,##0.##"}),
                   "date": workbook.add_format({"num_format": "yyyy-mm-dd"}),
                   "datetime": workbook.add_format({"num_format": "yyyy-mm-dd hh:mm"})}
        for index, title in enumerate(titles):
            sheet.write_string(0, index, title, bold)
            sheet.set_column(index, index, max(12, len(title) + 2))
        done = 0
        for done, row in enumerate(rows, start=1):
            for index, (kind, value) in enumerate(zip(kinds, row, strict=True)):
                if value is None or value == "":
                    continue
                if kind == "text":
                    sheet.write_string(done, index, value)
                elif kind in ("date", "datetime"):
                    sheet.write_datetime(done, index, value, formats[kind])
                elif kind == "int":
                    sheet.write_number(done, index, value)
                else:
                    sheet.write_number(done, index, value, formats[kind])
            _progress(export, done)
    finally:
        workbook.close()
    return done


def _csv(export: Export, path: Path, titles: list[str], rows: Iterator[list]) -> int:
    kinds = [column.kind for column in columns(export)]
    done = 0
    with path.open("w", newline="", encoding="utf-8-sig") as stream:
        out = csv.writer(stream)
        out.writerow(titles)
        for done, row in enumerate(rows, start=1):
            out.writerow(["" if value is None else
                          value.strftime("%Y-%m-%d %H:%M") if kind == "datetime" else
                          value.isoformat() if kind == "date" else value
                          for kind, value in zip(kinds, row, strict=True)])
            _progress(export, done)
    return done


def _rows(export: Export) -> Iterator[list]:
    merchant = export.merchant
    zone = ZoneInfo(merchant.timezone)
    scale = get_currency_precision(merchant.currency)
    try:
        config = programs.load(merchant).config
        point_scale, tiers = config.points_precision, {t.code: t.name for t in config.tiers}
    except Conflict:  # no program: points are whole, tiers are their codes
        point_scale, tiers = 0, {}

    def money(value: int | None) -> Decimal | None:
        return None if value is None else Decimal(value).scaleb(-scale)

    def points(value: int | None) -> Decimal | None:
        return None if value is None else Decimal(value).scaleb(-point_scale)

    def local(moment: datetime | None) -> datetime | None:
        return None if moment is None else moment.astimezone(zone).replace(tzinfo=None)

    phones = export.phones
    if export.kind == Export.Kind.MEMBERS:
        genders = dict(Member.Gender.choices)
        found = (_members(merchant).order_by("pk").values_list(
            "person__phone", "first_name", "last_name", "gender", "birth_date", "email",
            "comment", "registered_at", "account__tier_code", "account__available",
            "account__purchase_count", "account__lifetime_spend", "account__last_purchase_at"))
        for (phone, first, last, gender, birth, email, comment, registered, tier, available,
             purchases, spend, last_purchase) in found.iterator(chunk_size=CHUNK):
            purchases = purchases or 0
            average = _ratio(spend or 0, purchases) if purchases else None
            row = [str(phone) if phone else "", f"{first} {last}".strip(),
                   str(genders.get(gender, gender)) if gender else "", birth, email, comment,
                   local(registered), tiers.get(tier, tier or ""), points(available or 0),
                   purchases, money(average), local(last_purchase), money(spend or 0)]
            yield row if phones else row[1:]
        return
    card = Card.objects.filter(member=OuterRef("member_id"), status=Card.Status.ACTIVE
                               ).order_by("issued_at", "pk")
    kinds = dict(Card.Kind.choices)
    found = (_purchases(export).order_by("occurred_at", "pk")
             .annotate(card_number=Subquery(card.values("number")[:1]),
                       card_kind=Subquery(card.values("kind")[:1]))
             .values_list("occurred_at", "member__person__phone", "card_number", "total",
                          "discount", "points_spent", "points_accrued", "refunded_amount",
                          "card_kind"))
    for (moment, phone, number, total, discount, spent, accrued, refunded,
         card_kind) in found.iterator(chunk_size=CHUNK):
        row = [local(moment), str(phone) if phone else "", number or "", money(total),
               money(discount), points(spent), points(accrued), money(refunded),
               str(kinds.get(card_kind, card_kind or ""))]
        yield row if phones else [row[0], *row[2:]]


def _ratio(amount: int, count: int) -> int:
    return (amount * 2 + count) // (count * 2)


def find(merchant: Merchant, export_id: int) -> Export:
    found = Export.objects.filter(merchant=merchant, pk=export_id).first()
    if found is None:
        raise NotFound(_("No export %(id)s.") % {"id": export_id}, field="export")
    return found


def downloadable(merchant: Merchant, token: str, *, actor: Actor) -> tuple[Export, Path]:
    """The finished, unexpired export behind `token` and its file; the download is audited.
    Anything else (unknown, another merchant's, not ready, expired) is NotFound."""
    export = Export.objects.filter(merchant=merchant, token=token).first()
    if export is None:
        raise NotFound(_("No such export."), field="token")
    return _downloadable(export, actor)


def download_by_id(merchant: Merchant, export_id: int, *, actor: Actor) -> tuple[Export, Path]:
    return _downloadable(find(merchant, export_id), actor)


def _downloadable(export: Export, actor: Actor) -> tuple[Export, Path]:
    path = file_path(export)
    if export.status == Export.Status.EXPIRED or export.expires_at <= clock.now():
        raise NotFound(_("This export has expired: make a new one."), field="token")
    if export.status != Export.Status.DONE or not path.exists():
        raise NotFound(_("This export is not ready yet."), field="token")
    audit.record("analytics.export.downloaded", actor=actor, merchant=export.merchant,
                 obj=export, data={"kind": export.kind, "format": export.format})
    return export, path


def file_name(export: Export) -> str:
    day = export.created_at.astimezone(ZoneInfo(export.merchant.timezone)).date().isoformat()
    return f"{export.merchant.slug}-{export.kind}-{day}.{export.format}"


@task()
def expire_task(export_id: int) -> int:
    """Run at the export's expiry: delete its file (and any other expired one)."""
    return purge()


def purge(now: datetime | None = None) -> int:
    """Delete the files of exports past their expiry and mark them expired (every merchant:
    the tick's housekeeping). Returns how many."""
    now = now or clock.now()
    with scopes_disabled():
        due = list(Export.objects.filter(expires_at__lte=now).exclude(
            status=Export.Status.EXPIRED).select_related("merchant"))
        for export in due:
            file_path(export).unlink(missing_ok=True)
        Export.objects.filter(pk__in=[export.pk for export in due]).update(
            status=Export.Status.EXPIRED)
    return len(due)
