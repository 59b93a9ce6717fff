"""The cabinet's settings through Django's test client: stores, counter devices, staff with
roles, PINs and allowances — each form's stored values exactly, bad input a form error in the
user's language, the roles that may not a 403."""

import pytest
from django.contrib.auth.hashers import check_password
from django.core import mail
from django_scopes import scopes_disabled

from kopilka.core.actor import Actor
from kopilka.core.models import AuditEntry
from kopilka.processing.models import Allowance
from kopilka.tenancy import counter as counters
from kopilka.tenancy.models import Invitation, Staff, Store, Terminal
from tests.cabinet.tools import owner_of, staff_client

SECTIONS = ("stores", "devices", "staff", "keys", "tokens", "webhooks", "messages",
            "sms", "audit")


def store_of(tenant) -> Store:
    with scopes_disabled():
        return Store.objects.get(merchant=tenant.merchant)


def page(response) -> str:
    return response.content.decode()


def test_the_home_lists_the_sections_a_role_may_open(alice):
    owner = page(owner_of(alice).get("/cabinet/settings/"))
    for section in SECTIONS:
        assert f'data-section="{section}"' in owner, section
    assert 'href="/cabinet/settings/"' in owner  # the header's tab
    _manager, client = staff_client(alice, Staff.Role.MANAGER)
    manager = page(client.get("/cabinet/settings/"))
    shown = {section for section in SECTIONS if f'data-section="{section}"' in manager}
    assert shown == {"devices", "sms", "audit"} & set(SECTIONS)
    _cashier, client = staff_client(alice, Staff.Role.CASHIER)
    assert client.get("/cabinet/settings/").status_code == 403


def test_add_edit_close_and_reopen_a_store(alice):
    client = owner_of(alice)
    response = client.post("/cabinet/settings/stores/", {
        "action": "add", "new-name": "  Second  ", "new-address": " Lenina 1 "})
    assert response.status_code == 302
    with scopes_disabled():
        store = Store.objects.get(merchant=alice.merchant, name="Second")
    assert (store.address, store.active) == ("Lenina 1", True)
    url = f"/cabinet/settings/stores/{store.pk}/"
    assert client.post(url, {"action": "edit", "name": "Second street",
                             "address": "Lenina 2"}).status_code == 302
    assert client.post(url, {"action": "close"}).status_code == 302
    with scopes_disabled():
        store.refresh_from_db()
        assert (store.name, store.address, store.active) == ("Second street", "Lenina 2", False)
        assert list(AuditEntry.objects.filter(object_id=str(store.pk)).order_by("id")
                    .values_list("action", "data")) == [
            ("tenancy.store.created", {}),
            ("tenancy.store.updated", {"fields": ["address", "name"]}),
            ("tenancy.store.updated", {"fields": ["active"]}),
        ]
    assert "closed" in page(client.get("/cabinet/settings/stores/"))
    client.post(url, {"action": "reopen"})
    with scopes_disabled():
        store.refresh_from_db()
    assert store.active is True


def test_a_stores_bad_input_is_a_form_error_in_the_users_language(alice):
    client = owner_of(alice, language="ru")
    taken = client.post("/cabinet/settings/stores/", {"action": "add", "new-name": "Main"})
    assert taken.status_code == 422
    assert "Торговая точка &#x27;Main&#x27; уже существует." in page(taken)
    empty = client.post(f"/cabinet/settings/stores/{store_of(alice).pk}/",
                        {"action": "edit", "name": "  ", "address": ""})
    assert empty.status_code == 422 and "Обязательное поле." in page(empty)
    with scopes_disabled():
        assert list(Store.objects.filter(merchant=alice.merchant)
                    .values_list("name", flat=True)) == ["Main"]


def test_sign_out_a_counter_device(alice):
    client = owner_of(alice)
    store = store_of(alice)
    with scopes_disabled():
        terminal, _key = counters.sign_in_device(alice.owner, store, name="Till 1",
                                                 actor=Actor.cli())
    listing = page(client.get("/cabinet/settings/devices/"))
    assert "Till 1 · Main" in listing and alice.terminal.name not in listing  # browsers only
    assert client.post(f"/cabinet/settings/devices/{terminal.pk}/sign-out/").status_code == 302
    with scopes_disabled():
        terminal.refresh_from_db()
        alice.terminal.refresh_from_db()
    assert terminal.revoked_at is not None and alice.terminal.revoked_at is None
    # The POS key is not a browser counter: not signed out from here.
    assert client.post(f"/cabinet/settings/devices/{alice.terminal.pk}/sign-out/"
                       ).status_code == 404


def test_invite_change_role_switch_off_and_withdraw(alice, django_capture_on_commit_callbacks):
    client = owner_of(alice)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/cabinet/settings/staff/", {
            "action": "invite", "invite-email": "Dina@Example.com",
            "invite-role": "manager"})
    assert response.status_code == 302
    with scopes_disabled():
        invitation = Invitation.objects.get(merchant=alice.merchant)
    assert (invitation.email, invitation.role, invitation.status) == (
        "dina@example.com", "manager", "pending")
    assert [message.to for message in mail.outbox] == [["dina@example.com"]]
    assert "dina@example.com" in page(client.get("/cabinet/settings/staff/"))
    client.post(f"/cabinet/settings/invitations/{invitation.pk}/revoke/")
    with scopes_disabled():
        invitation.refresh_from_db()
    assert invitation.status == "revoked"

    clerk, _client = staff_client(alice, Staff.Role.CASHIER)
    url = f"/cabinet/settings/staff/{clerk.pk}/"
    assert client.post(url, {"action": "role", "role-role": "manager"}).status_code == 302
    assert client.post(url, {"action": "deactivate"}).status_code == 302
    with scopes_disabled():
        clerk.refresh_from_db()
    assert (clerk.role, clerk.active) == ("manager", False)


def test_staff_bad_input_gives_the_services_words(alice):
    client = owner_of(alice, language="ru")
    invalid = client.post("/cabinet/settings/staff/", {
        "action": "invite", "invite-email": "not an e-mail", "invite-role": "cashier"})
    assert invalid.status_code == 422
    assert "Введите правильный адрес электронной почты." in page(invalid)
    already = client.post("/cabinet/settings/staff/", {
        "action": "invite", "invite-email": alice.owner.user.email, "invite-role": "cashier"})
    assert already.status_code == 422 and alice.owner.user.email in page(already)
    last_owner = client.post(f"/cabinet/settings/staff/{alice.owner.pk}/",
                             {"action": "role", "role-role": "admin"})
    assert last_owner.status_code == 422
    assert "У компании должен остаться активный владелец." in page(last_owner)
    with scopes_disabled():
        assert Staff.objects.get(pk=alice.owner.pk).role == "owner"


def test_set_a_pin(alice):
    client = owner_of(alice)
    clerk, _client = staff_client(alice, Staff.Role.CASHIER)
    url = f"/cabinet/settings/staff/{clerk.pk}/"
    weak = client.post(url, {"action": "pin", "pin-pin": "1234"})
    assert weak.status_code == 422
    assert "This PIN is the first one anyone would try. Choose another." in page(weak)
    assert client.post(url, {"action": "pin", "pin-pin": "2580"}).status_code == 302
    with scopes_disabled():
        clerk.refresh_from_db()
    assert check_password("2580", clerk.pin_hash)


def test_the_owner_sets_an_allowance_an_admin_is_refused(alice):
    client = owner_of(alice)
    clerk, _client = staff_client(alice, Staff.Role.CASHIER)
    url = f"/cabinet/settings/staff/{clerk.pk}/"
    assert client.post(url, {"action": "allowance", "allowance-points": "150,5"}
                       ).status_code == 302
    with scopes_disabled():
        assert Allowance.objects.get(staff=clerk).remaining == 15050
    shown = page(client.get(url))
    assert "May still grant 150.5\u00a0bonuses by hand." in shown
    negative = client.post(url, {"action": "allowance", "allowance-points": "-5"})
    assert negative.status_code == 422 and "Cannot be negative." in page(negative)

    _admin, admin = staff_client(alice, Staff.Role.ADMIN, language="ru")
    assert "Лимиты начисления баллов устанавливает только владелец." in page(admin.get(url))
    refused = admin.post(url, {"action": "allowance", "allowance-points": "9999"})
    assert refused.status_code == 403
    assert "Лимиты начисления баллов устанавливает только владелец." in page(refused)
    with scopes_disabled():
        assert Allowance.objects.get(staff=clerk).remaining == 15050


def test_an_admin_cannot_touch_an_owner(alice):
    _admin, admin = staff_client(alice, Staff.Role.ADMIN)
    url = f"/cabinet/settings/staff/{alice.owner.pk}/"
    refused = admin.post(url, {"action": "pin", "pin-pin": "2580"})
    assert refused.status_code == 403 and "Only an owner can manage owners." in page(refused)
    assert admin.post(url, {"action": "deactivate"}).status_code == 403
    form = page(admin.get("/cabinet/settings/staff/"))
    assert '<option value="owner"' not in form


@pytest.mark.parametrize("path", [
    "/cabinet/settings/stores/", "/cabinet/settings/staff/",
])
def test_a_manager_gets_403(alice, path):
    _manager, client = staff_client(alice, Staff.Role.MANAGER)
    assert client.get(path).status_code == 403
    assert client.post(path, {"action": "add", "new-name": "X"}).status_code == 403
    with scopes_disabled():
        assert Store.objects.filter(merchant=alice.merchant).count() == 1


def test_a_manager_may_sign_out_devices(alice):
    _manager, client = staff_client(alice, Staff.Role.MANAGER)
    with scopes_disabled():
        terminal, _key = counters.sign_in_device(alice.owner, store_of(alice), name="Till",
                                                 actor=Actor.cli())
    assert client.post(f"/cabinet/settings/devices/{terminal.pk}/sign-out/").status_code == 302
    with scopes_disabled():
        assert Terminal.objects.get(pk=terminal.pk).revoked_at is not None
