"""POS API: points by hand at the counter (within the cashier's allowance) and transfers."""

import pytest
from django.contrib.auth import get_user_model
from django_scopes import scope

from kopilka.core.actor import Actor
from kopilka.core.models import AuditEntry
from kopilka.members.models import Member
from kopilka.tenancy import services as tenancy
from kopilka.tenancy.models import Staff

pytestmark = pytest.mark.django_db


def send(client, url, body):
    return client.post(url, body, content_type="application/json")


def put(client, url, body):
    return client.put(url, body, content_type="application/json")


@pytest.fixture
def cashier(alice):
    user = get_user_model().objects.create_user("kassa@example.com", "kassa@example.com", "x")
    return Staff.objects.create(merchant=alice.merchant, user=user,
                                role=Staff.Role.CASHIER, created_at=alice.merchant.created_at)


def grant(alice, cashier, points, key="g1", **member):
    return send(alice.pos(), "/api/v1/pos/adjustments", {
        "member": member or {"id": alice.member.pk}, "cashier_id": cashier.pk,
        "points": points, "reason": "coffee spilt", "key": key,
    })


def test_cashier_grants_within_the_allowance_and_then_is_refused(alice, cashier):
    assert grant(alice, cashier, 100).status_code == 409  # no allowance yet
    put(alice.manage(), f"/api/v1/manage/staff/{cashier.pk}/allowance", {"points": 250})
    first = grant(alice, cashier, 200, key="g1", phone="+79160000001")
    assert (first.status_code, first.json()["available"]) == (201, 200)
    retry = grant(alice, cashier, 200, key="g1", phone="+79160000001")
    assert (retry.status_code, retry.json()["available"]) == (200, 200)
    over = grant(alice, cashier, 60, key="g2")
    assert over.status_code == 409
    assert over.json()["detail"] == "Your allowance has 50 points left."
    assert over.json()["errors"] == [{"field": "points",
                                      "message": "Your allowance has 50 points left."}]
    deducted = grant(alice, cashier, -150, key="d1")
    assert (deducted.status_code, deducted.json()["available"]) == (201, 50)
    with scope(merchant=alice.merchant):
        labels = list(AuditEntry.objects.filter(
            merchant=alice.merchant, action__startswith="processing.points."
        ).values_list("action", "actor_label", "actor_user_id").order_by("id"))
    assert [(action, user) for action, _label, user in labels] == [
        ("processing.points.granted", cashier.user_id),
        ("processing.points.deducted", cashier.user_id),
    ]
    assert all(label.startswith("kassa@example.com at terminal:") for _a, label, _u in labels)


def test_deduction_never_goes_below_zero(alice, cashier):
    response = grant(alice, cashier, -1)
    assert response.status_code == 409
    assert response.json()["errors"][0]["field"] == "points"


def test_unknown_inactive_or_foreign_cashier_is_404(alice, bob, cashier):
    assert grant(alice, cashier, 10).status_code == 409  # exists, only lacks an allowance
    with scope(merchant=alice.merchant):
        Staff.objects.filter(pk=cashier.pk).update(active=False)
    for staff_id in (cashier.pk, bob.owner.pk, 10**9):
        response = send(alice.pos(), "/api/v1/pos/adjustments", {
            "member": {"id": alice.member.pk}, "cashier_id": staff_id, "points": 10,
            "reason": "x", "key": "k",
        })
        assert response.status_code == 404
        assert response.json()["errors"][0]["field"] == "cashier_id"


def test_adjustment_input_errors_name_the_field(alice, cashier):
    base = {"member": {"id": alice.member.pk}, "cashier_id": cashier.pk, "points": 10,
            "reason": "x", "key": "k"}
    for field, value in [("points", True), ("points", "10"), ("reason", ""), ("key", ""),
                         ("cashier_id", None)]:
        response = send(alice.pos(), "/api/v1/pos/adjustments", {**base, field: value})
        assert response.status_code == 422, (field, value)
        assert response.json()["errors"][0]["field"] == field
    response = send(alice.pos(), "/api/v1/pos/adjustments",
                    {**base, "member": {"id": 1, "phone": "+79160000001"}})
    assert response.json()["errors"][0]["field"] == "member"


def enable_transfers(alice):
    client = alice.manage()
    config = client.get("/api/v1/manage/program").json()["config"]
    config.update(welcome_bonus=1_000, transfers={"enabled": True, "min_points": 100,
                                                  "max_points_per_day": 700})
    assert put(client, "/api/v1/manage/program", {"config": config}).status_code == 200


def test_transfer_at_the_counter_by_phone_and_card(alice):
    enable_transfers(alice)
    pos = alice.pos()
    send(pos, "/api/v1/pos/members", {"phone": "+79165550001"})
    friend = send(pos, "/api/v1/pos/members", {"phone": "+79165550002"}).json()
    body = {"sender": {"phone": "+79165550001"}, "recipient": {"id": friend["id"]},
            "points": 400, "key": "t1"}
    first = send(pos, "/api/v1/pos/transfers", body)
    assert first.status_code == 201
    assert {k: first.json()[k] for k in ("points", "sender_available", "recipient_available",
                                         "replayed")} == {
        "points": 400, "sender_available": 600, "recipient_available": 1_400, "replayed": False,
    }
    again = send(pos, "/api/v1/pos/transfers", body)
    assert (again.status_code, again.json()["replayed"]) == (200, True)
    assert again.json()["transfer_id"] == first.json()["transfer_id"]
    over_day = send(pos, "/api/v1/pos/transfers", {**body, "points": 400, "key": "t2"})
    assert over_day.status_code == 409  # 400 + 400 is over the 700 a day
    to_self = send(pos, "/api/v1/pos/transfers",
                   {**body, "recipient": {"phone": "+79165550001"}, "key": "t3"})
    assert to_self.status_code == 422


def test_transfers_refused_when_the_program_does_not_allow_them(alice):
    pos = alice.pos()
    friend = send(pos, "/api/v1/pos/members", {"phone": "+79165550002"}).json()
    response = send(pos, "/api/v1/pos/transfers", {
        "sender": {"id": alice.member.pk}, "recipient": {"id": friend["id"]}, "points": 1,
        "key": "t",
    })
    assert response.status_code == 403
    assert response.json()["type"] == "/problems/forbidden"


def test_other_merchants_members_and_revoked_keys(alice, bob, cashier):
    enable_transfers(alice)
    response = send(bob.pos(), "/api/v1/pos/transfers", {
        "sender": {"id": alice.member.pk}, "recipient": {"id": bob.member.pk}, "points": 100,
        "key": "t",
    })
    assert response.status_code == 404
    assert send(bob.pos(), "/api/v1/pos/adjustments", {
        "member": {"id": alice.member.pk}, "cashier_id": bob.owner.pk, "points": 10,
        "reason": "x", "key": "k",
    }).status_code == 404
    with scope(merchant=alice.merchant):
        tenancy.revoke_terminal(alice.terminal, actor=Actor.cli())
    assert grant(alice, cashier, 10).status_code == 401




def test_erased_members_receive_no_points(alice, cashier):
    enable_transfers(alice)
    pos = alice.pos()
    friend = send(pos, "/api/v1/pos/members", {"phone": "+79165550002"}).json()
    put(alice.manage(), f"/api/v1/manage/staff/{cashier.pk}/allowance", {"points": 500})
    erased = send(alice.manage(), f"/api/v1/manage/members/{alice.member.pk}/erase", {})
    assert erased.status_code == 200, erased.json()
    refused = grant(alice, cashier, 100)
    assert (refused.status_code, refused.json()["errors"][0]["field"]) == (409, "member")
    transfer = send(pos, "/api/v1/pos/transfers", {
        "sender": {"id": friend["id"]}, "recipient": {"id": alice.member.pk}, "points": 100,
        "key": "t-erased",
    })
    assert (transfer.status_code, transfer.json()["errors"][0]["field"]) == (409, "to_member_id")
    card = alice.manage().get(f"/api/v1/manage/members/{friend['id']}/card").json()
    assert card["available"] == 1_000  # nothing left the sender


def test_registration_records_the_referrer_code_as_typed(alice):
    response = send(alice.pos(), "/api/v1/pos/members",
                    {"phone": "+79165550003", "referrer_code": "  ANNA-2026 "})
    assert response.status_code == 201
    with scope(merchant=alice.merchant):
        member = Member.objects.get(pk=response.json()["id"])
    assert member.referrer_code == "ANNA-2026"
    too_long = send(alice.pos(), "/api/v1/pos/members",
                    {"phone": "+79165550004", "referrer_code": "x" * 41})
    assert (too_long.status_code, too_long.json()["errors"][0]["field"]) == (
        422, "referrer_code")
