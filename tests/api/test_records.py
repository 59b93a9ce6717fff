"""Management API: purchases, refunds and the audit log."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client
from django_scopes import scope

from kopilka.processing.models import Purchase, Refund
from kopilka.tenancy import services as tenancy
from tests.clients import MANAGE as API
from tests.clients import client_as, send

pytestmark = pytest.mark.django_db
DAY1 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def sell(tenant, pos, receipt, *amounts, member_id=None):
    body = {"receipt_id": receipt, "member": {"id": member_id or tenant.member.pk},
            "lines": [{"line_id": f"L{n}", "amount": a, "sku": f"S{n}"}
                      for n, a in enumerate(amounts, start=1)]}
    response = pos.post("/api/v1/pos/purchases", body, content_type="application/json")
    assert response.status_code == 201, response.json()
    return response.json()["purchase_id"]


@pytest.fixture
def sales(alice, shop):
    """R-1 (day 1, till 1, 60.00 + 40.00, refunded 10.00 then 30.00), R-2 (day 2, till 2, by
    Boris), R-3 (day 3, till 1)."""
    till2, key2 = tenancy.create_terminal(alice.merchant, store_name="Second", name="Till 2",
                                          actor=tenancy.Actor.cli())
    boris = shop.join("+79161110002", first_name="Boris")
    pos2 = Client(headers={"Authorization": f"Bearer {key2}"})
    with time_machine.travel(DAY1, tick=False):
        r1 = sell(alice, alice.pos(), "R-1", 6_000, 4_000)
        refund = {"refund_id": "F-1", "lines": {"L1": 1_000}}
        alice.pos().post("/api/v1/pos/purchases/R-1/refunds", refund,
                         content_type="application/json")
    with time_machine.travel(DAY1 + timedelta(days=1), tick=False):
        r2 = sell(alice, pos2, "R-2", 2_500, member_id=boris.pk)
        alice.pos().post("/api/v1/pos/purchases/R-1/refunds", {"refund_id": "F-2",
                                                               "amount": 3_000},
                         content_type="application/json")
    with time_machine.travel(DAY1 + timedelta(days=2), tick=False):
        r3 = sell(alice, alice.pos(), "R-3", 1_000)
    return {"R-1": r1, "R-2": r2, "R-3": r3, "till2": till2, "boris": boris}


def receipts(response):
    assert response.status_code == 200, response.json()
    return [item["receipt_id"] for item in response.json()["items"]]


def test_purchase_list_and_filters(alice, sales):
    client = alice.manage()
    url = f"{API}/purchases"
    assert receipts(client.get(url)) == ["R-3", "R-2", "R-1"]
    assert receipts(client.get(url, {"member_id": alice.member.pk})) == ["R-3", "R-1"]
    assert receipts(client.get(url, {"terminal_id": sales["till2"].pk})) == ["R-2"]
    assert receipts(client.get(url, {"store_id": sales["till2"].store_id})) == ["R-2"]
    assert receipts(client.get(url, {"receipt_id": "R-1"})) == ["R-1"]
    assert receipts(client.get(url, {"from": "2026-03-03T09:00:00Z"})) == ["R-3", "R-2"]
    assert receipts(client.get(url, {"to": "2026-03-03T09:00:00Z"})) == ["R-1"]
    assert receipts(client.get(url, {"from": "2026-03-03T12:00:00+03:00",
                                     "to": "2026-03-04T00:00:00Z"})) == ["R-2"]
    first = client.get(url, {"limit": 2}).json()
    assert first["next"] == str(sales["R-2"])
    assert receipts(client.get(url, {"limit": 2, "cursor": first["next"]})) == ["R-1"]
    item = client.get(url, {"receipt_id": "R-1"}).json()["items"][0]
    assert {k: item[k] for k in ("id", "member_id", "terminal_id", "total", "points_accrued",
                                 "refunded_amount", "points_reversed", "occurred_at")} == {
        "id": sales["R-1"], "member_id": alice.member.pk, "terminal_id": alice.terminal.pk,
        "total": 10_000, "points_accrued": 500, "refunded_amount": 4_000,
        "points_reversed": 199, "occurred_at": "2026-03-02T09:00:00Z",
    }


def test_a_purchase_with_its_lines_and_refunds(alice, sales):
    # F-2's 30.00 is spread over what is left to refund (50.00 : 40.00); each line has then
    # given back floor(accrual x refunded / paid): 300 x 2 667 / 6 000 = 133 (50 of it by
    # F-1) and 200 x 1 333 / 4 000 = 66.
    body = alice.manage().get(f"{API}/purchases/{sales['R-1']}").json()
    assert [(line["line_id"], line["sku"], line["amount"], line["accrual"],
             line["refunded_amount"]) for line in body["lines"]] == [
        ("L1", "S1", 6_000, 300, 2_667), ("L2", "S2", 4_000, 200, 1_333),
    ]
    assert [(r["refund_id"], r["amount"], r["lines"], r["points_reversed"])
            for r in body["refunds"]] == [
        ("F-1", 1_000, {"L1": 1_000}, 50), ("F-2", 3_000, {"L1": 1_667, "L2": 1_333}, 149),
    ]
    assert (body["refunded_amount"], body["points_reversed"]) == (4_000, 199)


def test_refund_list_filters_and_one_refund(alice, sales):
    client = alice.manage()
    url = f"{API}/refunds"
    items = client.get(url).json()["items"]
    assert [(r["refund_id"], r["receipt_id"], r["member_id"]) for r in items] == [
        ("F-2", "R-1", alice.member.pk), ("F-1", "R-1", alice.member.pk),
    ]
    assert [r["refund_id"] for r in client.get(url, {"to": "2026-03-03T00:00:00Z"}).json()[
        "items"]] == ["F-1"]
    assert client.get(url, {"member_id": sales["boris"].pk}).json()["items"] == []
    assert client.get(url, {"store_id": sales["till2"].store_id}).json()["items"] == []
    assert [r["refund_id"] for r in client.get(url, {"purchase_id": sales["R-1"],
                                                     "refund_id": "F-1"}).json()["items"]] == [
        "F-1"]
    one = client.get(f"{url}/{items[0]['id']}").json()
    assert one == items[0]


@pytest.mark.parametrize("url, query, field", [
    ("/purchases", {"member_id": "me"}, "member_id"),
    ("/purchases", {"from": "yesterday"}, "from"),
    ("/purchases", {"to": "2026-03-02T09:00:00"}, "to"),
    ("/purchases", {"cursor": "x"}, "cursor"),
    ("/refunds", {"limit": 0}, "limit"),
    ("/audit", {"from": "2026-13-01T00:00:00Z"}, "from"),
])
def test_bad_record_filters_are_422(alice, url, query, field):
    response = alice.manage().get(API + url, query)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [field]


def test_another_merchants_records_are_404_or_absent(alice, bob, sales):
    with scope(merchant=alice.merchant):
        refund = Refund.objects.get(refund_id="F-1")
    client = bob.manage()
    for url in (f"/purchases/{sales['R-1']}", f"/refunds/{refund.pk}"):
        response = client.get(API + url)
        assert response.status_code == 404 and "R-1" not in response.content.decode()
    assert client.get(f"{API}/purchases").json()["items"] == []
    assert client.get(f"{API}/refunds").json()["items"] == []
    assert client.get(f"{API}/purchases", {"member_id": alice.member.pk}).json()["items"] == []
    actions = {e["action"] for e in client.get(f"{API}/audit", {"limit": 200}).json()["items"]}
    assert "processing.purchase.committed" not in actions


def test_record_lists_take_a_fixed_number_of_queries(alice, sales, django_assert_max_num_queries):
    for n in range(5):
        sell(alice, alice.pos(), f"X-{n}", 100)
        alice.pos().post(f"/api/v1/pos/purchases/X-{n}/refunds", {"refund_id": "F"},
                         content_type="application/json")
    client = alice.manage()
    client.get(f"{API}/merchant")  # the token's last use is written once a minute
    found = {}
    for url in ("/purchases", "/refunds", "/audit"):
        with django_assert_max_num_queries(3):
            found[url] = len(client.get(API + url, {"limit": 200}).json()["items"])
    assert (found["/purchases"], found["/refunds"]) == (8, 7)
    assert found["/audit"] > 20


def test_audit_log_and_its_filters(alice, sales):
    client = alice.manage()
    send(client, "patch", f"/members/{alice.member.pk}", {"first_name": "Al"})
    items = client.get(f"{API}/audit", {"object_type": "members.member",
                                        "object_id": str(alice.member.pk)}).json()["items"]
    assert [(e["action"], e["actor_kind"]) for e in items] == [
        ("members.member.updated", "token"), ("members.member.registered", "cli"),
    ]
    assert items[0]["data"] == {"fields": ["first_name"]}
    assert items[0]["actor_label"].startswith("alice@example.com via token:")
    assert items[0]["ip"] == "127.0.0.1"
    refunds = client.get(f"{API}/audit", {"action": "processing.purchase.refunded"}).json()
    day1 = client.get(f"{API}/audit", {"from": "2026-03-02T00:00:00Z",
                                       "to": "2026-03-03T00:00:00Z"}).json()["items"]
    assert [(e["action"], e["created_at"][:10]) for e in day1] == [
        ("processing.purchase.refunded", "2026-03-02"),
        ("processing.purchase.committed", "2026-03-02"),
    ]
    assert [(e["object_type"], e["object_id"]) for e in refunds["items"]] == [
        ("processing.purchase", str(sales["R-1"]))] * 2


def test_audit_log_is_for_owners_admins_and_managers(alice):
    _manager, manager = client_as(alice, "manager")
    assert manager.get(f"{API}/audit").status_code == 200
    _cashier, cashier = client_as(alice, "cashier")
    assert cashier.get(f"{API}/audit").status_code == 403
    assert cashier.get(f"{API}/purchases").status_code == 200


def test_purchases_are_not_changed_by_reading(alice, sales):
    alice.manage().get(f"{API}/purchases/{sales['R-1']}")
    with scope(merchant=alice.merchant):
        assert Purchase.objects.get(pk=sales["R-1"]).refunded_amount == 4_000


@pytest.mark.parametrize("value", ["0.5", "1700000000", "2026-03-02"])
def test_filter_moments_are_rfc3339_only(alice, value):
    response = alice.manage().get(f"{API}/purchases", {"to": value})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["to"]
