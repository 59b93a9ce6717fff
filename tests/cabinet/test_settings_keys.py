"""POS API keys and management tokens in the cabinet: the secret works, is shown once and
never again, revoking switches it off; a manager gets 403."""

import re

from django.test import Client
from django_scopes import scopes_disabled

from kopilka.tenancy.models import ApiToken, Staff, Store, Terminal
from tests.cabinet.tools import owner_of, staff_client


def secret_in(html: str) -> str:
    [found] = re.findall(r"data-secret-value>([^<]+)<", html)
    return found


def test_a_pos_key_is_shown_once_and_works_until_revoked(alice):
    client = owner_of(alice)
    with scopes_disabled():
        store = Store.objects.get(merchant=alice.merchant)
    response = client.post("/cabinet/settings/keys/", {"action": "create", "store": store.pk,
                                                       "name": "Atol 30F"})
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    key = secret_in(response.content.decode())
    with scopes_disabled():
        terminal = Terminal.objects.get(merchant=alice.merchant, name="Atol 30F")
    assert (terminal.store_id, terminal.kind, terminal.revoked_at) == (store.pk, "api", None)
    assert key.startswith("kp_pos_") and terminal.key_prefix in key
    pos = Client(headers={"Authorization": f"Bearer {key}"})
    assert pos.get("/api/v1/pos/terminal").status_code == 200
    listing = client.get("/cabinet/settings/keys/").content.decode()
    assert key not in listing and "data-secret" not in listing
    assert f"{terminal.key_prefix}…" in listing
    client.post(f"/cabinet/settings/keys/{terminal.pk}/revoke/")
    assert pos.get("/api/v1/pos/terminal").status_code == 401
    with scopes_disabled():
        assert Terminal.objects.get(pk=alice.terminal.pk).revoked_at is None


def test_a_key_needs_an_open_store_of_ours(alice, bob):
    client = owner_of(alice, language="uk")
    with scopes_disabled():
        theirs = Store.objects.get(merchant=bob.merchant)
    response = client.post("/cabinet/settings/keys/", {"action": "create", "store": theirs.pk})
    assert response.status_code == 422 and "data-secret" not in response.content.decode()
    assert "Зробить коректний вибір" in response.content.decode()
    with scopes_disabled():
        assert Terminal.objects.filter(merchant=alice.merchant).count() == 1


def test_a_management_token_is_shown_once_and_acts_as_its_person(alice):
    client = owner_of(alice)
    manager, _client = staff_client(alice, Staff.Role.MANAGER)
    response = client.post("/cabinet/settings/tokens/", {"action": "create",
                                                         "staff": manager.pk,
                                                         "name": "Reports"})
    assert response.status_code == 200
    key = secret_in(response.content.decode())
    with scopes_disabled():
        token = ApiToken.objects.get(merchant=alice.merchant, name="Reports")
    assert (token.staff_id, token.revoked_at) == (manager.pk, None)
    api = Client(headers={"Authorization": f"Bearer {key}"})
    assert api.get("/api/v1/manage/merchant").status_code == 200
    assert api.get("/api/v1/manage/staff").status_code == 403  # a manager's role
    assert key not in client.get("/cabinet/settings/tokens/").content.decode()
    client.post(f"/cabinet/settings/tokens/{token.pk}/revoke/")
    assert api.get("/api/v1/manage/merchant").status_code == 401


def test_a_token_needs_a_name_and_an_admin_cannot_speak_for_the_owner(alice):
    client = owner_of(alice, language="ru")
    empty = client.post("/cabinet/settings/tokens/", {"action": "create",
                                                      "staff": alice.owner.pk, "name": ""})
    assert empty.status_code == 422 and "Обязательное поле." in empty.content.decode()
    _admin, admin = staff_client(alice, Staff.Role.ADMIN)
    refused = admin.post("/cabinet/settings/tokens/", {"action": "create",
                                                       "staff": alice.owner.pk, "name": "x"})
    assert refused.status_code == 403
    assert "Only an owner can manage owners." in refused.content.decode()
    with scopes_disabled():
        owner_token = ApiToken.objects.get(merchant=alice.merchant, staff=alice.owner)
        assert ApiToken.objects.filter(merchant=alice.merchant).count() == 1
    assert admin.post(f"/cabinet/settings/tokens/{owner_token.pk}/revoke/").status_code == 403


def test_a_manager_gets_403(alice):
    _manager, client = staff_client(alice, Staff.Role.MANAGER)
    for path in ("/cabinet/settings/keys/", "/cabinet/settings/tokens/"):
        assert client.get(path).status_code == 403
        assert client.post(path, {"action": "create", "name": "x"}).status_code == 403
    with scopes_disabled():
        assert Terminal.objects.filter(merchant=alice.merchant).count() == 1
