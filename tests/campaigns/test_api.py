"""The management API for campaigns: create, batch, statistics, the codes once."""

import pytest
from django_scopes import scope

from kopilka.campaigns import services as campaigns
from kopilka.core.actor import Actor


def test_a_campaign_and_its_batch_through_the_api(alice):
    api = alice.manage()
    bad = api.post("/api/v1/manage/campaigns", {"name": "Caps", "points": 0,
                                                "starts_on": "2026-01-01"},
                   content_type="application/json")
    assert bad.status_code == 422 and bad["Content-Type"] == "application/problem+json"
    made = api.post("/api/v1/manage/campaigns", {"name": "Caps", "points": 500,
                                                 "starts_on": "2020-01-01", "per_day": 2},
                    content_type="application/json")
    assert made.status_code == 201
    campaign = made.json()
    assert (campaign["points"], campaign["per_day"], campaign["batches"]) == (500, 2, [])
    batch = api.post(f"/api/v1/manage/campaigns/{campaign['id']}/batches",
                     {"count": 20, "length": 10, "prefix": "AB", "check_char": True},
                     content_type="application/json")
    assert batch.status_code == 201
    assert (batch.json()["count"], batch.json()["points"]) == (20, 500)
    batch_id = batch.json()["id"]
    codes = api.post(f"/api/v1/manage/campaigns/batches/{batch_id}/codes").json()["codes"]
    assert len(codes) == 20 and all(len(c) == 13 and c.startswith("AB") for c in codes)
    again = api.post(f"/api/v1/manage/campaigns/batches/{batch_id}/codes")
    assert again.status_code == 409
    with scope(merchant=alice.merchant):
        campaigns.activate(alice.merchant, alice.member, codes[0], "wallet", actor=Actor.cli())
    stats = api.get(f"/api/v1/manage/campaigns/{campaign['id']}").json()["batches"][0]
    assert (stats["activated"], stats["points_granted"], stats["new_members"]) == (1, 500, 1)
    assert stats["downloaded_at"] is not None
    listed = api.get("/api/v1/manage/campaigns").json()
    assert [c["name"] for c in listed] == ["Caps"]


@pytest.mark.parametrize("body", [{"count": 0}, {"count": 5, "alphabet": "ABC"},
                                  {"count": 5, "prefix": "ab"}, {"count": 5, "length": 3}])
def test_bad_batches_are_422(alice, body):
    api = alice.manage()
    made = api.post("/api/v1/manage/campaigns", {"name": "Caps", "points": 5,
                                                 "starts_on": "2020-01-01"},
                    content_type="application/json").json()
    answer = api.post(f"/api/v1/manage/campaigns/{made['id']}/batches", body,
                      content_type="application/json")
    assert answer.status_code == 422, answer.json()
