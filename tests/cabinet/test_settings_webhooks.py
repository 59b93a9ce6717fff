"""Webhooks in the cabinet: an endpoint's stored values, its secret shown when made or rotated
and not again, the delivery log in keyset pages, redelivery; bad input a form error; a manager
gets 403."""

import re
import uuid

from django.test import override_settings
from django_scopes import scopes_disabled

from kopilka.core import clock
from kopilka.core.actor import Actor
from kopilka.tenancy.models import Staff
from kopilka.webhooks.models import Delivery, Endpoint
from tests.cabinet.tools import owner_of, staff_client

NEW = {"action": "create", "new-url": "https://hooks.example.com/k",
       "new-description": "CRM", "new-events": ["purchase.committed", "member.registered"],
       "new-active": "on"}


def secret_in(html: str) -> str:
    [found] = re.findall(r"data-secret-value>([^<]+)<", html)
    return found


@override_settings(WEBHOOKS_ALLOW_PRIVATE=True)
def test_create_edit_rotate_and_delete_an_endpoint(alice):
    client = owner_of(alice)
    response = client.post("/cabinet/settings/webhooks/", NEW)
    assert response.status_code == 200
    with scopes_disabled():
        endpoint = Endpoint.objects.get(merchant=alice.merchant)
    assert (endpoint.url, endpoint.description, endpoint.events, endpoint.active) == (
        "https://hooks.example.com/k", "CRM", ["purchase.committed", "member.registered"], True)
    assert secret_in(response.content.decode()) == endpoint.secret
    url = f"/cabinet/settings/webhooks/{endpoint.pk}/"
    assert endpoint.secret not in client.get(url).content.decode()
    assert client.post(url, {"action": "edit", "url": "https://hooks.example.com/v2",
                             "description": "", "events": ["points.adjusted"]}
                       ).status_code == 302
    with scopes_disabled():
        endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.description, endpoint.events, endpoint.active) == (
        "https://hooks.example.com/v2", "", ["points.adjusted"], False)
    old = endpoint.secret
    rotated = client.post(url, {"action": "rotate"})
    with scopes_disabled():
        endpoint.refresh_from_db()
    assert endpoint.secret != old and secret_in(rotated.content.decode()) == endpoint.secret
    assert client.post(url, {"action": "delete"}).status_code == 302
    with scopes_disabled():
        assert not Endpoint.objects.filter(merchant=alice.merchant).exists()


@override_settings(WEBHOOKS_ALLOW_PRIVATE=False)
def test_bad_input_is_a_form_error_in_the_users_language(alice):
    client = owner_of(alice, language="ru")
    response = client.post("/cabinet/settings/webhooks/", {**NEW, "new-events": []})
    assert response.status_code == 422 and "Обязательное поле." in response.content.decode()
    private = client.post("/cabinet/settings/webhooks/", {**NEW, "new-url": "http://127.0.0.1/"})
    assert private.status_code == 422
    assert "вебхуки отправляются только на публичные адреса" in private.content.decode()
    with scopes_disabled():
        assert not Endpoint.objects.filter(merchant=alice.merchant).exists()


@override_settings(WEBHOOKS_ALLOW_PRIVATE=True)
def test_the_delivery_log_pages_and_redelivers(alice, django_capture_on_commit_callbacks):
    client = owner_of(alice)
    client.post("/cabinet/settings/webhooks/", NEW)
    with scopes_disabled():
        endpoint = Endpoint.objects.get(merchant=alice.merchant)
        now = clock.now()
        rows = Delivery.objects.bulk_create(
            Delivery(merchant=alice.merchant, endpoint=endpoint, event="member.registered",
                     event_id=uuid.uuid4(), payload={}, status=Delivery.Status.FAILED,
                     attempts=8, failures=8, next_attempt_at=now, created_at=now)
            for _n in range(30))
    url = f"/cabinet/settings/webhooks/{endpoint.pk}/"
    first = client.get(url).content.decode()
    ids = [int(found) for found in re.findall(r'data-delivery="(\d+)"', first)]
    assert ids == sorted((row.pk for row in rows), reverse=True)[:25]
    assert f'href="?before={ids[-1]}"' in first
    second = client.get(f"{url}?before={ids[-1]}").content.decode()
    assert [int(found) for found in re.findall(r'data-delivery="(\d+)"', second)] == \
        sorted((row.pk for row in rows), reverse=True)[25:]
    assert 'href="?before=' not in second
    with django_capture_on_commit_callbacks():
        assert client.post(f"/cabinet/settings/webhooks/deliveries/{ids[0]}/redeliver/"
                           ).status_code == 302
    with scopes_disabled():
        again = Delivery.objects.get(pk=ids[0])
    assert (again.status, again.failures, again.attempts) == ("pending", 0, 8)


def test_a_manager_gets_403(alice):
    _manager, client = staff_client(alice, Staff.Role.MANAGER)
    assert client.get("/cabinet/settings/webhooks/").status_code == 403
    assert client.post("/cabinet/settings/webhooks/", NEW).status_code == 403
    with scopes_disabled():
        assert not Endpoint.objects.filter(merchant=alice.merchant).exists()


def test_the_events_are_described_in_the_users_language(alice):
    english = owner_of(alice).get("/cabinet/settings/webhooks/").content.decode()
    assert "purchase.committed: A purchase was recorded (points spent and accrued)." in english
    russian = owner_of(alice, language="ru").get("/cabinet/settings/webhooks/").content.decode()
    assert "purchase.committed: Записана покупка (списание и начисление баллов)." in russian


@override_settings(WEBHOOKS_ALLOW_PRIVATE=True)
def test_a_delivery_shows_its_body_and_attempts(alice, bob):
    from kopilka.webhooks import services as webhooks
    from kopilka.webhooks.models import Attempt

    with scopes_disabled():
        endpoint = webhooks.create_endpoint(alice.merchant, url="https://hooks.example.com/d",
                                            events=["member.registered"], actor=Actor.cli())
        delivery = webhooks.send_test(endpoint, actor=Actor.cli())
        Attempt.objects.create(merchant=alice.merchant, delivery=delivery,
                               started_at=clock.now(), duration_ms=412, status_code=503,
                               response_body="busy, try later")
    page = owner_of(alice).get(f"/cabinet/settings/webhooks/deliveries/{delivery.pk}/")
    html = page.content.decode()
    assert page.status_code == 200 and "HTTP 503 · 412 ms" in html and "busy, try later" in html
    assert str(delivery.event_id) in html and "&quot;type&quot;: &quot;ping&quot;" in html
    assert owner_of(bob).get(f"/cabinet/settings/webhooks/deliveries/{delivery.pk}/"
                             ).status_code == 404
