"""Deliveries end to end: an operation through the API, the outbox row written in its
transaction, the task queued on commit, the real worker sending a signed request to a real HTTP
server on loopback, retries with backoff, redelivery, and at-most-one sender at a time."""

import json
import socket
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import transaction
from django.test import override_settings
from django_scopes import scope, scopes_disabled
from django_tasks_db.models import DBTaskResult

from kopilka.core.actor import Actor
from kopilka.processing import services as processing
from kopilka.webhooks import tasks
from kopilka.webhooks.models import Delivery
from tests.webhooks.tools import check_signature, register, run_worker, send

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def buy(alice, receipt_id="R-1", amounts=(60_000, 40_000)):
    response = send(alice.pos(), "post", "/api/v1/pos/purchases", {
        "receipt_id": receipt_id, "member": {"id": alice.member.pk},
        "lines": [{"line_id": str(n), "amount": a} for n, a in enumerate(amounts, start=1)],
    })
    assert response.status_code in (200, 201), response.json()
    return response


def only_delivery(alice) -> Delivery:
    with scope(merchant=alice.merchant):
        [delivery] = Delivery.objects.filter(merchant=alice.merchant)
        return delivery


def test_a_purchase_is_delivered_signed_with_its_figures(alice, receiver):
    endpoint = register(alice.manage(), receiver.url, ["purchase.committed"])
    assert endpoint["secret"].startswith("whsec_")
    with time_machine.travel(T0, tick=False):
        purchase = buy(alice).json()
        assert receiver.requests == []  # queued on commit, not sent inside the request
        run_worker()
    [got] = receiver.requests
    assert got.path == "/hooks/kopilka"
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["Kopilka-Event"] == "purchase.committed"
    assert check_signature(endpoint["secret"], got) == int(T0.timestamp())
    body = json.loads(got.body)
    assert got.headers["Kopilka-Delivery"] == body["id"] == str(uuid.UUID(body["id"]))
    assert body["type"] == "purchase.committed"
    assert body["merchant"] == alice.merchant.slug
    assert body["created_at"] == "2026-11-23T12:00:00Z"
    data = body["data"]
    assert data == {
        "purchase_id": data["purchase_id"], "member_id": alice.member.pk, "receipt_id": "R-1",
        "store_id": alice.terminal.store_id, "terminal_id": alice.terminal.pk,
        "total": 100_000, "discount": 0, "points_spent": 0, "points_spent_money": 0,
        "points_accrued": 5_000, "tier": "standard", "available": 5_000, "pending": 0,
        "occurred_at": "2026-11-23T12:00:00Z",
    }
    assert purchase["points_accrued"] == 5_000

    delivery_id = only_delivery(alice).pk
    log = alice.manage().get(f"/api/v1/manage/webhook-deliveries/{delivery_id}").json()
    assert (log["status"], log["attempts"], log["last_status_code"]) == ("delivered", 1, 200)
    assert log["next_attempt_at"] is None
    assert log["payload"] == body
    [attempt] = log["attempt_log"]
    assert attempt["started_at"] == "2026-11-23T12:00:00Z"
    # Delivered when the answer came: the start plus the request's (real) duration.
    delivered = T0 + timedelta(milliseconds=attempt["duration_ms"])
    assert datetime.fromisoformat(log["delivered_at"]) == delivered
    assert (attempt["status_code"], attempt["error"], attempt["response_body"]) == (
        200, "", "answer 1")


def test_failed_attempts_are_retried_with_backoff_until_delivered(alice, receiver):
    endpoint = register(alice.manage(), receiver.url, ["purchase.committed"])
    receiver.statuses = [500, 503]
    with time_machine.travel(T0, tick=False):
        buy(alice)
        run_worker()
    delivery = only_delivery(alice)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    # The next attempt is due a minute after the first one ended (its duration is real time).
    with scope(merchant=alice.merchant):
        first = delivery.log.get()
    ended = first.started_at + timedelta(milliseconds=first.duration_ms)
    assert delivery.next_attempt_at == ended + timedelta(minutes=1)

    with time_machine.travel(T0 + timedelta(seconds=59), tick=False):
        run_worker()  # the deferred task is not due yet
    assert len(receiver.requests) == 1
    with time_machine.travel(T0 + timedelta(minutes=1, seconds=1), tick=False):
        run_worker()
    delivery = only_delivery(alice)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 2, 503)
    with time_machine.travel(T0 + timedelta(minutes=6), tick=False):
        run_worker()  # 5 minutes after the second attempt: not yet
    assert len(receiver.requests) == 2
    with time_machine.travel(T0 + timedelta(minutes=6, seconds=2), tick=False):
        run_worker()

    delivery = only_delivery(alice)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (
        "delivered", 3, 200)
    ids = {request.headers["Kopilka-Delivery"] for request in receiver.requests}
    assert ids == {str(delivery.event_id)}
    assert len({request.body for request in receiver.requests}) == 1  # the same body
    stamps = [check_signature(endpoint["secret"], r) for r in receiver.requests]
    assert stamps == [int((T0 + offset).timestamp()) for offset in
                      (timedelta(0), timedelta(minutes=1, seconds=1),
                       timedelta(minutes=6, seconds=2))]
    log = alice.manage().get(f"/api/v1/manage/webhook-deliveries/{delivery.pk}").json()
    assert [(a["status_code"], a["response_body"]) for a in log["attempt_log"]] == [
        (500, "answer 1"), (503, "answer 2"), (200, "answer 3")]


def test_a_delivery_fails_after_eight_attempts(alice, receiver):
    register(alice.manage(), receiver.url, ["purchase.committed"])
    receiver.statuses = [500] * 8
    at = T0
    with time_machine.travel(at, tick=False):
        buy(alice)
        run_worker()
    for wait in tasks.BACKOFF:
        at += wait + timedelta(seconds=1)
        with time_machine.travel(at, tick=False):
            run_worker()
    assert len(receiver.requests) == 8
    delivery = only_delivery(alice)
    assert (delivery.status, delivery.attempts, delivery.failures) == ("failed", 8, 8)
    with time_machine.travel(at + timedelta(days=7), tick=False):
        run_worker()
        assert tasks.deliver_due() == 0
    assert len(receiver.requests) == 8
    listed = alice.manage().get(
        f"/api/v1/manage/webhooks/{delivery.endpoint_id}/deliveries?status=failed").json()
    assert [(d["id"], d["status"], d["next_attempt_at"]) for d in listed["items"]] == [
        (delivery.pk, "failed", None)]


def test_a_rolled_back_operation_sends_nothing(alice, receiver):
    register(alice.manage(), receiver.url, ["points.adjusted"])
    with scope(merchant=alice.merchant), pytest.raises(RuntimeError), transaction.atomic():
        processing.adjust_points(alice.merchant, alice.member, points=500, by=alice.owner,
                                 reason="oops", key="k1", actor=Actor.cli())
        with scopes_disabled():
            assert Delivery.objects.count() == 1  # written in the operation's transaction
        raise RuntimeError("something after the grant failed")
    with scopes_disabled():
        assert Delivery.objects.count() == 0
    assert DBTaskResult.objects.count() == 0
    run_worker()
    assert tasks.deliver_due() == 0
    assert receiver.requests == []


def test_a_replayed_purchase_is_not_announced_again(alice, receiver):
    register(alice.manage(), receiver.url, ["purchase.committed"])
    assert buy(alice, "R-7").status_code == 201
    replay = buy(alice, "R-7")
    assert (replay.status_code, replay.json()["replayed"]) == (200, True)
    run_worker()
    assert len(receiver.requests) == 1
    assert only_delivery(alice).status == "delivered"


def test_deliver_due_sends_what_a_lost_task_left(alice, receiver):
    endpoint = register(alice.manage(), receiver.url, ["purchase.committed"])
    buy(alice)
    DBTaskResult.objects.all().delete()  # the queued task is lost (a broker restart, say)
    run_worker()
    assert receiver.requests == []
    assert tasks.deliver_due() == 1
    [got] = receiver.requests
    check_signature(endpoint["secret"], got)
    assert only_delivery(alice).status == "delivered"
    assert tasks.deliver_due() == 0


def test_redelivery_sends_the_same_event_again(alice, receiver):
    client = alice.manage()
    endpoint = register(client, receiver.url, ["purchase.committed"])
    buy(alice)
    run_worker()
    delivery = only_delivery(alice)
    response = send(client, "post", f"/api/v1/manage/webhook-deliveries/{delivery.pk}/redeliver")
    assert response.status_code == 202
    assert (response.json()["status"], response.json()["attempts"]) == ("pending", 1)
    run_worker()
    first, second = receiver.requests
    assert first.body == second.body
    assert first.headers["Kopilka-Delivery"] == second.headers["Kopilka-Delivery"]
    check_signature(endpoint["secret"], second)
    log = client.get(f"/api/v1/manage/webhook-deliveries/{delivery.pk}").json()
    assert (log["status"], log["attempts"], len(log["attempt_log"])) == ("delivered", 2, 2)


def test_a_rotated_secret_signs_from_then_on(alice, receiver):
    client = alice.manage()
    endpoint = register(client, receiver.url, ["purchase.committed"])
    rotated = send(client, "post", f"/api/v1/manage/webhooks/{endpoint['id']}/rotate-secret")
    assert rotated.status_code == 200
    secret = rotated.json()["secret"]
    assert secret.startswith("whsec_") and secret != endpoint["secret"]
    buy(alice)
    run_worker()
    [got] = receiver.requests
    check_signature(secret, got)
    with pytest.raises(AssertionError):
        check_signature(endpoint["secret"], got)


def test_ping_goes_to_the_endpoint_whatever_it_subscribes(alice, receiver):
    client = alice.manage()
    endpoint = register(client, receiver.url, ["points.expiring"])
    response = send(client, "post", f"/api/v1/manage/webhooks/{endpoint['id']}/test")
    assert response.status_code == 202
    assert (response.json()["event"], response.json()["status"]) == ("ping", "pending")
    run_worker()
    [got] = receiver.requests
    body = json.loads(got.body)
    assert (body["type"], body["data"]) == ("ping", {"endpoint_id": endpoint["id"]})
    assert got.headers["Kopilka-Event"] == "ping"


def test_a_disabled_endpoint_gets_nothing_new_and_pauses_what_is_queued(alice, receiver):
    client = alice.manage()
    endpoint = register(client, receiver.url, ["purchase.committed"])
    url = f"/api/v1/manage/webhooks/{endpoint['id']}"
    buy(alice, "R-1")
    assert send(client, "patch", url, {"active": False}).json()["active"] is False
    buy(alice, "R-2")  # not queued for a disabled endpoint
    run_worker()
    assert tasks.deliver_due() == 0
    assert receiver.requests == []
    assert only_delivery(alice).status == "pending"
    test = send(client, "post", f"{url}/test")
    assert (test.status_code, test.json()["errors"][0]["field"]) == (409, "active")
    send(client, "patch", url, {"active": True})
    assert tasks.deliver_due() == 1
    [got] = receiver.requests
    assert json.loads(got.body)["data"]["receipt_id"] == "R-1"


def test_two_workers_never_send_the_same_delivery_at_once(alice, receiver):
    """Worker A claims the delivery and is still waiting for the receiver when worker B (and
    the sweep) try the same row: they find it claimed and send nothing."""
    register(alice.manage(), receiver.url, ["purchase.committed"])
    buy(alice)
    delivery_id = only_delivery(alice).pk
    receiver.gate = threading.Event()
    outcome = {}
    worker_a = threading.Thread(target=lambda: outcome.update(a=tasks.attempt(delivery_id)))
    worker_a.start()
    try:
        assert receiver.arrived.wait(timeout=60)
        assert tasks.attempt(delivery_id) == "skipped"
        assert tasks.deliver_due() == 0
    finally:
        receiver.gate.set()
        worker_a.join()
    assert outcome == {"a": "delivered"}
    assert len(receiver.requests) == 1
    assert only_delivery(alice).attempts == 1


def test_the_address_rule_is_checked_again_at_delivery(alice, receiver):
    register(alice.manage(), receiver.url, ["purchase.committed"])  # allowed when registered
    buy(alice)
    with override_settings(WEBHOOKS_ALLOW_PRIVATE=False):
        run_worker()
    assert receiver.requests == []
    delivery = only_delivery(alice)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, None)
    with scope(merchant=alice.merchant):
        attempt = delivery.log.get()
    assert attempt.status_code is None
    assert attempt.error == ("'127.0.0.1' resolves to a non-public address (127.0.0.1): "
                             "webhooks are only sent to public addresses.")


def test_ipv6_forms_wrapping_ipv4_are_refused_again_at_delivery(alice, receiver):
    # Registered while the rule was off (as in development), delivered in production: every
    # form is resolved (getaddrinfo, as for a host name) and refused before any connection.
    port = receiver.url.split(":")[2].split("/")[0]
    wrapped = ["::127.0.0.1", "::ffff:127.0.0.1", "::ffff:0:7f00:1", "64:ff9b::7f00:1",
               "64:ff9b::a9fe:a9fe", "64:ff9b:1::7f00:1", "2002:7f00:1::",
               "2001:0:4136:e378:8000:63bf:80ff:fffe"]
    endpoints = [register(alice.manage(), f"http://[{address}]:{port}/hook",
                          ["purchase.committed"]) for address in wrapped]
    buy(alice)
    with override_settings(WEBHOOKS_ALLOW_PRIVATE=False):
        run_worker()
    assert receiver.requests == []
    with scope(merchant=alice.merchant):
        deliveries = {d.endpoint_id: d for d in Delivery.objects.filter(merchant=alice.merchant)}
        errors = [[(a.status_code, a.error) for a in deliveries[e["id"]].log.all()]
                  for e in endpoints]
    assert errors == [
        [(None, f"{address!r} resolves to a non-public address ({address}): webhooks are only "
                "sent to public addresses.")]
        for address in wrapped
    ]
    assert {(d.status, d.attempts) for d in deliveries.values()} == {("pending", 1)}


def test_the_connection_goes_to_the_address_that_was_checked(alice, receiver, monkeypatch):
    # DNS rebinding: the receiver's name answers a harmless address when checked, then an
    # address the rule would refuse. The request must go where the first answer said, not
    # resolve the name a second time. (A name server that changes its answer cannot be put in
    # front of the system resolver here, so the resolver's answers are scripted for that one
    # name; every other look-up is the real one.)
    real = socket.getaddrinfo
    answers = iter(["127.0.0.1"])  # the first answer; any later one would be 192.0.2.1

    def scripted(host, *args, **kwargs):
        if host == "hooks.rebind.test":
            return real(next(answers, "192.0.2.1"), *args, **kwargs)
        return real(host, *args, **kwargs)

    register(alice.manage(), receiver.url.replace("127.0.0.1", "hooks.rebind.test"),
             ["purchase.committed"])
    buy(alice)
    monkeypatch.setattr(socket, "getaddrinfo", scripted)
    run_worker()
    assert [r.path for r in receiver.requests] == ["/hooks/kopilka"]
    assert receiver.requests[0].headers["Host"].startswith("hooks.rebind.test:")
    assert only_delivery(alice).status == "delivered"


def test_a_receiver_that_is_down_is_a_failed_attempt(alice):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    register(alice.manage(), f"http://127.0.0.1:{port}/hook", ["purchase.committed"])
    buy(alice)
    run_worker()
    delivery = only_delivery(alice)
    assert (delivery.status, delivery.failures) == ("pending", 1)
    with scope(merchant=alice.merchant):
        attempt = delivery.log.get()
    assert attempt.status_code is None
    assert attempt.error.startswith("ConnectionRefusedError")


def test_a_path_in_cyrillic_is_sent_percent_encoded(alice, receiver):
    register(alice.manage(), receiver.url + "/заказы?магазин=1&x=a%20b", ["purchase.committed"])
    buy(alice)
    run_worker()
    [got] = receiver.requests
    assert got.path == ("/hooks/kopilka/%D0%B7%D0%B0%D0%BA%D0%B0%D0%B7%D1%8B"
                        "?%D0%BC%D0%B0%D0%B3%D0%B0%D0%B7%D0%B8%D0%BD=1&x=a%20b")
