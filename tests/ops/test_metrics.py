"""/metrics: hidden from anyone without the token or an allowed address, parsed with
prometheus-client's own parser, and its counters move by exactly what happened."""

import subprocess
import sys
from datetime import UTC, datetime, time, timedelta
from ipaddress import ip_network

import pytest
import time_machine
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test import Client, override_settings
from django_scopes import scope, scopes_disabled
from django_tasks_db.models import DBTaskResult
from prometheus_client.parser import text_string_to_metric_families

from kopilka.automation import tick
from kopilka.core.actor import Actor
from kopilka.core.config import networks
from kopilka.messaging import services as messaging
from kopilka.messaging import tasks
from kopilka.messaging.backends.base import BaseBackend, DeliveryError, Outgoing, Refused, Sent
from kopilka.messaging.models import Message

pytestmark = pytest.mark.django_db

TOKEN = "s3cret-scraper-token"
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def scrape(client: Client | None = None) -> dict[tuple, float]:
    """Every sample of /metrics by (name, sorted labels)."""
    with override_settings(METRICS_TOKEN=TOKEN):
        response = (client or Client()).get("/metrics", headers={"Authorization":
                                                                 f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain;")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def value(samples, name, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


# --- who may scrape ---------------------------------------------------------------------------


def test_metrics_are_off_when_neither_token_nor_allow_list_is_set():
    assert Client().get("/metrics").status_code == 404
    assert Client().get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404


@override_settings(METRICS_TOKEN=TOKEN)
@pytest.mark.parametrize("header", [None, "Bearer wrong", TOKEN, f"Basic {TOKEN}",
                                    f"Bearer {TOKEN}x"])
def test_a_wrong_or_missing_token_gets_404(header):
    headers = {"Authorization": header} if header else {}
    assert Client().get("/metrics", headers=headers).status_code == 404


@override_settings(METRICS_TOKEN=TOKEN)
def test_the_token_opens_it():
    response = Client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert b"kopilka_http_requests_total" in response.content


@override_settings(METRICS_ALLOW=[ip_network("10.0.0.0/8"), ip_network("::1/128")])
@pytest.mark.parametrize(("address", "status"), [("10.1.2.3", 200), ("::1", 200),
                                                  ("127.0.0.1", 404), ("192.168.0.5", 404)])
def test_the_allow_list_opens_it_for_its_addresses_only(address, status):
    assert Client(REMOTE_ADDR=address).get("/metrics").status_code == status


@override_settings(METRICS_ALLOW=[ip_network("10.0.0.0/8")], TRUST_X_FORWARDED_FOR=False)
def test_a_forged_forwarded_for_does_not_get_in():
    client = Client(REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="10.0.0.1")
    assert client.get("/metrics").status_code == 404


# --- what it counts ---------------------------------------------------------------------------


def post(client, url, body):
    return client.post(url, body, content_type="application/json")


SALE = {"member": {"phone": "+79995550001"}, "receipt_id": "M-1",
        "lines": [{"line_id": "1", "amount": 60_000}, {"line_id": "2", "amount": 40_000}]}


def test_a_sale_and_a_refund_move_their_counters_by_exactly_one(
        shop, django_capture_on_commit_callbacks):
    shop.program()
    shop.join(phone="+79995550001")
    pos = shop.tenant.pos()
    before = scrape()
    with django_capture_on_commit_callbacks(execute=True):
        assert post(pos, "/api/v1/pos/purchases", SALE).status_code == 201
        assert post(pos, "/api/v1/pos/purchases", SALE).status_code == 200  # a replay
        assert post(pos, "/api/v1/pos/purchases/M-1/refunds",
                    {"refund_id": "r1", "lines": {"2": 40_000}}).status_code == 201
        assert post(pos, "/api/v1/pos/purchases/NOPE/refunds",
                    {"refund_id": "r1"}).status_code == 404
    after = scrape()

    def moved(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("kopilka_purchases_committed_total") == 1  # the replay committed nothing
    assert moved("kopilka_refunds_total") == 1
    # By the URL pattern's name, never the path with its receipt id.
    assert moved("kopilka_http_requests_total", route="api:commit", method="POST",
                 status="201") == 1
    assert moved("kopilka_http_requests_total", route="api:commit", method="POST",
                 status="200") == 1
    assert moved("kopilka_http_requests_total", route="api:refund", method="POST",
                 status="201") == 1
    assert moved("kopilka_http_requests_total", route="api:refund", method="POST",
                 status="404") == 1
    assert moved("kopilka_http_request_duration_seconds_count", route="api:commit",
                 method="POST") == 2
    assert moved("kopilka_http_request_duration_seconds_bucket", route="api:commit",
                 method="POST", le="+Inf") == 2
    assert not [key for key in after if "M-1" in str(key) or "NOPE" in str(key)]


def test_a_path_no_pattern_matches_is_counted_as_unmatched():
    before = scrape()
    assert Client().get("/no/such/page/12345").status_code == 404
    after = scrape()
    labels = {"route": "unmatched", "method": "GET", "status": "404"}
    assert (value(after, "kopilka_http_requests_total", **labels)
            - value(before, "kopilka_http_requests_total", **labels)) == 1


def _queued(tenant, created_at, next_attempt_at) -> Message:
    with scope(merchant=tenant.merchant):
        return Message.objects.create(
            merchant=tenant.merchant, event="accrual", channel="sms", recipient="+79160000009",
            language="en", body="hi", next_attempt_at=next_attempt_at, created_at=created_at)


def test_outbox_depth_and_age_are_read_at_scrape_time(alice):
    with time_machine.travel(NOW, tick=False):
        _queued(alice, NOW - timedelta(minutes=10), NOW - timedelta(minutes=4))
        _queued(alice, NOW - timedelta(minutes=2), NOW + timedelta(minutes=5))  # not due yet
        samples = scrape()
    assert value(samples, "kopilka_outbox_depth", outbox="messages", status="queued") == 2
    assert value(samples, "kopilka_outbox_depth", outbox="messages", status="held") == 0
    assert value(samples, "kopilka_outbox_depth", outbox="webhooks", status="pending") == 0
    assert value(samples, "kopilka_outbox_oldest_age_seconds", outbox="messages") == 600
    assert value(samples, "kopilka_outbox_overdue_seconds", outbox="messages") == 240
    assert value(samples, "kopilka_outbox_oldest_age_seconds", outbox="webhooks") == 0
    assert value(samples, "kopilka_database_up") == 1


def test_task_queue_depth_counts_the_waiting_tasks(alice):
    with scopes_disabled():
        waiting = DBTaskResult.objects.filter(status="READY").count()
    with time_machine.travel(NOW, tick=False):
        message = _queued(alice, NOW, NOW)
        tasks.enqueue(message.pk)
        tasks.enqueue(message.pk)
        with time_machine.travel(NOW + timedelta(seconds=30), tick=False):
            samples = scrape()
    assert value(samples, "kopilka_task_queue_depth") == waiting + 2
    assert value(samples, "kopilka_task_queue_oldest_age_seconds") == 30


class Busy(BaseBackend):
    name = "busy-gateway"

    def send(self, message: Outgoing) -> Sent:
        raise DeliveryError("gateway busy")


class Refusing(BaseBackend):
    name = "refusing-gateway"

    def send(self, message: Outgoing) -> Sent:
        raise Refused("invalid destination address")


def _sms_through(backend: type[BaseBackend]):
    path = f"{__name__}.{backend.__name__}"
    return override_settings(MESSAGING={"sms": {"BACKEND": path}, "email": {"BACKEND": path}})


def test_sms_sent_and_failed_are_counted_by_backend(alice, outbox):
    with time_machine.travel(NOW, tick=False):
        with scope(merchant=alice.merchant):
            messaging.save_settings(alice.merchant, transactional="all", quiet_from=time(0),
                                    quiet_to=time(0), actor=Actor.cli())
        sent, busy, refused = (_queued(alice, NOW, NOW) for _ in range(3))
        before = scrape()
        assert tasks.attempt(sent.pk) == "sent"  # the outbox fixture's locmem backend
        with _sms_through(Busy):
            assert tasks.attempt(busy.pk) == "queued"  # tried again later
        with _sms_through(Refusing):
            assert tasks.attempt(refused.pk) == "refused"
        after = scrape()

    def moved(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("kopilka_messages_sent_total", channel="sms", backend="locmem") == 1
    assert moved("kopilka_messages_failed_total", channel="sms", backend="busy-gateway",
                 outcome="retry") == 1
    assert moved("kopilka_messages_failed_total", channel="sms", backend="refusing-gateway",
                 outcome="refused") == 1
    assert moved("kopilka_messages_sent_total", channel="sms", backend="busy-gateway") == 0


def test_each_tick_job_is_timed(alice):
    before = scrape()
    with time_machine.travel(NOW, tick=False):
        done = tick.run()
    after = scrape()
    for job in done:
        assert (value(after, "kopilka_tick_job_duration_seconds_count", job=job)
                - value(before, "kopilka_tick_job_duration_seconds_count", job=job)) == 1
        assert (value(after, "kopilka_tick_job_items_total", job=job)
                - value(before, "kopilka_tick_job_items_total", job=job)) == done[job]


# --- several processes ------------------------------------------------------------------------

COUNT_IN_A_PROCESS = """
import sys
from kopilka.core import metrics
for _ in range(int(sys.argv[1])):
    metrics.PURCHASES.inc()
metrics.HTTP_REQUESTS.labels("api:commit", "POST", "201").inc(int(sys.argv[1]))
"""


def test_a_scrape_adds_up_every_process_sharing_the_directory(tmp_path, monkeypatch):
    """What gunicorn's workers, the tasks worker and the ticker do under `kopilka up`: each
    process counts into the shared directory; any one scrape sees the sum."""
    shared = tmp_path / "metrics"
    shared.mkdir()
    (shared / "counter_999999.db").write_bytes(b"left over from an earlier run")
    from kopilka.core import metrics

    metrics.prepare_multiprocess_dir(shared)
    assert list(shared.iterdir()) == []
    env = {"PROMETHEUS_MULTIPROC_DIR": str(shared), "PATH": "/usr/bin:/bin"}
    for count in (3, 4):
        subprocess.run([sys.executable, "-c", COUNT_IN_A_PROCESS, str(count)], env=env,
                       check=True, timeout=60)
    assert len(list(shared.glob("counter_*.db"))) == 2
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(shared))
    samples = scrape()
    assert value(samples, "kopilka_purchases_committed_total") == 7
    assert value(samples, "kopilka_http_requests_total", route="api:commit", method="POST",
                 status="201") == 7


def test_postgresql_connections_are_read_from_the_server():
    if connection.vendor != "postgresql":
        pytest.skip("connections are counted on PostgreSQL (pg_stat_activity)")
    samples = scrape()
    in_use = sum(sample for (name, _labels), sample in samples.items()
                 if name == "kopilka_db_connections")
    assert in_use >= 1  # this test's own connection at least
    with connection.cursor() as cursor:
        cursor.execute("SHOW max_connections")
        assert value(samples, "kopilka_db_connections_max") == int(cursor.fetchone()[0])


def test_the_allow_list_is_checked_at_start():
    assert networks("X", " 10.0.0.0/8, ::1 ,192.168.1.7") == [
        ip_network("10.0.0.0/8"), ip_network("::1/128"), ip_network("192.168.1.7/32")]
    assert networks("X", "") == []
    with pytest.raises(ImproperlyConfigured, match="KOPILKA_METRICS_ALLOW: 'localhost'"):
        networks("KOPILKA_METRICS_ALLOW", "10.0.0.0/8,localhost")
