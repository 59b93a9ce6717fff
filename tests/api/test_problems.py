"""Bad input gets a 4xx problem+json naming the field — never a 500 or a partial write."""

import pytest
from django.test import Client
from django_scopes import scopes_disabled

from kopilka.members.models import Member

pytestmark = pytest.mark.django_db


def post(client, url, body):
    return client.post(url, body, content_type="application/json")


def fields(response):
    return [error["field"] for error in response.json()["errors"]]


def test_missing_credentials_is_401_problem(alice):
    response = Client().get("/api/v1/pos/terminal")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["type"] == "/problems/unauthenticated"


def test_revoked_terminal_key_is_refused(alice):
    from kopilka.core.actor import Actor
    from kopilka.tenancy.services import revoke_terminal

    assert alice.pos().get("/api/v1/pos/terminal").status_code == 200
    with scopes_disabled():
        revoke_terminal(alice.terminal, actor=Actor.cli())
    assert alice.pos().get("/api/v1/pos/terminal").status_code == 401


def test_forged_key_with_a_real_prefix_is_refused(alice):
    forged = alice.pos_key[:-4] + "AAAA"
    client = Client(headers={"Authorization": f"Bearer {forged}"})
    assert client.get("/api/v1/pos/terminal").status_code == 401


def test_registration_without_phone_names_the_field(alice):
    response = post(alice.pos(), "/api/v1/pos/members", {"first_name": "X"})
    assert response.status_code == 422
    assert fields(response) == ["phone"]


def test_unknown_field_is_refused(alice):
    response = post(alice.pos(), "/api/v1/pos/members", {"phone": "+79161112233", "nmae": "X"})
    assert response.status_code == 422
    assert fields(response) == ["nmae"]
    with scopes_disabled():
        assert not Member.objects.filter(person__phone="+79161112233").exists()


def test_invalid_phone_is_422_naming_phone(alice):
    response = post(alice.pos(), "/api/v1/pos/members", {"phone": "123"})
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "phone", "message": "'123' is not a valid phone number."}
    ]


def test_duplicate_registration_is_409(alice):
    phone = str(alice.member.person.phone)
    response = post(alice.pos(), "/api/v1/pos/members", {"phone": phone})
    assert response.status_code == 409
    assert response.json()["type"] == "/problems/conflict"


def test_cashier_sees_masked_phone_owner_sees_full(alice):
    lookup = alice.pos().get("/api/v1/pos/members/lookup", {"phone": "+79160000001"}).json()
    assert lookup["phone"] == "+7916***0001"
    owner_view = alice.manage().get(f"/api/v1/manage/members/{alice.member.pk}").json()
    assert owner_view["phone"] == "+79160000001"


def test_member_list_paginates_with_a_cursor(alice):
    for n in range(3):
        post(alice.manage(), "/api/v1/manage/members", {"phone": f"+7916000010{n}"})
    first = alice.manage().get("/api/v1/manage/members", {"limit": 2}).json()
    assert len(first["items"]) == 2
    second = alice.manage().get("/api/v1/manage/members",
                                {"limit": 2, "cursor": first["next"]}).json()
    assert len(second["items"]) == 2
    assert second["next"] is None
    all_ids = [m["id"] for m in first["items"] + second["items"]]
    assert all_ids == sorted(all_ids, reverse=True) and len(set(all_ids)) == 4


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 201}, {"cursor": "abc"}])
def test_bad_paging_is_422(alice, params):
    response = alice.manage().get("/api/v1/manage/members", params)
    assert response.status_code == 422
    assert fields(response) == [next(iter(params))]


def test_creating_a_terminal_returns_the_key_once(alice):
    response = post(alice.manage(), "/api/v1/manage/terminals", {"store": "Main", "name": "Till 2"})
    assert response.status_code == 201
    key = response.json()["key"]
    client = Client(headers={"Authorization": f"Bearer {key}"})
    assert client.get("/api/v1/pos/terminal").json()["terminal"]["name"] == "Till 2"
    missing = post(alice.manage(), "/api/v1/manage/terminals", {"store": "Nowhere"})
    assert missing.status_code == 404


def test_openapi_document_declares_problem_responses(client):
    spec = client.get("/api/v1/openapi.json").json()
    lookup = spec["paths"]["/api/v1/pos/members/lookup"]["get"]["responses"]
    assert {"200", "401", "404", "422"} <= set(lookup)
