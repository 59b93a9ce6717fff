"""Exports (ANL-3) opened back with openpyxl and csv, cell by cell: members and transactions,
headers in the asker's language, phones only for those who may see them, the background path
with its progress, the download link (audited, a day long), the file deleted after it."""

import csv
import io
from datetime import date, datetime, timedelta

import openpyxl
import pytest
import time_machine
from django_scopes import scope, scopes_disabled

from kopilka.analytics import exports
from kopilka.analytics.models import Export
from kopilka.core.actor import Actor
from kopilka.core.models import AuditEntry
from kopilka.tenancy.models import Staff
from tests.analytics.scenario import hand_made_shop
from tests.cabinet.tools import owner_of, staff_client

pytestmark = pytest.mark.django_db
ACTOR = Actor.cli()


@pytest.fixture(autouse=True)
def _files_in_tmp(settings, tmp_path):
    settings.DATA_DIR = tmp_path


@pytest.fixture
def march(shop, charlie):
    return hand_made_shop(shop, charlie.staff)


def sheet(path) -> list[list]:
    book = openpyxl.load_workbook(path, read_only=True)
    return [list(row) for row in book.active.iter_rows(values_only=True)]


def test_members_to_xlsx_in_russian_with_phones(shop, march):
    export = exports.start(shop.merchant, kind="members", format="xlsx", phones=True,
                           language="ru", actor=ACTOR)
    assert (export.status, export.rows_total, export.rows_done) == ("done", 5, 5)
    rows = sheet(exports.file_path(export))
    assert rows[0] == ["Телефон", "Имя", "Пол", "Дата рождения", "E-mail", "Комментарий",
                       "Зарегистрирован", "Уровень", "Баланс", "Покупки", "Средний чек",
                       "Последняя покупка", "Сумма покупок"]
    by_phone = {row[0]: row for row in rows[1:]}
    anna = by_phone["+79990000001"]
    # Anna paid 9 000 + 18 000 + 9 000 - 2 250 refunded over three purchases; 5 % bonuses of
    # that: 450 + 900 + 450 - 112 (the refund took a quarter of the last one back).
    assert anna[1:3] == ["Anna", None]
    assert anna[6] == datetime(2030, 2, 24, 10, 0)  # local (Moscow) time
    assert anna[7:] == ["Base", 16.88, 3, 112.5, datetime(2030, 3, 6, 23, 59), 337.5]
    boris = by_phone["+79990000002"]
    assert boris[8:13] == [25.5, 2, 360.0, datetime(2030, 3, 3, 12), 720.0]  # 3 550 - 1 000
    assert by_phone["+79990000003"][8:] == [0, 1, 0, datetime(2030, 3, 4, 12), 0]  # refunded
    assert len(rows) == 6


def test_members_to_csv_without_phones(shop, march):
    export = exports.start(shop.merchant, kind="members", format="csv", phones=False,
                           language="en", actor=ACTOR)
    text = exports.file_path(export).read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["Name", "Gender", "Birth date", "E-mail", "Comment", "Registered",
                       "Tier", "Balance", "Purchases", "Average check", "Last purchase",
                       "Total spend"]
    assert "+7999" not in text
    assert ["Anna", "", "", "", "", "2030-02-24 10:00", "Base", "16.88", "3", "112.50",
            "2030-03-06 23:59", "337.50"] in rows
    assert rows[1][6:10] == ["standard", "0.00", "0", ""]  # never bought: no average check


def test_transactions_of_a_period(shop, march):
    export = exports.start(shop.merchant, kind="transactions", format="xlsx", phones=True,
                           language="en", actor=ACTOR, since=date(2030, 3, 4),
                           until=date(2030, 3, 6))
    rows = sheet(exports.file_path(export))
    assert rows[0] == ["Date", "Phone", "Card", "Amount", "Discount", "Points spent",
                       "Points accrued", "Refunded", "Card type"]
    assert [row[:2] + row[3:] for row in rows[1:]] == [
        # Vera's, refunded in full: what was sold, and the refund beside it.
        [datetime(2030, 3, 4, 12), "+79990000003", 400.0, 40.0, 0, 18.0, 360.0,
         "phone number"],
        [datetime(2030, 3, 5, 12), "+79990000005", 200.0, 20.0, 0, 9.0, 0, "phone number"],
        [datetime(2030, 3, 6, 23, 59), "+79990000001", 100.0, 10.0, 0, 4.5, 22.5,
         "phone number"],
    ]
    assert all(row[2] for row in rows[1:])  # each member's card number


def test_points_and_zero_amounts_are_written_as_numbers(shop, march):
    export = exports.start(shop.merchant, kind="transactions", format="csv", phones=False,
                           language="en", actor=ACTOR, since=date(2030, 3, 3),
                           until=date(2030, 3, 3))
    rows = list(csv.reader(io.StringIO(exports.file_path(export).read_text("utf-8-sig"))))
    assert rows[0][:2] == ["Date", "Card"]
    assert rows[1][0] == "2030-03-03 12:00" and rows[1][2:] == [
        "300.00", "30.00", "10.00", "13.00", "0.00", "phone number"]


def test_a_large_export_runs_in_the_background_with_progress(shop, march, monkeypatch):
    monkeypatch.setattr(exports, "PROGRESS_EVERY", 2)
    export = exports.start(shop.merchant, kind="members", format="xlsx", phones=False,
                           language="uk", actor=ACTOR, background=True)
    assert (export.status, export.rows_done) == ("queued", 0)
    seen = []
    real = exports._progress

    def spy(export, done):
        real(export, done)
        seen.append(Export.objects.get(pk=export.pk).rows_done)
    monkeypatch.setattr(exports, "_progress", spy)
    assert exports.write_task.call(export.pk) == "done"
    assert seen == [0, 2, 2, 4, 4]
    export.refresh_from_db()
    assert (export.status, export.rows_done) == ("done", 5)
    assert sheet(exports.file_path(export))[0][0] == "Ім'я"
    assert exports.write_task.call(export.pk) == "done"  # a second task does nothing


def test_bad_requests(shop):
    for kwargs, field in (({"kind": "sales"}, "kind"), ({"format": "pdf"}, "format"),
                          ({"since": date(2030, 3, 7), "until": date(2030, 3, 1)}, "until")):
        arguments = {"kind": "members", "format": "xlsx", **kwargs}
        with pytest.raises(exports.InvalidInput) as refused:
            exports.start(shop.merchant, phones=False, language="en", actor=ACTOR,
                          **arguments)
        assert refused.value.field == field


def test_download_is_audited_expires_and_the_file_is_deleted(alice, march):
    client = owner_of(alice, language="ru")
    answer = client.post("/cabinet/analytics/exports/", {"kind": "members", "format": "csv"})
    assert answer.status_code == 302
    with scopes_disabled():
        export = Export.objects.get()
    assert export.phones is True and export.language == "ru"
    url = f"/cabinet/analytics/exports/{export.token}/"
    page = client.get("/cabinet/analytics/exports/").content.decode()
    assert url in page and "Скачать" in page
    got = client.get(url)
    assert got.status_code == 200
    assert got["Content-Disposition"] == (
        f'attachment; filename="alice-coffee-members-{export.created_at.astimezone(
            __import__("zoneinfo").ZoneInfo("Europe/Moscow")).date().isoformat()}.csv"')
    body = b"".join(got.streaming_content).decode("utf-8-sig")
    assert body.splitlines()[0].startswith("Телефон,Имя,")
    with scopes_disabled():
        actions = list(AuditEntry.objects.filter(merchant=alice.merchant,
                                                 action__startswith="analytics.export")
                       .order_by("pk").values_list("action", flat=True))
    assert actions == ["analytics.export.started", "analytics.export.downloaded"]
    with time_machine.travel(export.expires_at + timedelta(seconds=1), tick=False):
        assert client.get(url).status_code == 404
        assert exports.purge() == 1
    assert not exports.file_path(export).exists()
    with scopes_disabled():
        assert Export.objects.get().status == "expired"


def test_who_may_export(alice, bob, march):
    _manager, manager = staff_client(alice, Staff.Role.MANAGER)
    assert manager.post("/cabinet/analytics/exports/",
                        {"kind": "members", "format": "xlsx"}).status_code == 302
    with scopes_disabled():
        export = Export.objects.get()
    assert export.phones is False  # a manager may export, without phones
    page = manager.get("/cabinet/analytics/exports/").content.decode()
    assert "Your role exports without phone numbers." in page
    _cashier, cashier = staff_client(alice, Staff.Role.CASHIER)
    for url in ("/cabinet/analytics/exports/", "/cabinet/analytics/exports/list/",
                f"/cabinet/analytics/exports/{export.token}/"):
        assert cashier.get(url).status_code == 403, url
    # Another merchant's owner: the token is not theirs.
    other = owner_of(bob)
    assert other.get(f"/cabinet/analytics/exports/{export.token}/").status_code == 404
    assert export.token not in other.get("/cabinet/analytics/exports/list/").content.decode()


def test_the_form_speaks_the_users_language(alice):
    client = owner_of(alice, language="uk")
    bad = client.post("/cabinet/analytics/exports/", {"kind": "sales", "format": "xlsx"})
    assert bad.status_code == 422
    backwards = client.post("/cabinet/analytics/exports/", {
        "kind": "transactions", "format": "xlsx", "since": "2030-03-07", "until": "2030-03-01"})
    assert backwards.status_code == 422
    with scope(merchant=alice.merchant):
        assert not Export.objects.exists()
