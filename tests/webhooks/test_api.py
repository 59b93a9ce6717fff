"""The webhooks management API: endpoints, validation, roles, tenancy, the delivery log."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from django.utils import timezone
from django_scopes import scope

from kopilka.core.actor import Actor
from kopilka.core.models import AuditEntry
from kopilka.tenancy import services as tenancy
from kopilka.tenancy.models import ApiToken, Staff
from kopilka.webhooks import services as webhooks
from kopilka.webhooks.models import Delivery, Endpoint
from tests.webhooks.tools import register, send

pytestmark = pytest.mark.django_db

URL = "https://hooks.example.com/kopilka"
HOOKS = "/api/v1/manage/webhooks"


def field_errors(response) -> list[str]:
    return [error["field"] for error in response.json()["errors"]]


def test_an_endpoint_is_registered_listed_changed_and_deleted(alice):
    client = alice.manage()
    created = register(client, URL, ["purchase.committed", "member.registered",
                                     "purchase.committed"], description=" CRM ")
    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 40
    assert (created["events"], created["description"], created["active"]) == (
        ["purchase.committed", "member.registered"], "CRM", True)
    url = f"{HOOKS}/{created['id']}"
    shown = client.get(url).json()
    assert "secret" not in shown  # shown once, at creation (and on rotation)
    assert client.get(HOOKS).json() == [shown]
    changed = send(client, "patch", url, {"events": ["points.adjusted"], "active": False})
    assert changed.status_code == 200
    assert (changed.json()["events"], changed.json()["active"], changed.json()["url"]) == (
        ["points.adjusted"], False, URL)
    deleted = send(client, "delete", url)
    assert (deleted.status_code, deleted.json()) == (200, changed.json())
    assert client.get(url).status_code == 404
    assert client.get(HOOKS).json() == []
    with scope(merchant=alice.merchant):
        actions = list(AuditEntry.objects.filter(merchant=alice.merchant,
                                                 action__startswith="webhooks.")
                       .order_by("pk").values_list("action", flat=True))
    assert actions == ["webhooks.endpoint.created", "webhooks.endpoint.updated",
                       "webhooks.endpoint.deleted"]


@pytest.mark.parametrize("url", [
    "ftp://hooks.example.com/x", "hooks.example.com/x", "https://", "not a url",
    "https://user:secret@hooks.example.com/x", "http://hooks.example.com:99999/x",
    "http://[::1/x", "http://hooks.example.com/a b", "http://hooks.example.com/\x7f",
])
def test_a_bad_url_is_422_on_url(alice, url):
    response = send(alice.manage(), "post", HOOKS, {"url": url, "events": ["purchase.committed"]})
    assert response.status_code == 422
    assert field_errors(response) == ["url"]


def test_an_unknown_or_missing_event_is_422_on_events(alice):
    client = alice.manage()
    unknown = send(client, "post", HOOKS, {"url": URL, "events": ["purchase.comitted"]})
    assert unknown.status_code == 422
    assert field_errors(unknown) == ["events"]
    assert "'purchase.comitted'" in unknown.json()["detail"]
    assert send(client, "post", HOOKS, {"url": URL, "events": []}).status_code == 422
    ping = send(client, "post", HOOKS, {"url": URL, "events": ["ping"]})
    assert (ping.status_code, field_errors(ping)) == (422, ["events"])


def test_patch_refuses_null_and_unknown_fields(alice):
    client = alice.manage()
    endpoint = register(client, URL, ["purchase.committed"])
    url = f"{HOOKS}/{endpoint['id']}"
    assert field_errors(send(client, "patch", url, {"url": None})) == ["url"]
    assert field_errors(send(client, "patch", url, {"secret": "whsec_mine"})) == ["secret"]
    assert field_errors(send(client, "patch", url, {"url": "ftp://x"})) == ["url"]
    assert client.get(url).json()["url"] == URL


def test_at_most_twenty_endpoints(alice):
    client = alice.manage()
    for n in range(webhooks.MAX_ENDPOINTS):
        register(client, f"{URL}/{n}", ["purchase.committed"])
    response = send(client, "post", HOOKS, {"url": URL, "events": ["purchase.committed"]})
    assert response.status_code == 409
    assert "20" in response.json()["detail"]


def test_another_merchants_webhooks_are_not_found(alice, bob):
    endpoint = register(alice.manage(), URL, ["purchase.committed"])
    with scope(merchant=alice.merchant):
        delivery = webhooks.send_test(Endpoint.objects.get(pk=endpoint["id"]), actor=Actor.cli())
    client = bob.manage()
    url = f"{HOOKS}/{endpoint['id']}"
    assert client.get(HOOKS).json() == []
    answers = [
        client.get(url),
        send(client, "patch", url, {"active": False}),
        send(client, "delete", url),
        send(client, "post", f"{url}/rotate-secret"),
        send(client, "post", f"{url}/test"),
        client.get(f"{url}/deliveries"),
        client.get(f"/api/v1/manage/webhook-deliveries/{delivery.pk}"),
        send(client, "post", f"/api/v1/manage/webhook-deliveries/{delivery.pk}/redeliver"),
    ]
    assert [answer.status_code for answer in answers] == [404] * len(answers)
    assert alice.manage().get(url).json()["active"] is True


def test_unknown_revoked_or_missing_credentials_are_401(alice):
    endpoint = register(alice.manage(), URL, ["purchase.committed"])
    url = f"{HOOKS}/{endpoint['id']}"
    nobody = Client()
    made_up = Client(headers={"Authorization": "Bearer kp_mgt_00000000_nothing"})
    pos_key = alice.pos()
    for client in (nobody, made_up, pos_key):
        assert client.get(url).status_code == 401
        response = send(client, "post", HOOKS, {"url": URL, "events": ["purchase.committed"]})
        assert response.status_code == 401
        assert response["Content-Type"] == "application/problem+json"
    with scope(merchant=alice.merchant):
        ApiToken.objects.filter(merchant=alice.merchant).update(revoked_at=timezone.now())
    assert alice.manage().get(url).status_code == 401


def test_only_owners_and_admins_change_webhooks(alice):
    endpoint = register(alice.manage(), URL, ["purchase.committed"])
    user = get_user_model().objects.create_user("mgr@example.com", "mgr@example.com", "x")
    with scope(merchant=alice.merchant):
        manager = Staff.objects.create(merchant=alice.merchant, user=user,
                                       role=Staff.Role.MANAGER,
                                       created_at=alice.merchant.created_at)
        token = tenancy.create_api_token(manager, name="crm", actor=Actor.cli())
    client = Client(headers={"Authorization": f"Bearer {token}", "Accept-Language": "en"})
    url = f"{HOOKS}/{endpoint['id']}"
    assert client.get(url).status_code == 200
    assert client.get(f"{url}/deliveries").status_code == 200
    refused = [
        send(client, "post", HOOKS, {"url": URL, "events": ["purchase.committed"]}),
        send(client, "patch", url, {"active": False}),
        send(client, "delete", url),
        send(client, "post", f"{url}/rotate-secret"),
        send(client, "post", f"{url}/test"),
    ]
    assert [answer.status_code for answer in refused] == [403] * len(refused)


def test_the_delivery_log_is_paginated_newest_first(alice):
    endpoint = register(alice.manage(), URL, ["purchase.committed"])
    with scope(merchant=alice.merchant):
        target = Endpoint.objects.get(pk=endpoint["id"])
        ids = [webhooks.send_test(target, actor=Actor.cli()).pk for _ in range(3)]
    client = alice.manage()
    url = f"{HOOKS}/{endpoint['id']}/deliveries"
    first = client.get(f"{url}?limit=2").json()
    assert [d["id"] for d in first["items"]] == [ids[2], ids[1]]
    assert first["next"] == str(ids[1])
    second = client.get(f"{url}?limit=2&cursor={first['next']}").json()
    assert ([d["id"] for d in second["items"]], second["next"]) == ([ids[0]], None)
    assert client.get(f"{url}?status=delivered").json() == {"items": [], "next": None}
    assert client.get(f"{url}?cursor=x").status_code == 422
    item = first["items"][0]
    assert (item["event"], item["status"], item["attempts"], item["endpoint_id"]) == (
        "ping", "pending", 0, endpoint["id"])


@override_settings(WEBHOOKS_ALLOW_PRIVATE=False)
@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8000/hook", "http://localhost/hook", "http://10.1.2.3/hook",
    "https://192.168.0.10/hook", "http://169.254.169.254/latest/meta-data",
    "http://[::1]/hook", "http://[::ffff:127.0.0.1]/hook", "http://100.64.0.1/hook",
    "http://0.0.0.0/hook",
])
def test_private_addresses_are_refused_when_the_rule_applies(alice, url):
    response = send(alice.manage(), "post", HOOKS, {"url": url, "events": ["purchase.committed"]})
    assert response.status_code == 422
    assert field_errors(response) == ["url"]
    assert "public" in response.json()["detail"]


# IPv6 forms that wrap an IPv4 address (all loopback or metadata inside, or a tunnel that can
# lead anywhere): each is refused on `url`, naming the address.
WRAPPED = {
    "::127.0.0.1": "IPv4-compatible 127.0.0.1",
    "::ffff:127.0.0.1": "IPv4-mapped 127.0.0.1",
    "::ffff:0:7f00:1": "IPv4-translated (SIIT) 127.0.0.1",
    "64:ff9b::7f00:1": "NAT64 127.0.0.1",
    "64:ff9b::a9fe:a9fe": "NAT64 169.254.169.254, the cloud metadata service",
    "64:ff9b:1::7f00:1": "local-use NAT64",
    "2002:7f00:1::": "6to4 of 127.0.0.1",
    "2002:808:808::": "6to4 of 8.8.8.8: 6to4 is refused whole",
    "2001:0:4136:e378:8000:63bf:80ff:fffe": "Teredo",
    "2001::1": "Teredo",
}


@override_settings(WEBHOOKS_ALLOW_PRIVATE=False)
@pytest.mark.parametrize("address", WRAPPED)
def test_ipv6_forms_wrapping_ipv4_are_refused_when_the_rule_applies(alice, address):
    url = f"http://[{address}]:8000/hook"
    response = send(alice.manage(), "post", HOOKS, {"url": url, "events": ["purchase.committed"]})
    assert response.status_code == 422, WRAPPED[address]
    assert field_errors(response) == ["url"]
    assert response.json()["detail"] == (
        f"{address!r} resolves to a non-public address ({address}): webhooks are only sent to "
        "public addresses.")


@override_settings(WEBHOOKS_ALLOW_PRIVATE=False)
@pytest.mark.parametrize("address", ["64:ff9b::5db8:d822", "::ffff:93.184.216.34"])
def test_nat64_and_mapped_forms_of_a_public_address_pass_the_rule(alice, address):
    # 64:ff9b::/96 is what DNS64 answers on an IPv6-only network for an IPv4-only receiver.
    created = register(alice.manage(), f"https://[{address}]/hook", ["purchase.committed"])
    assert created["url"] == f"https://[{address}]/hook"


@override_settings(WEBHOOKS_ALLOW_PRIVATE=False)
def test_a_public_address_passes_the_rule(alice):
    # An IP literal: checked without any DNS query, and nothing is sent at registration.
    created = register(alice.manage(), "https://93.184.216.34/hook", ["purchase.committed"])
    assert created["url"] == "https://93.184.216.34/hook"


def test_deliveries_of_a_deleted_endpoint_go_with_it(alice):
    endpoint = register(alice.manage(), URL, ["purchase.committed"])
    with scope(merchant=alice.merchant):
        webhooks.send_test(Endpoint.objects.get(pk=endpoint["id"]), actor=Actor.cli())
        assert Delivery.objects.filter(merchant=alice.merchant).count() == 1
    assert send(alice.manage(), "delete", f"{HOOKS}/{endpoint['id']}").status_code == 200
    with scope(merchant=alice.merchant):
        assert Delivery.objects.filter(merchant=alice.merchant).count() == 0
