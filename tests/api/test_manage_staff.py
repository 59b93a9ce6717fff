"""Management API: staff members, roles, invitations and management tokens."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django_scopes import scope, scopes_disabled

from kopilka.core import clock
from kopilka.core.models import AuditEntry
from kopilka.tenancy.models import ApiToken, Invitation, Staff
from tests.clients import MANAGE as API
from tests.clients import client_as, send
from tests.tenancy.tools import make_staff

pytestmark = pytest.mark.django_db
ACCEPT = "/api/v1/invitations/accept"
KEY = re.compile(r"kp_inv_[0-9a-f]{8}_[A-Za-z0-9_-]{43}")


def invite(client, email, role="cashier", capture=None):
    """POST /manage/invitations; with `capture` (django_capture_on_commit_callbacks) the mail
    goes out and its key is returned too."""
    if capture is None:
        return send(client, "post", "/invitations", {"email": email, "role": role})
    with capture(execute=True):
        response = send(client, "post", "/invitations", {"email": email, "role": role})
    return response, KEY.search(mail.outbox[-1].body)[0]


def accept(key, password, language="en"):
    return Client(headers={"Accept-Language": language}).post(
        ACCEPT, {"token": key, "password": password}, content_type="application/json")


def test_an_invitation_answers_the_same_whether_or_not_the_address_has_an_account(alice, bob):
    # bob@example.com has an account (bob's owner); nobody@example.com has none.
    known = invite(alice.manage(), "bob@example.com")
    unknown = invite(alice.manage(), " Nobody@Example.com ")
    assert (known.status_code, unknown.status_code) == (201, 201)
    bodies = [known.json(), unknown.json()]
    shapes = [{k: v for k, v in body.items() if k not in ("id", "email", "created_at",
                                                          "expires_at")} for body in bodies]
    assert shapes == [{"role": "cashier", "status": "pending", "invited_by": "alice@example.com",
                       "decided_at": None, "staff_id": None}] * 2
    assert [body["email"] for body in bodies] == ["bob@example.com", "nobody@example.com"]
    # Nobody became staff or got an account, and no password was shown.
    assert not get_user_model().objects.filter(username="nobody@example.com").exists()
    assert [s["email"] for s in alice.manage().get(API + "/staff").json()] == [
        "alice@example.com"]
    with scopes_disabled():
        entries = list(AuditEntry.objects.filter(action="tenancy.invitation.created")
                       .order_by("pk").values_list("data", flat=True))
    assert entries == [{"email": "bob@example.com", "role": "cashier", "replaced": []},
                       {"email": "nobody@example.com", "role": "cashier", "replaced": []}]


def test_the_invitation_expires_in_seven_days(alice):
    with time_machine.travel("2026-11-23 12:00:00Z", tick=False):
        body = invite(alice.manage(), "kassa@example.com").json()
    assert (body["created_at"], body["expires_at"]) == (
        "2026-11-23T12:00:00Z", "2026-11-30T12:00:00Z")


def test_the_key_goes_by_email_in_the_merchants_language(alice, bob,
                                                         django_capture_on_commit_callbacks):
    with time_machine.travel("2026-11-23 12:00:00Z", tick=False):
        _response, key = invite(alice.manage(), "kassa@example.com",
                                capture=django_capture_on_commit_callbacks)
        _response, bobs_key = invite(alice.manage(), "bob@example.com", role="manager",
                                     capture=django_capture_on_commit_callbacks)
    new, known = mail.outbox
    assert (new.to, new.from_email) == (["kassa@example.com"], "kopilka@localhost")
    assert new.subject == "Приглашение на работу в Alice Coffee"
    assert new.body == (
        "alice@example.com приглашает вас на работу в Alice Coffee: роль — кассир.\n\n"
        "Чтобы принять приглашение, отправьте ключ приглашения и пароль, который вы выберете "
        "для новой учётной записи Kopilka kassa@example.com, до 30 ноября 2026 г. 15:00:\n\n"
        "POST http://localhost:8000/api/v1/invitations/accept\n"
        f'{{"token": "{key}", "password": "..."}}\n\n'
        "Если вы не хотите, ничего не делайте: без вашего ответа вы не станете сотрудником "
        "Alice Coffee, а приглашение истечёт.")
    # Only the reader of the mail learns that the address has an account.
    assert "пароль вашей учётной записи Kopilka bob@example.com" in known.body
    assert "роль — менеджер" in known.body
    assert key != bobs_key
    with scopes_disabled():
        stored = Invitation.objects.get(email="kassa@example.com")
    assert key.startswith(f"kp_inv_{stored.key_prefix}_") and key not in stored.key_hash


def test_a_new_person_accepts_with_a_password_of_their_choice_and_becomes_staff(
        alice, django_capture_on_commit_callbacks):
    response, key = invite(alice.manage(), "kassa@example.com",
                           capture=django_capture_on_commit_callbacks)
    invitation_id = response.json()["id"]
    accepted = accept(key, "kassa-secret-2026")
    assert accepted.status_code == 200
    body = accepted.json()
    staff_id = body.pop("staff_id")
    assert body == {"merchant": alice.merchant.slug, "merchant_name": "Alice Coffee",
                    "email": "kassa@example.com", "role": "cashier"}
    user = get_user_model().objects.get(username="kassa@example.com")
    assert user.check_password("kassa-secret-2026")
    rows = alice.manage().get(API + "/staff").json()
    assert [(r["id"], r["email"], r["role"], r["active"]) for r in rows[1:]] == [
        (staff_id, "kassa@example.com", "cashier", True)]
    [listed] = alice.manage().get(API + "/invitations").json()
    assert (listed["id"], listed["status"], listed["staff_id"]) == (
        invitation_id, "accepted", staff_id)
    assert listed["decided_at"] is not None
    with scopes_disabled():
        entries = list(AuditEntry.objects.filter(action__in=[
            "tenancy.invitation.accepted", "tenancy.staff.added"]).order_by("pk"))
    assert [(e.action, e.actor_kind, e.actor_label, e.object_id, e.data) for e in entries] == [
        ("tenancy.invitation.accepted", "staff", "kassa@example.com", str(invitation_id),
         {"email": "kassa@example.com", "role": "cashier"}),
        ("tenancy.staff.added", "staff", "kassa@example.com", str(staff_id),
         {"email": "kassa@example.com", "role": "cashier", "invitation": invitation_id}),
    ]
    again = accept(key, "kassa-secret-2026")
    assert (again.status_code, again.json()["detail"]) == (
        409, "This invitation has been accepted already.")


def test_a_weak_password_for_a_new_account_is_422_on_password(
        alice, django_capture_on_commit_callbacks):
    _response, key = invite(alice.manage(), "kassa@example.com",
                            capture=django_capture_on_commit_callbacks)
    for password, detail in [
        ("short", "This password is too short. It must contain at least 8 characters."),
        ("password", "This password is too common."),
    ]:
        response = accept(key, password)
        assert response.status_code == 422
        assert (response.json()["detail"], response.json()["errors"][0]["field"]) == (
            detail, "password")
    assert accept(key, "short", language="uk").json()["detail"] == (
        "Пароль занадто короткий. Він має складатися щонайменше з 8 символів.")
    assert not get_user_model().objects.filter(username="kassa@example.com").exists()
    assert accept(key, "kassa-secret-2026").status_code == 200


def test_an_existing_account_accepts_only_with_its_own_password(
        alice, bob, django_capture_on_commit_callbacks):
    _response, key = invite(alice.manage(), "bob@example.com", role="manager",
                            capture=django_capture_on_commit_callbacks)
    wrong = accept(key, "a new password of my choice")
    assert wrong.status_code == 422
    assert wrong.json()["errors"] == [{
        "field": "password",
        "message": "Wrong password. bob@example.com has a Kopilka account: accept with its "
                   "password."}]
    right = accept(key, bob.owner_password)
    assert (right.status_code, right.json()["role"]) == (200, "manager")
    user = get_user_model().objects.get(username="bob@example.com")
    assert user.check_password(bob.owner_password)  # unchanged
    with scopes_disabled():
        memberships = sorted(s.merchant.slug for s in Staff.objects.filter(user=user))
        assert Invitation.objects.get(email="bob@example.com").wrong_passwords == 1
    assert memberships == sorted([alice.merchant.slug, bob.merchant.slug])


def test_five_wrong_passwords_revoke_the_invitation(alice, bob,
                                                    django_capture_on_commit_callbacks):
    _response, key = invite(alice.manage(), "bob@example.com",
                            capture=django_capture_on_commit_callbacks)
    statuses = [accept(key, f"guess {n}").status_code for n in range(5)]
    assert statuses == [422, 422, 422, 422, 409]
    last = accept(key, bob.owner_password)
    assert (last.status_code, last.json()["detail"]) == (
        409, "This invitation was withdrawn or replaced by a newer one; ask for a new one.")
    [listed] = alice.manage().get(API + "/invitations").json()
    assert listed["status"] == "revoked"
    with scopes_disabled():
        entry = AuditEntry.objects.get(action="tenancy.invitation.revoked")
    assert (entry.actor_kind, entry.data) == (
        "system", {"email": "bob@example.com", "reason": "wrong passwords"})


def test_an_invitation_expires_after_seven_days(alice, django_capture_on_commit_callbacks):
    _response, key = invite(alice.manage(), "kassa@example.com",
                            capture=django_capture_on_commit_callbacks)
    with time_machine.travel(clock.now() + timedelta(days=7), tick=False):
        response = accept(key, "kassa-secret-2026")
        assert (response.status_code, response.json()["detail"]) == (
            409, "This invitation has expired; ask for a new one.")
        assert response.json()["errors"][0]["field"] == "token"
        assert [i["status"] for i in alice.manage().get(API + "/invitations").json()] == [
            "expired"]
    assert not get_user_model().objects.filter(username="kassa@example.com").exists()


@pytest.mark.parametrize("key", [
    "", "garbage", "kp_inv_zzzzzzzz_x", "kp_mgt_00000000_x", "kp_inv_00000000_" + "x" * 43,
])
def test_an_unknown_key_is_404_on_token(alice, key):
    response = accept(key, "kassa-secret-2026")
    if key == "":
        assert response.status_code == 422  # the schema: at least one character
    else:
        assert (response.status_code, response.json()["detail"]) == (
            404, "This invitation key is not valid.")
    assert response.json()["errors"][0]["field"] == "token"


def test_a_key_with_a_right_prefix_and_a_wrong_secret_is_404(
        alice, django_capture_on_commit_callbacks):
    _response, key = invite(alice.manage(), "kassa@example.com",
                            capture=django_capture_on_commit_callbacks)
    forged = key[:-1] + ("A" if key[-1] != "A" else "B")
    assert accept(forged, "kassa-secret-2026").status_code == 404
    assert accept(key, "kassa-secret-2026").status_code == 200


def test_inviting_again_replaces_the_pending_invitation(alice,
                                                        django_capture_on_commit_callbacks):
    first, old_key = invite(alice.manage(), "kassa@example.com",
                            capture=django_capture_on_commit_callbacks)
    second, new_key = invite(alice.manage(), "kassa@example.com", role="manager",
                             capture=django_capture_on_commit_callbacks)
    assert accept(old_key, "kassa-secret-2026").status_code == 409
    assert [(i["id"], i["role"], i["status"])
            for i in alice.manage().get(API + "/invitations").json()] == [
        (first.json()["id"], "cashier", "revoked"), (second.json()["id"], "manager", "pending")]
    assert accept(new_key, "kassa-secret-2026").json()["role"] == "manager"


def test_a_revoked_invitation_cannot_be_accepted(alice, django_capture_on_commit_callbacks):
    response, key = invite(alice.manage(), "kassa@example.com",
                           capture=django_capture_on_commit_callbacks)
    url = f"/invitations/{response.json()['id']}/revoke"
    revoked = send(alice.manage(), "post", url)
    assert (revoked.status_code, revoked.json()["status"]) == (200, "revoked")
    again = send(alice.manage(), "post", url)
    assert (again.status_code, again.json()["decided_at"]) == (200, revoked.json()["decided_at"])
    assert accept(key, "kassa-secret-2026").status_code == 409
    with scopes_disabled():
        assert AuditEntry.objects.filter(action="tenancy.invitation.revoked").count() == 1


def test_an_accepted_invitation_cannot_be_revoked(alice, django_capture_on_commit_callbacks):
    response, key = invite(alice.manage(), "kassa@example.com",
                           capture=django_capture_on_commit_callbacks)
    assert accept(key, "kassa-secret-2026").status_code == 200
    refused = send(alice.manage(), "post", f"/invitations/{response.json()['id']}/revoke")
    assert refused.status_code == 409
    assert refused.json()["errors"][0]["field"] == "invitation_id"


def test_someone_who_works_here_already_is_409(alice):
    make_staff(alice.merchant, "kassa@example.com", "cashier")
    for email in ("kassa@example.com", "ALICE@example.com"):
        response = invite(alice.manage(), email, role="admin")
        assert response.status_code == 409
        assert response.json()["errors"][0]["field"] == "email"


def test_the_old_add_staff_call_is_405(alice):
    # It answered a password, or null for an address with an account; now people are invited.
    response = send(alice.manage(), "post", "/staff", {"email": "x@example.com",
                                                        "role": "cashier"})
    assert response.status_code == 405


@pytest.mark.parametrize("body, field", [
    ({"email": "not-an-email", "role": "cashier"}, "email"),
    ({"email": "x@example.com", "role": "boss"}, "role"),
    ({"email": "x@example.com"}, "role"),
])
def test_bad_invitation_input_is_422_naming_the_field(alice, body, field):
    response = send(alice.manage(), "post", "/invitations", body)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [field]


def test_the_openapi_document_declares_the_invitation_answers(alice):
    paths = Client().get("/api/v1/openapi.json").json()["paths"]
    accept_op = paths[ACCEPT]["post"]
    assert "security" not in accept_op or accept_op["security"] in ([], [{}])
    assert {"200", "404", "409", "422"} <= set(accept_op["responses"])
    assert "post" not in paths["/api/v1/manage/staff"]
    assert {"201", "401", "403", "409", "422"} <= set(
        paths["/api/v1/manage/invitations"]["post"]["responses"])


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
    assert invite(admin, "o@example.com", role="owner").status_code == 403
    owner_invitation = invite(alice.manage(), "o@example.com", role="owner").json()
    assert send(admin, "post", f"/invitations/{owner_invitation['id']}/revoke").status_code == 403
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
        assert client.get(API + "/invitations").status_code == 403
        assert invite(client, "z@example.com").status_code == 403
        assert send(client, "post", "/invitations/1/revoke").status_code == 403
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


def test_another_merchants_staff_invitations_and_tokens_are_404(alice, bob):
    with scope(merchant=alice.merchant):
        token = ApiToken.objects.get(staff=alice.owner)
    invitation = invite(alice.manage(), "kassa@example.com").json()
    for method, url, body in [
        ("patch", f"/staff/{alice.owner.pk}", {"active": False}),
        ("post", f"/staff/{alice.owner.pk}/tokens", {}),
        ("post", f"/tokens/{token.pk}/revoke", None),
        ("post", f"/invitations/{invitation['id']}/revoke", None),
    ]:
        response = send(bob.manage(), method, url, body)
        assert response.status_code == 404
        assert "alice" not in response.content.decode()
    assert [s["email"] for s in bob.manage().get(API + "/staff").json()] == ["bob@example.com"]
    assert bob.manage().get(API + "/invitations").json() == []
    assert [i["status"] for i in alice.manage().get(API + "/invitations").json()] == ["pending"]
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
    for n in range(5):
        invite(client, f"i{n}@example.com")
    with django_assert_max_num_queries(4):
        assert len(client.get(API + "/invitations").json()) == 10


NEW_OPERATIONS = [
    ("post", "/program/validate"), ("get", "/stores/1"), ("patch", "/stores/1"),
    ("get", "/terminals"), ("get", "/terminals/1"), ("post", "/terminals/1/revoke"),
    ("get", "/staff"), ("patch", "/staff/1"), ("post", "/staff/1/tokens"),
    ("get", "/invitations"), ("post", "/invitations"), ("post", "/invitations/1/revoke"),
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
