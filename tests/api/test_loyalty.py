"""Management API for the program: configuration, card, history, adjustments, tiers."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django_scopes import scope

from kopilka.core.actor import Actor
from kopilka.tenancy import services as tenancy
from kopilka.tenancy.models import Staff

pytestmark = pytest.mark.django_db


def send(client, method, url, body=None):
    return getattr(client, method)(url, body, content_type="application/json")


def test_program_round_trip_and_validation(alice):
    client = alice.manage()
    program = client.get("/api/v1/manage/program").json()
    assert program["config"]["tiers"][0]["code"] == "standard"
    config = {**program["config"], "welcome_bonus": 5_000}
    saved = send(client, "put", "/api/v1/manage/program", {"config": config})
    assert saved.status_code == 200
    assert (saved.json()["version"], saved.json()["config"]["welcome_bonus"]) == (2, 5_000)
    bad = {**config, "max_redeem_percent": "150"}
    response = send(client, "put", "/api/v1/manage/program", {"config": bad})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "max_redeem_percent"
    assert client.get("/api/v1/manage/program").json()["version"] == 2


def test_card_history_and_adjustment(alice):
    client = alice.manage()
    url = f"/api/v1/manage/members/{alice.member.pk}"
    body = {"points": 1_500, "reason": "apology for the wait", "key": "a1"}
    response = send(client, "post", f"{url}/adjustments", body)
    assert response.status_code == 201
    assert response.json()["available"] == 1_500
    retry = send(client, "post", f"{url}/adjustments", body)
    assert (retry.status_code, retry.json()["available"]) == (200, 1_500)
    card = client.get(f"{url}/card").json()
    assert (card["available"], card["tier"]) == (1_500, "standard")
    history = client.get(f"{url}/history").json()
    assert [(e["kind"], e["available_delta"], e["cause_type"]) for e in history["items"]] == [
        ("grant", 1_500, "adjustment")
    ]


def test_adjustment_rejects_a_bool_for_points(alice):
    response = send(alice.manage(), "post",
                    f"/api/v1/manage/members/{alice.member.pk}/adjustments",
                    {"points": True, "reason": "x", "key": "a1"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "points"


def test_cashier_token_grants_only_within_allowance(alice):
    user = get_user_model().objects.create_user("kassa@example.com", "kassa@example.com", "x")
    with scope(merchant=alice.merchant):
        cashier = Staff.objects.create(
            merchant=alice.merchant, user=user, role=Staff.Role.MANAGER,
            created_at=alice.merchant.created_at,
        )
        token = tenancy.create_api_token(cashier, name="till", actor=Actor.cli())
    client = Client(headers={"Authorization": f"Bearer {token}", "Accept-Language": "en"})
    url = f"/api/v1/manage/members/{alice.member.pk}/adjustments"
    refused = send(client, "post", url, {"points": 100, "reason": "x", "key": "1"})
    assert refused.status_code == 409
    owner = alice.manage()
    allowance = send(owner, "put", f"/api/v1/manage/staff/{cashier.pk}/allowance",
                     {"points": 100})
    assert allowance.json() == {"staff_id": cashier.pk, "remaining": 100}
    assert send(client, "put", f"/api/v1/manage/staff/{cashier.pk}/allowance",
                {"points": 10**6}).status_code == 403
    assert send(client, "post", url, {"points": 100, "reason": "x", "key": "1"}).status_code == 201


def test_tier_by_hand(alice):
    client = alice.manage()
    config = client.get("/api/v1/manage/program").json()["config"]
    config["tiers"].append({"code": "vip", "name": "VIP", "manual_only": True,
                            "accrual": {"kind": "percent", "percent": "10"}})
    assert send(client, "put", "/api/v1/manage/program", {"config": config}).status_code == 200
    url = f"/api/v1/manage/members/{alice.member.pk}/tier"
    card = send(client, "put", url, {"tier": "vip"}).json()
    assert (card["tier"], card["tier_manual"]) == ("vip", True)
    assert send(client, "put", url, {"tier": "gold"}).status_code == 422


def test_other_merchant_cannot_touch_loyalty_data(alice, bob):
    url = f"/api/v1/manage/members/{alice.member.pk}"
    client = bob.manage()
    assert client.get(f"{url}/card").status_code == 404
    assert client.get(f"{url}/history").status_code == 404
    assert send(client, "post", f"{url}/adjustments",
                {"points": 100, "reason": "x", "key": "1"}).status_code == 404
    assert send(client, "post", "/api/v1/manage/transfers",
                {"from_member_id": alice.member.pk, "to_member_id": bob.member.pk,
                 "points": 1, "key": "k"}).status_code == 404


def test_registration_through_the_management_api_grants_the_welcome_bonus(alice):
    client = alice.manage()
    config = client.get("/api/v1/manage/program").json()["config"]
    send(client, "put", "/api/v1/manage/program", {"config": {**config, "welcome_bonus": 500}})
    member = send(client, "post", "/api/v1/manage/members", {"phone": "+79165550000"}).json()
    card = client.get(f"/api/v1/manage/members/{member['id']}/card").json()
    assert (card["available"], card["tier"]) == (500, "standard")


def test_transfer_over_the_api_and_its_replay(alice):
    client = alice.manage()
    config = client.get("/api/v1/manage/program").json()["config"]
    config.update(welcome_bonus=1_000, transfers={"enabled": True, "min_points": 100})
    assert send(client, "put", "/api/v1/manage/program", {"config": config}).status_code == 200
    sender = send(client, "post", "/api/v1/manage/members", {"phone": "+79165550001"}).json()
    friend = send(client, "post", "/api/v1/manage/members", {"phone": "+79165550002"}).json()
    body = {"from_member_id": sender["id"], "to_member_id": friend["id"], "points": 400,
            "key": "gift-1"}
    first = send(client, "post", "/api/v1/manage/transfers", body)
    assert (first.status_code, first.json()["replayed"]) == (201, False)
    again = send(client, "post", "/api/v1/manage/transfers", body)
    assert (again.status_code, again.json()["replayed"]) == (200, True)
    assert again.json()["transfer_id"] == first.json()["transfer_id"]
    card = client.get(f"/api/v1/manage/members/{friend['id']}/card").json()
    assert card["available"] == 1_400
