"""Every settings route, read from the URL conf: another merchant's ids are a 404 (GET and
POST) and change nothing; each role gets exactly what its permission table row says (403
otherwise, from the permission each view declares); odd input never gives a 500."""

import re

import pytest
from django.urls import URLPattern
from django_scopes import scopes_disabled

from kopilka.core.actor import Actor
from kopilka.tenancy import access, invitations
from kopilka.tenancy import counter as counters
from kopilka.tenancy.models import ApiToken, Invitation, Staff, Store, Terminal
from kopilka.web.cabinet import urls
from kopilka.webhooks import services as webhooks
from kopilka.webhooks.models import Delivery, Endpoint
from tests.cabinet.tools import owner_of, staff_client


def settings_routes() -> list[URLPattern]:
    return [pattern for pattern in urls.urlpatterns
            if isinstance(pattern, URLPattern) and pattern.name.startswith("settings")]


def alice_ids(alice) -> dict[str, object]:
    """An object of alice's for every path parameter the settings' routes take."""
    actor = Actor.cli()
    with scopes_disabled():
        store = Store.objects.get(merchant=alice.merchant)
        device, _key = counters.sign_in_device(alice.owner, store, name="Till", actor=actor)
        invitation = invitations.invite_staff(alice.merchant, email="new@alice.test",
                                              role="cashier", by=None, actor=actor).invitation
        endpoint = webhooks.create_endpoint(alice.merchant, url="https://hooks.example.com/a",
                                            events=["member.registered"], actor=actor)
        delivery = webhooks.send_test(endpoint, actor=actor)
        token = ApiToken.objects.get(merchant=alice.merchant)
    return {"store_id": store.pk, "terminal_id": device.pk, "staff_id": alice.owner.pk,
            "invitation_id": invitation.pk, "token_id": token.pk, "endpoint_id": endpoint.pk,
            "delivery_id": delivery.pk, "key_id": alice.terminal.pk, "event": "accrual",
            "language": "en", "channel": "sms"}


def fill(pattern: URLPattern, ids: dict) -> str:
    route = str(pattern.pattern)
    return "/cabinet/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda match: str(ids[match.group(1)]),
                                route)


def takes_an_id(pattern: URLPattern) -> bool:
    return "<int:" in str(pattern.pattern)


def snapshot(alice) -> list:
    with scopes_disabled():
        merchant = alice.merchant
        return [
            list(Store.objects.filter(merchant=merchant).values_list("name", "address",
                                                                     "active")),
            list(Terminal.objects.filter(merchant=merchant).values_list("name", "revoked_at")),
            list(Staff.objects.filter(merchant=merchant).values_list("role", "active",
                                                                     "pin_hash")),
            list(Invitation.objects.filter(merchant=merchant).values_list("status")),
            list(ApiToken.objects.filter(merchant=merchant).values_list("revoked_at")),
            list(Endpoint.objects.filter(merchant=merchant).values_list("url", "events",
                                                                        "secret", "active")),
            list(Delivery.objects.filter(merchant=merchant).values_list("status",
                                                                        "next_attempt_at")),
        ]


ODD = {"action": "edit", "name": "\x00", "new-name": "x" * 400, "role-role": "owner",
       "pin-pin": "٢٥٨٠", "allowance-points": "1e400", "store": "-1", "staff": "x",
       "url": "javascript:alert(1)", "events": ["nope"], "body": "{" * 2000,
       "quiet_from": "25:99", "transactional": "\x00", "invite-email": "a@",
       "invite-role": "god", "new-url": "ftp://x", "new-events": "x"}


def test_the_sweep_covers_every_settings_route():
    names = {pattern.name for pattern in settings_routes()}
    assert len(names) == 23  # with settings-brand
    assert all(hasattr(pattern.callback, "permission") for pattern in settings_routes())


def test_another_merchants_ids_are_404_and_change_nothing(alice, bob):
    ids = alice_ids(alice)
    before = snapshot(alice)
    client = owner_of(bob)
    for pattern in settings_routes():
        url = fill(pattern, ids)
        if takes_an_id(pattern):
            assert client.get(url).status_code in (404, 405), url
            assert client.post(url, {"action": "close"}).status_code in (404, 405), url
            assert 404 in (client.get(url).status_code,
                           client.post(url, {"action": "close"}).status_code), url
        else:
            response = client.get(url)
            assert response.status_code in (200, 405), url
            assert alice.owner.user.email not in response.content.decode(), url
            assert "hooks.example.com/a" not in response.content.decode(), url
    for action in ("close", "deactivate", "rotate", "delete", "test", "pin", "allowance"):
        client.post(fill(next(p for p in settings_routes() if p.name == "settings-store"), ids),
                    {"action": action})
    assert snapshot(alice) == before


@pytest.mark.parametrize("role", [Staff.Role.CASHIER, Staff.Role.MANAGER, Staff.Role.ADMIN])
def test_each_role_gets_what_its_permissions_say(alice, role):
    ids = alice_ids(alice)
    _staff, client = staff_client(alice, role)
    for pattern in settings_routes():
        url = fill(pattern, ids)
        allowed = access.role_may(role, pattern.callback.permission)
        response = client.get(url)
        if response.status_code == 405:  # a POST-only route (sign out, revoke, redeliver)
            response = client.post(url, {"action": "close"})
            assert response.status_code == 403 if not allowed else 302, (role, url)
        else:
            assert response.status_code == (200 if allowed else 403), (role, url)


def test_odd_input_never_gives_a_500(alice):
    ids = alice_ids(alice)
    client = owner_of(alice)
    for pattern in settings_routes():
        url = fill(pattern, ids)
        for action in ("edit", "create", "add", "invite", "role", "pin", "allowance", "quiet",
                       "unknown"):
            response = client.post(url, {**ODD, "action": action})
            assert response.status_code in (200, 302, 403, 405, 422), (url, action)
        assert client.get(url + "?before=x&after=%00&start=2026-13-45&actor=-1"
                          ).status_code in (200, 405, 422), url
