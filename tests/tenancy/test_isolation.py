"""Merchant B's terminals, tokens and staff can neither read nor change merchant A's rows."""

import pytest
from django.http import HttpRequest
from django.test import Client
from django_scopes import ScopeError, scope

from kopilka.members.models import Card, Member

pytestmark = pytest.mark.django_db


def test_terminal_cannot_look_up_another_merchants_member_by_phone(alice, bob):
    phone = str(alice.member.person.phone)
    assert alice.pos().get("/api/v1/pos/members/lookup", {"phone": phone}).status_code == 200
    response = bob.pos().get("/api/v1/pos/members/lookup", {"phone": phone})
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"


def test_terminal_cannot_look_up_another_merchants_card_or_qr(alice, bob):
    with scope(merchant=alice.merchant):
        number = alice.member.cards.get().number
    assert bob.pos().get("/api/v1/pos/members/lookup", {"card": number}).status_code == 404
    qr = alice.member.qr_token
    assert bob.pos().get("/api/v1/pos/members/lookup", {"qr": qr}).status_code == 404
    assert alice.pos().get("/api/v1/pos/members/lookup", {"qr": qr}).json()["id"] == (
        alice.member.pk
    )


def test_token_cannot_read_another_merchants_member(alice, bob):
    url = f"/api/v1/manage/members/{alice.member.pk}"
    assert alice.manage().get(url).status_code == 200
    assert bob.manage().get(url).status_code == 404


def test_token_cannot_change_another_merchants_member(alice, bob, unscoped):
    url = f"/api/v1/manage/members/{alice.member.pk}"
    response = bob.manage().patch(url, {"first_name": "Mallory"}, content_type="application/json")
    assert response.status_code == 404
    assert Member.objects.get(pk=alice.member.pk).first_name == "Alice Coffee"


def test_token_cannot_replace_another_merchants_card(alice, bob, unscoped):
    number = Card.objects.get(member=alice.member).number
    response = bob.manage().post(
        f"/api/v1/manage/cards/{number}/replace", {"new_number": "999"},
        content_type="application/json",
    )
    assert response.status_code == 404
    assert Card.objects.get(member=alice.member).status == "active"
    assert not Card.objects.filter(number="999").exists()


def test_member_list_shows_only_own_members(alice, bob):
    ids = [m["id"] for m in bob.manage().get("/api/v1/manage/members").json()["items"]]
    assert ids == [bob.member.pk]


def test_same_phone_at_two_merchants_is_two_separate_members(alice, bob, unscoped):
    phone = str(alice.member.person.phone)
    response = bob.pos().post(
        "/api/v1/pos/members", {"phone": phone, "first_name": "Alice at Bob"},
        content_type="application/json",
    )
    assert response.status_code == 201
    assert response.json()["id"] != alice.member.pk
    assert Member.objects.filter(person=alice.member.person).count() == 2
    assert Member.objects.get(pk=alice.member.pk).first_name == "Alice Coffee"


def test_staff_session_sees_only_own_merchant(alice, bob):
    client = Client()
    assert client.login(request=HttpRequest(), username="bob@example.com",
                        password=bob.owner_password)
    assert client.get(f"/api/v1/manage/members/{alice.member.pk}").status_code == 404
    assert client.get(f"/api/v1/manage/members/{bob.member.pk}").status_code == 200
    assert client.get("/api/v1/manage/merchant").json()["slug"] == bob.merchant.slug


def test_staff_cannot_pick_another_merchant_by_header(alice, bob):
    client = Client(headers={"X-Kopilka-Merchant": alice.merchant.slug})
    assert client.login(request=HttpRequest(), username="bob@example.com",
                        password=bob.owner_password)
    assert client.get("/api/v1/manage/merchant").status_code == 401


def test_unscoped_query_is_refused():
    with pytest.raises(ScopeError):
        list(Member.objects.all())


def test_terminal_key_of_one_merchant_is_not_a_management_token(alice):
    client = Client(headers={"Authorization": f"Bearer {alice.pos_key}"})
    assert client.get("/api/v1/manage/merchant").status_code == 401
    client = Client(headers={"Authorization": f"Bearer {alice.token}"})
    assert client.get("/api/v1/pos/terminal").status_code == 401
