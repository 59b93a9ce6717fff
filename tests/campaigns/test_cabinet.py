"""The cabinet's campaigns: list, new campaign, a batch, its one download, statistics."""

import csv
import io
import zipfile

import openpyxl
import pytest
from django_scopes import scopes_disabled

from kopilka.campaigns.models import Campaign, CodeBatch, SecretCode
from tests.conftest import Clerk


@pytest.fixture
def owner(alice):
    return Clerk(staff=alice.owner, password=alice.owner_password, token=alice.token) \
        .session()


def test_the_owner_runs_a_campaign_from_the_cabinet(alice, owner):
    assert owner.get("/cabinet/campaigns/").status_code == 200
    assert 'href="/cabinet/campaigns/"' in owner.get("/cabinet/").text  # the header's tab
    bad = owner.post("/cabinet/campaigns/new/", {"name": "", "points": "-1",
                                                 "starts_on": "2026-01-01"})
    assert bad.status_code == 422
    assert "Enter a number of points above zero." in bad.text
    created = owner.post("/cabinet/campaigns/new/", {
        "name": "Lemonade caps", "points": "15", "starts_on": "2026-01-01",
        "per_day": "3", "text": "Thanks!"})
    assert created.status_code == 302
    with scopes_disabled():
        campaign = Campaign.objects.get()
    assert (campaign.points, campaign.per_day) == (1500, 3)  # 15.00 points of precision 2
    url = f"/cabinet/campaigns/{campaign.pk}/"
    short = owner.post(url + "batches/", {"count": "1000", "length": "6", "alphabet":
                                          "0123456789"})
    assert short.status_code == 422 and "too easy to guess" in short.text
    made = owner.post(url + "batches/", {"count": "60", "length": "8", "prefix": "lm",
                                         "alphabet": "346789ACDEFGHJKMNPQRTUVWXY",
                                         "check_char": "on"})
    assert made.status_code == 302
    with scopes_disabled():
        batch = CodeBatch.objects.get()
        assert SecretCode.objects.filter(batch=batch).count() == 60
    page = owner.get(url)
    assert "Download once" in page.text
    download = owner.post(f"/cabinet/campaigns/batches/{batch.pk}/download/")
    assert download.status_code == 200
    assert download["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(download.content))
    assert sorted(archive.namelist()) == ["codes.csv", "codes.xlsx", "qr/sheet-001.svg",
                                          "qr/sheet-002.svg"]
    rows = list(csv.reader(io.StringIO(archive.read("codes.csv").decode())))
    assert rows[0] == ["code", "link"] and len(rows) == 61
    code, link = rows[1]
    assert code.startswith("LM") and len(code) == 11
    assert link == f"http://localhost:8000/my/c/{code}/"
    book = openpyxl.load_workbook(io.BytesIO(archive.read("codes.xlsx")), read_only=True)
    assert [c.value for c in next(book.active.iter_rows(min_row=2, max_row=2))] == [code, link]
    svg = archive.read("qr/sheet-001.svg").decode()
    assert svg.count("<text") == 40 and code in svg
    # Once only.
    again = owner.post(f"/cabinet/campaigns/batches/{batch.pk}/download/")
    assert again.status_code == 409
    assert "downloaded already" in again.text
    assert "downloaded" in owner.get(url).text


# The cabinet's campaign routes, each swept below with bob on alice's ids (the cabinet's own
# sweep, tests/cabinet/test_access.py, leaves these to this one).
SWEPT = {"campaigns", "campaign-new", "campaign", "batch-new", "batch-download"}


def test_the_sweep_covers_every_campaign_url():
    from kopilka.web.cabinet.views import campaigns

    assert {pattern.name for pattern in campaigns.urlpatterns} == SWEPT


def test_a_cashier_may_not_and_bob_sees_404(alice, bob, charlie, owner):
    owner.post("/cabinet/campaigns/new/", {"name": "Caps", "points": "1",
                                           "starts_on": "2026-01-01"})
    with scopes_disabled():
        campaign = Campaign.objects.get()
    assert charlie.session().get("/cabinet/campaigns/").status_code == 403
    bob_owner = Clerk(staff=bob.owner, password=bob.owner_password, token=bob.token).session()
    assert bob_owner.get(f"/cabinet/campaigns/{campaign.pk}/").status_code == 404
    assert bob_owner.post(f"/cabinet/campaigns/{campaign.pk}/batches/",
                          {"count": "5", "length": "8"}).status_code == 404
    owner.post(f"/cabinet/campaigns/{campaign.pk}/batches/",
               {"count": "5", "length": "8", "alphabet": "346789ACDEFGHJKMNPQRTUVWXY"})
    with scopes_disabled():
        batch = CodeBatch.objects.get()
    assert bob_owner.post(f"/cabinet/campaigns/batches/{batch.pk}/download/").status_code == 404
    assert "Caps" not in bob_owner.get("/cabinet/campaigns/").text
    assert bob_owner.get("/cabinet/campaigns/new/").status_code == 200
    for url in ("/cabinet/campaigns/", "/cabinet/campaigns/new/",
                f"/cabinet/campaigns/{campaign.pk}/"):
        assert charlie.session().get(url).status_code == 403
    assert charlie.session().post(
        f"/cabinet/campaigns/batches/{batch.pk}/download/").status_code == 403
    with scopes_disabled():
        assert CodeBatch.objects.get().sheet is not None  # nobody took the codes
