"""Management API: the member list with its filters, tags and erasure."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django_scopes import scope, scopes_disabled

from kopilka.core.models import AuditEntry
from kopilka.ledger.models import Account, Entry
from kopilka.members import services as members
from kopilka.members.models import Card, Consent, Member, Person, Relative
from kopilka.processing.models import Purchase
from tests.clients import MANAGE as API
from tests.clients import client_as, send
from tests.shop import ACTOR

pytestmark = pytest.mark.django_db
DAY1 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DAY2 = DAY1 + timedelta(days=1)
DAY3 = DAY1 + timedelta(days=2)


@pytest.fixture
def crowd(alice, shop):
    """Three members of alice's: her own (registered by the fixture, no purchases), Anna
    (day 1, tagged vip, one purchase of 100.00) and Boris (day 2, two purchases, 50.00)."""
    with time_machine.travel(DAY1, tick=False):
        anna = shop.join("+79161110001", first_name="Anna", last_name="Petrova", tags=["vip"])
        shop.buy(anna, 10_000)
    with time_machine.travel(DAY2, tick=False):
        boris = shop.join("+79161110002", first_name="Boris", last_name="Annenkov")
        shop.buy(boris, 3_000)
    with time_machine.travel(DAY3, tick=False):
        shop.buy(boris, 2_000)
    return {"alice": alice.member.pk, "anna": anna.pk, "boris": boris.pk}


def names(response, crowd):
    assert response.status_code == 200, response.json()
    by_id = {pk: name for name, pk in crowd.items()}
    return [by_id[item["id"]] for item in response.json()["items"]]


@pytest.mark.parametrize("query, expected", [
    ({}, ["boris", "anna", "alice"]),
    ({"phone": "8 916 111-00-01"}, ["anna"]),
    ({"phone": "+79161119999"}, []),
    ({"q": "ann"}, ["boris", "anna"]),
    ({"q": "ANNA petr"}, ["anna"]),
    ({"tag": "vip"}, ["anna"]),
    ({"tag": "VIP"}, []),
    ({"tier": "standard"}, ["boris", "anna", "alice"]),
    ({"tier": "gold"}, []),
    ({"status": "active"}, ["boris", "anna", "alice"]),
    ({"status": "erased"}, []),
    ({"registered_from": "2026-03-02T09:00:00Z", "registered_to": "2026-03-03T09:00:00Z"},
     ["anna"]),
    ({"registered_from": "2026-03-03T12:00:00+03:00"}, ["boris", "alice"]),
    ({"last_purchase_from": "2026-03-03T00:00:00Z"}, ["boris"]),
    ({"last_purchase_to": "2026-03-04T09:00:00Z"}, ["anna"]),
    ({"spend_min": 5_000}, ["boris", "anna"]),
    ({"spend_min": 5_001, "spend_max": 10_000}, ["anna"]),
    ({"spend_max": 5_000}, ["boris", "alice"]),
    ({"purchases_min": 2}, ["boris"]),
    ({"purchases_max": 0}, ["alice"]),
    ({"purchases_min": 1, "q": "boris", "tag": "vip"}, []),
])
def test_member_filters(alice, crowd, query, expected):
    assert names(alice.manage().get(f"{API}/members", query), crowd) == expected


def test_list_items_carry_the_account_statistics(alice, crowd):
    items = alice.manage().get(f"{API}/members", {"q": "boris"}).json()["items"]
    assert {k: items[0][k] for k in ("tier", "lifetime_spend", "purchase_count",
                                     "last_purchase_at", "phone")} == {
        "tier": "standard", "lifetime_spend": 5_000, "purchase_count": 2,
        "last_purchase_at": "2026-03-04T09:00:00Z", "phone": "+79161110002",
    }


def test_cursor_stays_right_under_a_filter(alice, crowd, shop):
    for n in range(3):
        shop.join(f"+7916222000{n}", first_name=f"Annette {n}")
    client = alice.manage()
    first = client.get(f"{API}/members", {"q": "ann", "limit": 2}).json()
    assert len(first["items"]) == 2 and first["next"] is not None
    second = client.get(f"{API}/members", {"q": "ann", "limit": 2, "cursor": first["next"]})
    third = client.get(f"{API}/members", {"q": "ann", "limit": 2,
                                          "cursor": second.json()["next"]}).json()
    seen = [m["first_name"] for page in (first, second.json(), third) for m in page["items"]]
    assert seen == ["Annette 2", "Annette 1", "Annette 0", "Boris", "Anna"]
    assert third["next"] is None


@pytest.mark.parametrize("query, field", [
    ({"phone": "12"}, "phone"),
    ({"spend_min": -1}, "spend_min"),
    ({"purchases_max": "many"}, "purchases_max"),
    ({"status": "gone"}, "status"),
    ({"registered_from": "2026-03-02"}, "registered_from"),
    ({"last_purchase_to": "2026-03-02T09:00:00"}, "last_purchase_to"),
    ({"tag": "x" * 41}, "tag"),
])
def test_bad_member_filters_are_422_naming_the_field(alice, query, field):
    response = alice.manage().get(f"{API}/members", query)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [field]


def test_member_list_takes_a_fixed_number_of_queries(alice, crowd, shop,
                                                     django_assert_max_num_queries):
    for n in range(10):
        shop.join(f"+7916333000{n}", tags=["vip"])
    client = alice.manage()
    client.get(f"{API}/merchant")  # the token's last use is written once a minute
    with django_assert_max_num_queries(4):
        response = client.get(f"{API}/members", {"tag": "vip", "spend_max": 10**6,
                                                "last_purchase_to": "2030-01-01T00:00:00Z"})
    assert names(response, crowd) == ["anna"]
    with django_assert_max_num_queries(4):
        assert len(client.get(f"{API}/members").json()["items"]) == 13


def test_phones_are_masked_for_roles_that_do_not_see_them(alice, crowd):
    _manager, manager = client_as(alice, "manager")
    items = manager.get(f"{API}/members", {"phone": "+79161110001"}).json()["items"]
    assert items[0]["phone"] == "+7916***0001"


# --- tags --------------------------------------------------------------------------------------


def test_tags_are_replaced_normalised_and_audited(alice):
    url = f"/members/{alice.member.pk}/tags"
    response = send(alice.manage(), "put", url, {"tags": ["  coffee  lover ", "VIP", "VIP", ""]})
    assert response.status_code == 200
    assert response.json()["tags"] == ["VIP", "coffee lover"]
    assert send(alice.manage(), "put", url, {"tags": []}).json()["tags"] == []
    with scopes_disabled():
        entries = AuditEntry.objects.filter(action="members.member.tagged").order_by("pk")
        assert [e.data for e in entries] == [
            {"before": [], "after": ["VIP", "coffee lover"]},
            {"before": ["VIP", "coffee lover"], "after": []},
        ]


def test_tags_decide_program_rules(alice, shop):
    standard = {"code": "standard", "name": "Standard",
                "accrual": {"kind": "percent", "percent": "5"}}
    shop.program(tiers=[standard], rules=[{"code": "vip", "name": "VIP", "effects": {
        "add_percent": 5}, "conditions": {"member_tags_any": ["VIP"]}}])
    url = f"/members/{alice.member.pk}/tags"
    quote = {"member": {"id": alice.member.pk}, "lines": [{"line_id": "1", "amount": 10_000}]}
    before = alice.pos().post("/api/v1/pos/quote", quote, content_type="application/json")
    assert before.json()["accrual_points"] == 500
    send(alice.manage(), "put", url, {"tags": ["VIP"]})
    after = alice.pos().post("/api/v1/pos/quote", quote, content_type="application/json")
    assert (after.json()["accrual_points"], after.json()["lines"][0]["rules"]) == (1_000, ["vip"])


@pytest.mark.parametrize("tags, field", [
    ([f"t{n}" for n in range(21)], "tags"),
    (["x" * 41], "tags"),
    (["ok", 5], "tags.1"),
    ("vip", "tags"),
])
def test_bad_tags_are_422(alice, tags, field):
    response = send(alice.manage(), "put", f"/members/{alice.member.pk}/tags", {"tags": tags})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == field


def test_cashiers_do_not_set_tags(alice):
    _cashier, cashier = client_as(alice, "cashier")
    url = f"/members/{alice.member.pk}"
    assert send(cashier, "put", f"{url}/tags", {"tags": ["vip"]}).status_code == 403
    assert send(cashier, "patch", url, {"tags": ["vip"]}).status_code == 403
    assert send(cashier, "patch", url, {"first_name": "Al"}).status_code == 200
    _manager, manager = client_as(alice, "manager")
    assert send(manager, "put", f"{url}/tags", {"tags": ["vip"]}).json()["tags"] == ["vip"]


def test_another_merchants_member_tags_are_404(alice, bob):
    response = send(bob.manage(), "put", f"/members/{alice.member.pk}/tags", {"tags": ["x"]})
    assert response.status_code == 404
    with scopes_disabled():
        assert Member.objects.get(pk=alice.member.pk).tags == []


# --- erasure -----------------------------------------------------------------------------------


@pytest.fixture
def anna(alice, shop):
    member = shop.join("+79161110001", first_name="Anna", last_name="Petrova",
                       email="anna@example.com", address="Moscow", comment="likes oat milk",
                       tags=["vip"], consents=[members.ConsentGiven("messages", "v1")])
    members.add_relative(member, name="Masha", relation="daughter", actor=ACTOR)
    members.issue_card(member, number="P100", actor=ACTOR)
    shop.buy(member, 10_000, receipt="E-1")
    return member


def test_erase_blanks_the_person_and_keeps_the_records(alice, anna):
    response = send(alice.manage(), "post", f"/members/{anna.pk}/erase")
    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("phone", "first_name", "last_name", "email", "birth_date",
                                 "tags", "status")} == {
        "phone": "", "first_name": "", "last_name": "", "email": "", "birth_date": None,
        "tags": [], "status": "erased",
    }
    assert sorted((c["number"], c["kind"], c["status"]) for c in body["cards"]) == sorted([
        ("P100", "plastic", "blocked"), (f"erased{anna.cards.get(kind='phone').pk}", "phone",
                                         "blocked"),
    ])
    with scope(merchant=alice.merchant):
        member = Member.objects.get(pk=anna.pk)
        assert (member.address, member.comment, member.qr_token != anna.qr_token) == (
            "", "", True)
        assert member.person.phone is None and member.person_id != anna.person_id
        assert not Relative.objects.filter(member=member).exists()
        assert Consent.objects.get(member=member).revoked_at is not None
        purchase = Purchase.objects.get(receipt_id="E-1")
        assert (purchase.member_id, purchase.total, purchase.points_accrued) == (
            anna.pk, 10_000, 500)
        account = Account.objects.get(member=member)
        assert (account.available, account.lifetime_spend) == (500, 10_000)
        assert Entry.objects.filter(account=account).count() == 1
    assert not Person.objects.filter(phone="+79161110001").exists()
    with scopes_disabled():
        entry = AuditEntry.objects.get(action="members.member.erased")
    assert entry.data == {"relatives": 1, "consents": 1, "cards": 2}


def test_after_erasure_the_phone_finds_nobody_and_can_register_again(alice, anna):
    send(alice.manage(), "post", f"/members/{anna.pk}/erase")
    pos = alice.pos()
    for query in ({"phone": "+79161110001"}, {"card": "P100"}, {"card": "79161110001"},
                  {"qr": anna.qr_token}):
        assert pos.get("/api/v1/pos/members/lookup", query).status_code == 404, query
    assert alice.manage().get(f"{API}/members", {"phone": "+79161110001"}).json()["items"] == []
    again = pos.post("/api/v1/pos/members", {"phone": "8 916 111-00-01"},
                     content_type="application/json")
    assert again.status_code == 201
    new = again.json()
    assert (new["id"] != anna.pk, new["available"], new["lifetime_spend"]) == (True, 0, 0)
    assert pos.get("/api/v1/pos/members/lookup", {"phone": "+79161110001"}).json()["id"] == (
        new["id"])


def test_erasure_keeps_the_persons_memberships_at_other_merchants(alice, bob, anna):
    with scope(merchant=bob.merchant):
        at_bob = members.register_member(bob.merchant, phone="+79161110001", channel="cashier",
                                         actor=ACTOR, first_name="Anna")
    send(alice.manage(), "post", f"/members/{anna.pk}/erase")
    found = bob.pos().get("/api/v1/pos/members/lookup", {"phone": "+79161110001"})
    assert (found.status_code, found.json()["id"], found.json()["first_name"]) == (
        200, at_bob.pk, "Anna")


def test_an_erased_member_stays_erased(alice, anna):
    send(alice.manage(), "post", f"/members/{anna.pk}/erase")
    again = send(alice.manage(), "post", f"/members/{anna.pk}/erase")
    assert (again.status_code, again.json()["status"]) == (200, "erased")
    edit = send(alice.manage(), "patch", f"/members/{anna.pk}", {"first_name": "Anna"})
    assert (edit.status_code, edit.json()["errors"][0]["field"]) == (409, "member")
    assert send(alice.manage(), "put", f"/members/{anna.pk}/tags",
                {"tags": ["x"]}).status_code == 409
    with scopes_disabled():
        assert AuditEntry.objects.filter(action="members.member.erased").count() == 1


def test_erasure_needs_owner_or_admin_of_this_merchant(alice, bob, anna):
    _manager, manager = client_as(alice, "manager")
    assert send(manager, "post", f"/members/{anna.pk}/erase").status_code == 403
    assert send(bob.manage(), "post", f"/members/{anna.pk}/erase").status_code == 404
    with scopes_disabled():
        assert Member.objects.get(pk=anna.pk).status == "active"
        assert Card.objects.filter(member_id=anna.pk, status="active").count() == 2
