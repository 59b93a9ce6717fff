"""Management API for SMS billing: the balance and policy, the statement with cursor
pagination, and the costs by topic (the figures analytics reads), with role checks."""

from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine
from django.test import Client, override_settings
from django_scopes import scope

from kopilka.core.actor import Actor
from kopilka.core.models import AuditEntry
from kopilka.members import services as members
from kopilka.messaging import billing, services
from kopilka.messaging.models import Message
from tests.clients import client_as

pytestmark = pytest.mark.django_db
API = "/api/v1/manage/messages"
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
TWO_PARTS = ("{merchant}: спасибо за покупку! Начислено {points}, на счёте теперь {balance}. "
             "Ждём вас снова!")


@pytest.fixture(autouse=True)
def platform_prices():
    with override_settings(SMS_PRICE=250, SMS_FREE_PARTS=1, SMS_CURRENCY="RUB"):
        yield


@pytest.fixture(autouse=True)
def sending(alice):
    """Alice sends receipts to every member at any hour, and her member agreed to messages."""
    services.save_settings(alice.merchant, transactional="all", quiet_from=time(0),
                           quiet_to=time(0), actor=Actor.cli())
    members.grant_consent(alice.member, members.ConsentGiven(kind="messages",
                                                             text_version="v1"),
                          channel="cashier", actor=Actor.cli())


def send(client, method, url, body=None):
    return getattr(client, method)(API + url, body, content_type="application/json")


def fields(response):
    return [error["field"] for error in response.json()["errors"]]


def charged(tenant, event="accrual", context=None):
    """Queue a message and pay for it as a worker would before sending it."""
    with scope(merchant=tenant.merchant):
        message = services.queue(tenant.merchant, event=event, member=tenant.member,
                                 context=context or {"points": 2_100, "balance": 10_500})
        assert billing.reserve(message)
    return message


def top_up(tenant, amount, note=""):
    with scope(merchant=tenant.merchant):
        return billing.top_up(tenant.merchant, amount, note=note, actor=Actor.cli())


def test_a_new_merchant_sees_the_platform_defaults(alice):
    response = send(alice.manage(), "get", "/billing")
    assert response.status_code == 200
    assert response.json() == {"currency": "RUB", "balance": 0, "price_per_part": 250,
                               "free_parts": 1, "transactional_when_empty": "hold", "held": 0,
                               "exhausted_at": None}


def test_the_balance_follows_charges_top_ups_and_held_messages(alice):
    with time_machine.travel(T0, tick=False):
        top_up(alice, 600)
        charged(alice)  # the free part
        charged(alice)  # 250
        charged(alice)  # 250
        with scope(merchant=alice.merchant):
            held = services.queue(alice.merchant, event="accrual", member=alice.member,
                                  context={"points": 1})
            assert not billing.reserve(held)
    assert send(alice.manage(), "get", "/billing").json() == {
        "currency": "RUB", "balance": 100, "price_per_part": 250, "free_parts": 0,
        "transactional_when_empty": "hold", "held": 1, "exhausted_at": "2026-11-23T09:00:00Z"}


def test_owners_and_admins_set_the_policy_others_are_refused(alice):
    response = send(alice.manage(), "put", "/billing", {"transactional_when_empty": "send"})
    assert response.status_code == 200, response.json()
    assert response.json()["transactional_when_empty"] == "send"
    with scope(merchant=alice.merchant):
        entry = AuditEntry.objects.get(action="messaging.sms.policy_saved")
    assert (entry.actor_kind, entry.data) == ("token", {"transactional_when_empty": "send",
                                                        "released": 0})
    _staff, admin = client_as(alice, "admin")
    assert send(admin, "put", "/billing",
                {"transactional_when_empty": "hold"}).json()["transactional_when_empty"] == "hold"
    for role in ("manager", "cashier"):
        _staff, client = client_as(alice, role)
        refused = send(client, "put", "/billing", {"transactional_when_empty": "send"})
        assert refused.status_code == 403
        assert refused["Content-Type"] == "application/problem+json"
    assert send(alice.manage(), "get", "/billing").json()["transactional_when_empty"] == "hold"


@pytest.mark.parametrize(("body", "field"), [
    ({"transactional_when_empty": "maybe"}, "transactional_when_empty"),
    ({"transactional_when_empty": True}, "transactional_when_empty"),
    ({}, "transactional_when_empty"),
    ({"transactional_when_empty": "send", "balance": 10**6}, "balance"),
])
def test_a_bad_policy_is_a_422_naming_the_field(alice, body, field):
    response = send(alice.manage(), "put", "/billing", body)
    assert response.status_code == 422
    assert fields(response) == [field]
    assert send(alice.manage(), "get", "/billing").json()["transactional_when_empty"] == "hold"


def test_a_cashier_reads_no_billing_a_manager_does(alice):
    _staff, cashier = client_as(alice, "cashier")
    for url in ("/billing", "/billing/history", "/costs"):
        assert send(cashier, "get", url).status_code == 403
    _staff, manager = client_as(alice, "manager")
    for url in ("/billing", "/billing/history", "/costs"):
        assert send(manager, "get", url).status_code == 200


def test_billing_needs_credentials(alice):
    for url in ("/billing", "/billing/history", "/costs"):
        response = Client().get(API + url)
        assert response.status_code == 401
        assert response["Content-Type"] == "application/problem+json"
    assert Client().put(API + "/billing", {"transactional_when_empty": "send"},
                        content_type="application/json").status_code == 401


def test_the_history_is_the_statement_newest_first_page_by_page(alice):
    with time_machine.travel(T0, tick=False):
        top_up(alice, 1_000, note="invoice 17")
        first = charged(alice)
        second = charged(alice)
    client = alice.manage()
    page = send(client, "get", "/billing/history?limit=2")
    assert page.status_code == 200
    body = page.json()
    assert [{k: v for k, v in item.items() if k != "id"} for item in body["items"]] == [
        {"kind": "charge", "amount": -250, "balance_after": 750, "free_parts": 0,
         "free_parts_after": 0, "parts": 1, "message_id": second.pk, "event": "accrual",
         "reference": "", "actor": "system", "created_at": "2026-11-23T09:00:00Z"},
        {"kind": "charge", "amount": 0, "balance_after": 1_000, "free_parts": -1,
         "free_parts_after": 0, "parts": 1, "message_id": first.pk, "event": "accrual",
         "reference": "", "actor": "system", "created_at": "2026-11-23T09:00:00Z"},
    ]
    rest = send(client, "get", f"/billing/history?limit=2&cursor={body['next']}").json()
    assert [(i["kind"], i["amount"], i["reference"], i["actor"]) for i in rest["items"]] == [
        ("top_up", 1_000, "invoice 17", "cli")]
    assert rest["next"] is None
    only = send(client, "get", "/billing/history?kind=top_up").json()["items"]
    assert [i["kind"] for i in only] == ["top_up"]
    assert fields(send(client, "get", "/billing/history?kind=gift")) == ["kind"]
    assert fields(send(client, "get", "/billing/history?cursor=x1")) == ["cursor"]
    beyond_every_id = send(client, "get", "/billing/history?cursor=" + "9" * 40).json()
    assert ([i["kind"] for i in beyond_every_id["items"]], beyond_every_id["next"]) == (
        ["charge", "charge", "top_up"], None)


def test_costs_by_topic_with_a_period_net_of_refunds(alice):
    with scope(merchant=alice.merchant):
        services.save_template(alice.merchant, event="accrual", language="ru", body=TWO_PARTS,
                               actor=Actor.cli())
    with time_machine.travel(T0, tick=False) as traveller:
        top_up(alice, 10_000)
        receipt = charged(alice)  # 2 parts: 1 free + 1 paid = 250
        assert receipt.parts == 2
        charged(alice)  # 2 parts: 500
        charged(alice, event="birthday", context={"points": 500})  # 1 part: 250
        traveller.shift(timedelta(days=1))
        refunded = charged(alice, event="birthday", context={"points": 500})  # 250 ...
        with scope(merchant=alice.merchant):
            billing.refund(refunded)  # ... given back the same day
        charged(alice, event="one_time_code", context={"code": "4821"})  # 1 part: 250
    client = alice.manage()
    everything = send(client, "get", "/costs").json()
    assert everything == {"currency": "RUB", "events": [
        {"event": "accrual", "messages": 2, "parts": 4, "free_parts": 1, "cost": 750},
        {"event": "birthday", "messages": 1, "parts": 1, "free_parts": 0, "cost": 250},
        {"event": "one_time_code", "messages": 1, "parts": 1, "free_parts": 0, "cost": 250},
    ], "total": {"event": "", "messages": 4, "parts": 6, "free_parts": 1, "cost": 1_250}}
    # The statement's money is the same figure.
    with scope(merchant=alice.merchant):
        assert billing.account(alice.merchant).balance == 10_000 - everything["total"]["cost"]
    first_day = send(client, "get", "/costs?from=2026-11-23T00:00:00%2B03:00"
                                    "&to=2026-11-24T00:00:00%2B03:00").json()
    assert first_day["events"] == [
        {"event": "accrual", "messages": 2, "parts": 4, "free_parts": 1, "cost": 750},
        {"event": "birthday", "messages": 1, "parts": 1, "free_parts": 0, "cost": 250},
    ]
    second_day = send(client, "get", "/costs?from=2026-11-24T00:00:00Z").json()
    assert second_day["events"] == [
        {"event": "birthday", "messages": 0, "parts": 0, "free_parts": 0, "cost": 0},
        {"event": "one_time_code", "messages": 1, "parts": 1, "free_parts": 0, "cost": 250},
    ]
    with scope(merchant=alice.merchant):
        assert Message.objects.get(pk=refunded.pk).cost == 0


@pytest.mark.parametrize(("query", "field"), [
    ("from=2026-11-24T00:00:00Z&to=2026-11-23T00:00:00Z", "to"),
    ("from=2026-11-24T00:00:00Z&to=2026-11-24T00:00:00Z", "to"),
    ("from=yesterday", "from"),
    ("to=2026-11-24", "to"),
    ("from=2026-11-24T00:00:00", "from"),  # no offset
])
def test_a_bad_period_is_a_422_naming_the_field(alice, query, field):
    response = send(alice.manage(), "get", f"/costs?{query}")
    assert response.status_code == 422
    assert fields(response) == [field]


def test_another_merchant_sees_only_its_own_account(alice, bob):
    top_up(alice, 5_000)
    charged(alice)
    assert send(bob.manage(), "get", "/billing").json()["balance"] == 0
    assert send(bob.manage(), "get", "/billing/history").json() == {"items": [], "next": None}
    assert send(bob.manage(), "get", "/costs").json()["events"] == []
    send(bob.manage(), "put", "/billing", {"transactional_when_empty": "send"})
    assert send(alice.manage(), "get", "/billing").json()["transactional_when_empty"] == "hold"
