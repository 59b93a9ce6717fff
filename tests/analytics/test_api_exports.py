"""Exports through the management API: started, polled, downloaded and read back; phones
only with export_members; another merchant's export 404; problem+json for bad input."""

import io
from datetime import datetime, timedelta

import openpyxl
import pytest
import time_machine
from django_scopes import scopes_disabled

from kopilka.analytics import exports
from kopilka.analytics.models import Export
from kopilka.tenancy.models import Staff
from tests.analytics.scenario import hand_made_shop

pytestmark = pytest.mark.django_db
URL = "/api/v1/manage/analytics/exports"


@pytest.fixture(autouse=True)
def _files_in_tmp(settings, tmp_path):
    settings.DATA_DIR = tmp_path


@pytest.fixture
def march(shop, charlie):
    return hand_made_shop(shop, charlie.staff)


def read_xlsx(content: bytes) -> list[list]:
    book = openpyxl.load_workbook(io.BytesIO(content), read_only=True)
    return [list(row) for row in book.active.iter_rows(values_only=True)]


def test_transactions_through_the_api(alice, march):
    client = alice.manage(language="uk")
    answer = client.post(URL, {"kind": "transactions", "format": "xlsx",
                               "since": "2030-03-01", "until": "2030-03-07"},
                         content_type="application/json")
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert (body["status"], body["rows_total"], body["phones"]) == ("done", 6, True)
    got = client.get(body["file"])
    assert got.status_code == 200
    rows = read_xlsx(b"".join(got.streaming_content))
    assert rows[0][:4] == ["Дата", "Телефон", "Картка", "Сума"]
    # Anna, Boris twice, Vera, Gleb, Anna: each check's total before its discount.
    assert [row[3] for row in rows[1:]] == [200.0, 500.0, 300.0, 400.0, 200.0, 100.0]
    assert rows[1][0] == datetime(2030, 3, 1, 12)


def test_in_the_background_then_polled(alice, march):
    client = alice.manage()
    answer = client.post(URL, {"kind": "members", "format": "csv", "background": True},
                         content_type="application/json")
    assert answer.status_code == 202
    body = answer.json()
    assert (body["status"], body["file"]) == ("queued", None)
    assert client.get(f"{URL}/{body['id']}/file").status_code == 404
    assert exports.write_task.call(body["id"]) == "done"
    polled = client.get(f"{URL}/{body['id']}").json()
    assert (polled["status"], polled["rows_done"]) == ("done", 5)
    text = b"".join(client.get(polled["file"]).streaming_content).decode("utf-8-sig")
    assert text.splitlines()[0].startswith("Phone,Name,")
    expiry = datetime.fromisoformat(polled["expires_at"]) + timedelta(seconds=1)
    with time_machine.travel(expiry, tick=False):
        assert client.get(polled["file"]).status_code == 404


def test_a_manager_exports_without_phones_and_a_cashier_not_at_all(alice, bob, march):
    manager = alice.as_role(Staff.Role.MANAGER)
    body = manager.post(URL, {"kind": "members"}, content_type="application/json").json()
    assert body["phones"] is False
    rows = read_xlsx(b"".join(manager.get(body["file"]).streaming_content))
    assert rows[0][0] == "Name" and len(rows) == 6
    assert alice.as_role(Staff.Role.CASHIER).post(
        URL, {"kind": "members"}, content_type="application/json").status_code == 403
    assert bob.manage().get(f"{URL}/{body['id']}").status_code == 404
    assert bob.manage().get(f"{URL}/{body['id']}/file").status_code == 404
    with scopes_disabled():
        assert Export.objects.count() == 1


def test_bad_input_is_problem_json(alice):
    client = alice.manage()
    for payload in ({"kind": "sales"}, {"kind": "members", "format": "pdf"},
                    {"kind": "transactions", "since": "2030-03-07", "until": "2030-03-01"},
                    {"kind": "transactions", "since": "0"}):
        answer = client.post(URL, payload, content_type="application/json")
        assert answer.status_code in (400, 422), payload
        assert answer["Content-Type"].startswith("application/problem+json"), payload
    assert client.get(f"{URL}/999999").status_code == 404
