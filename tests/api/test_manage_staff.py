"""Management API: staff members, roles and management tokens."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django_scopes import scope, scopes_disabled

from kopilka.core.models import AuditEntry
from kopilka.tenancy.models import ApiToken, Staff
from tests.clients import MANAGE as API
from tests.clients import client_as, send

pytestmark = pytest.mark.django_db


def test_owner_adds_a_new_person_with_a_one_time_password(alice):
    response = send(alice.manage(), "post", "/staff", {"email": " Kassa@Example.com ",
                                                        "role": "cashier"})
    assert response.status_code == 201
    body = response.json()
    staff_id, password = body.pop("id"), body.pop("password")
    body.pop("created_at")
    assert body == {"email": "kassa@example.com", "role": "cashier", "active": True}
    user = get_user_model().objects.get(username="kassa@example.com")
    assert user.check_password(password) and len(password) == 16
    with scopes_disabled():
        entry = AuditEntry.objects.get(action="tenancy.staff.added")
    assert (entry.object_id, entry.data) == (
        str(staff_id), {"email": "kassa@example.com", "role": "cashier", "new_user": True}
    )


def test_a_known_user_keeps_their_password_and_cannot_be_added_twice(alice, bob):
    # bob's owner already has a user: at alice's they get a role, not a new password.
    response = send(alice.manage(), "post", "/staff", {"email": "bob@example.com",
                                                        "role": "manager"})
    assert (response.status_code, response.json()["password"]) == (201, None)
    again = send(alice.manage(), "post", "/staff", {"email": "bob@example.com", "role": "admin"})
    assert again.status_code == 409
    assert again.json()["errors"][0]["field"] == "email"


@pytest.mark.parametrize("body, field", [
    ({"email": "not-an-email", "role": "cashier"}, "email"),
    ({"email": "x@example.com", "role": "boss"}, "role"),
    ({"email": "x@example.com"}, "role"),
])
def test_bad_staff_input_is_422_naming_the_field(alice, body, field):
    response = send(alice.manage(), "post", "/staff", body)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [field]


def test_staff_list_shows_everyone_of_this_merchant_only(alice, bob):
    manager, _client = client_as(alice, "manager")
    rows = alice.manage().get(API + "/staff").json()
    assert [(r["id"], r["email"], r["role"], r["active"]) for r in rows] == [
        (alice.owner.pk, "alice@example.com", "owner", True),
        (manager.pk, f"manager@{alice.merchant.slug}.io", "manager", True),
    ]


def test_admin_cannot_make_or_touch_owners(alice):
    _admin, admin = client_as(alice, "admin")
    cashier, _client = client_as(alice, "cashier")
    assert send(admin, "post", "/staff", {"email": "o@example.com",
                                          "role": "owner"}).status_code == 403
    assert send(admin, "patch", f"/staff/{cashier.pk}", {"role": "owner"}).status_code == 403
    assert send(admin, "patch", f"/staff/{alice.owner.pk}", {"active": False}).status_code == 403
    assert send(admin, "post", f"/staff/{alice.owner.pk}/tokens", {}).status_code == 403
    with scope(merchant=alice.merchant):
        owner_token = ApiToken.objects.get(staff=alice.owner)
    assert send(admin, "post", f"/tokens/{owner_token.pk}/revoke").status_code == 403
    # What admins may do: manage everyone else.
    promoted = send(admin, "patch", f"/staff/{cashier.pk}", {"role": "manager"})
    assert (promoted.status_code, promoted.json()["role"]) == (200, "manager")


def test_managers_and_cashiers_cannot_manage_staff(alice):
    for role in ("manager", "cashier"):
        _staff, client = client_as(alice, role)
        assert client.get(API + "/staff").status_code == 403
        assert client.get(API + "/tokens").status_code == 403
        assert send(client, "post", "/staff", {"email": "z@example.com",
                                               "role": "cashier"}).status_code == 403
        assert send(client, "patch", f"/staff/{alice.owner.pk}",
                    {"active": True}).status_code == 403


def test_the_last_active_owner_stays(alice):
    owner = alice.manage()
    for change in ({"role": "admin"}, {"active": False}):
        response = send(owner, "patch", f"/staff/{alice.owner.pk}", change)
        assert response.status_code == 409
        assert response.json()["errors"][0]["field"] == next(iter(change))
    second, _client = client_as(alice, "owner", email="second@example.com")
    demoted = send(owner, "patch", f"/staff/{alice.owner.pk}", {"role": "admin"})
    assert (demoted.status_code, demoted.json()["role"]) == (200, "admin")
    # Now `second` is the last owner, and the demoted admin cannot touch them.
    assert send(owner, "patch", f"/staff/{second.pk}", {"active": False}).status_code == 403


def test_switched_off_staff_tokens_answer_401(alice):
    cashier, client = client_as(alice, "cashier")
    assert client.get(API + "/merchant").status_code == 200
    response = send(alice.manage(), "patch", f"/staff/{cashier.pk}", {"active": False})
    assert (response.status_code, response.json()["active"]) == (200, False)
    assert client.get(API + "/merchant").status_code == 401
    assert send(alice.manage(), "post", f"/staff/{cashier.pk}/tokens", {}).status_code == 409


def test_token_for_a_staff_member_is_shown_once_and_acts_with_their_role(alice):
    manager, _client = client_as(alice, "manager")
    response = send(alice.manage(), "post", f"/staff/{manager.pk}/tokens", {"name": "crm"})
    assert response.status_code == 201
    body = response.json()
    key = body["key"]
    assert key.startswith(f"kp_mgt_{body['key_prefix']}_")
    assert (body["name"], body["staff_id"], body["revoked_at"]) == ("crm", manager.pk, None)
    client = Client(headers={"Authorization": f"Bearer {key}", "Accept-Language": "en"})
    assert client.get(API + "/members").status_code == 200
    assert client.get(API + "/staff").status_code == 403  # a manager's token
    listed = [t for t in alice.manage().get(API + "/tokens").json() if t["id"] == body["id"]]
    assert listed[0]["key_prefix"] == body["key_prefix"] and "key" not in listed[0]


def test_revoked_token_answers_401_and_revoking_again_changes_nothing(alice):
    manager, client = client_as(alice, "manager")
    with scope(merchant=alice.merchant):
        token = ApiToken.objects.get(staff=manager)
    revoked = send(alice.manage(), "post", f"/tokens/{token.pk}/revoke")
    assert revoked.status_code == 200
    first = revoked.json()["revoked_at"]
    assert first is not None
    assert client.get(API + "/members").status_code == 401
    again = send(alice.manage(), "post", f"/tokens/{token.pk}/revoke")
    assert (again.status_code, again.json()["revoked_at"]) == (200, first)
    with scopes_disabled():
        assert AuditEntry.objects.filter(action="tenancy.api_token.revoked").count() == 1


def test_another_merchants_staff_and_tokens_are_404(alice, bob):
    with scope(merchant=alice.merchant):
        token = ApiToken.objects.get(staff=alice.owner)
    for method, url, body in [
        ("patch", f"/staff/{alice.owner.pk}", {"active": False}),
        ("post", f"/staff/{alice.owner.pk}/tokens", {}),
        ("post", f"/tokens/{token.pk}/revoke", None),
    ]:
        response = send(bob.manage(), method, url, body)
        assert response.status_code == 404
        assert "alice" not in response.content.decode()
    assert [s["email"] for s in bob.manage().get(API + "/staff").json()] == ["bob@example.com"]
    with scope(merchant=alice.merchant):
        assert Staff.objects.get(pk=alice.owner.pk).active
        assert ApiToken.objects.get(pk=token.pk).revoked_at is None


def test_staff_lists_take_a_fixed_number_of_queries(alice, django_assert_max_num_queries):
    for n in range(5):
        manager, _client = client_as(alice, "manager", email=f"m{n}@example.com")
    client = alice.manage()
    client.get(API + "/merchant")  # the token's last use is written once a minute
    with django_assert_max_num_queries(4):
        assert len(client.get(API + "/staff").json()) == 6
    with django_assert_max_num_queries(4):
        assert len(client.get(API + "/tokens").json()) == 6


NEW_OPERATIONS = [
    ("post", "/program/validate"), ("get", "/stores/1"), ("patch", "/stores/1"),
    ("get", "/terminals"), ("get", "/terminals/1"), ("post", "/terminals/1/revoke"),
    ("get", "/staff"), ("post", "/staff"), ("patch", "/staff/1"), ("post", "/staff/1/tokens"),
    ("get", "/tokens"), ("post", "/tokens/1/revoke"), ("put", "/members/1/tags"),
    ("post", "/members/1/erase"), ("get", "/purchases"), ("get", "/purchases/1"),
    ("get", "/refunds"), ("get", "/refunds/1"), ("get", "/audit"),
]


@pytest.mark.parametrize("method, url", NEW_OPERATIONS)
def test_a_revoked_owner_token_answers_401_everywhere(alice, method, url):
    second, second_owner = client_as(alice, "owner", email="second@example.com")
    with scope(merchant=alice.merchant):
        token = ApiToken.objects.get(staff=alice.owner)
    assert send(second_owner, "post", f"/tokens/{token.pk}/revoke").status_code == 200
    response = send(alice.manage(), method, url, {})
    assert response.status_code == 401
    assert response.json()["type"] == "/problems/unauthenticated"
