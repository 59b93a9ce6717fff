"""Management API: stores and terminals."""

import pytest
from django_scopes import scope, scopes_disabled

from kopilka.core.models import AuditEntry
from kopilka.tenancy.models import Store, Terminal
from tests.clients import MANAGE as API
from tests.clients import client_as, send

pytestmark = pytest.mark.django_db


def store_of(tenant):
    with scope(merchant=tenant.merchant):
        return Store.objects.get(merchant=tenant.merchant)


def test_get_and_patch_a_store(alice):
    store = store_of(alice)
    client = alice.manage()
    assert client.get(f"{API}/stores/{store.pk}").json() == {
        "id": store.pk, "name": "Main", "address": "", "active": True,
    }
    response = send(client, "patch", f"/stores/{store.pk}",
                    {"name": " Tverskaya 1 ", "address": "Moscow", "active": False})
    assert response.status_code == 200
    assert response.json() == {"id": store.pk, "name": "Tverskaya 1", "address": "Moscow",
                               "active": False}
    only_address = send(client, "patch", f"/stores/{store.pk}", {"address": ""})
    assert only_address.json()["name"] == "Tverskaya 1"
    with scopes_disabled():
        updates = AuditEntry.objects.filter(action="tenancy.store.updated").order_by("pk")
        assert [e.data["fields"] for e in updates] == [["active", "address", "name"], ["address"]]


def test_store_patch_errors(alice):
    store = store_of(alice)
    client = alice.manage()
    assert send(client, "post", "/stores", {"name": "Second"}).status_code == 201
    taken = send(client, "patch", f"/stores/{store.pk}", {"name": "Second"})
    assert (taken.status_code, taken.json()["errors"][0]["field"]) == (409, "name")
    for body, field in [({"name": "  "}, "name"), ({"name": None}, "name"),
                        ({"active": "no"}, "active"), ({"colour": "red"}, "colour")]:
        response = send(client, "patch", f"/stores/{store.pk}", body)
        assert response.status_code == 422, body
        assert response.json()["errors"][0]["field"] == field
    assert client.get(f"{API}/stores/{store.pk + 100}").status_code == 404


def test_only_owners_and_admins_change_stores(alice):
    store = store_of(alice)
    _manager, manager = client_as(alice, "manager")
    assert manager.get(f"{API}/stores/{store.pk}").status_code == 200
    assert send(manager, "patch", f"/stores/{store.pk}", {"name": "X"}).status_code == 403
    _admin, admin = client_as(alice, "admin")
    assert send(admin, "patch", f"/stores/{store.pk}", {"name": "X"}).status_code == 200


def test_another_merchants_store_is_404(alice, bob):
    store = store_of(alice)
    assert bob.manage().get(f"{API}/stores/{store.pk}").status_code == 404
    response = send(bob.manage(), "patch", f"/stores/{store.pk}", {"name": "Mallory"})
    assert response.status_code == 404
    assert store_of(alice).name == "Main"


def test_terminals_list_and_get(alice, bob):
    created = send(alice.manage(), "post", "/terminals", {"store": "Main", "name": "Till 2"})
    second = created.json()
    listed = alice.manage().get(f"{API}/terminals").json()
    assert [(t["id"], t["name"], t["store"], t["store_id"], t["revoked_at"]) for t in listed] == [
        (alice.terminal.pk, "Main POS", "Main", alice.terminal.store_id, None),
        (second["id"], "Till 2", "Main", alice.terminal.store_id, None),
    ]
    assert listed[1]["key_prefix"] == second["key_prefix"] and "key" not in listed[1]
    one = alice.manage().get(f"{API}/terminals/{second['id']}").json()
    assert one == listed[1]
    assert bob.manage().get(f"{API}/terminals/{second['id']}").status_code == 404
    assert [t["id"] for t in bob.manage().get(f"{API}/terminals").json()] == [bob.terminal.pk]


def test_last_use_of_a_terminal_is_shown(alice):
    assert alice.manage().get(f"{API}/terminals/{alice.terminal.pk}").json()[
        "last_used_at"] is None
    assert alice.pos().get("/api/v1/pos/terminal").status_code == 200
    shown = alice.manage().get(f"{API}/terminals/{alice.terminal.pk}").json()["last_used_at"]
    with scopes_disabled():
        used = Terminal.objects.get(pk=alice.terminal.pk).last_used_at
    assert shown == used.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_a_revoked_terminal_key_answers_401_on_the_pos_api(alice):
    assert alice.pos().get("/api/v1/pos/terminal").status_code == 200
    response = send(alice.manage(), "post", f"/terminals/{alice.terminal.pk}/revoke")
    assert response.status_code == 200
    revoked_at = response.json()["revoked_at"]
    assert revoked_at is not None
    refused = alice.pos().get("/api/v1/pos/members/lookup", {"phone": "+79160000001"})
    assert refused.status_code == 401
    assert refused["Content-Type"] == "application/problem+json"
    again = send(alice.manage(), "post", f"/terminals/{alice.terminal.pk}/revoke")
    assert (again.status_code, again.json()["revoked_at"]) == (200, revoked_at)
    with scopes_disabled():
        assert AuditEntry.objects.filter(action="tenancy.terminal.revoked").count() == 1


def test_revoking_terminals_needs_owner_or_admin_of_this_merchant(alice, bob):
    _cashier, cashier = client_as(alice, "cashier")
    assert send(cashier, "post", f"/terminals/{alice.terminal.pk}/revoke").status_code == 403
    assert send(bob.manage(), "post", f"/terminals/{alice.terminal.pk}/revoke").status_code == 404
    assert alice.pos().get("/api/v1/pos/terminal").status_code == 200


def test_terminal_list_takes_a_fixed_number_of_queries(alice, django_assert_max_num_queries):
    for n in range(5):
        send(alice.manage(), "post", "/stores", {"name": f"S{n}"})
        send(alice.manage(), "post", "/terminals", {"store": f"S{n}"})
    with django_assert_max_num_queries(4):
        assert len(alice.manage().get(f"{API}/terminals").json()) == 6
