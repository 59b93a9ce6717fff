"""The same tasks on Celery, against the real brokers on this machine: RabbitMQ and Redis.

Only settings change (KOPILKA_TASKS_BACKEND=celery, KOPILKA_BROKER_URL): a message written by
`messaging.services.queue` and a webhook delivery written by a purchase are enqueued on commit
through the broker and delivered by a real Celery worker — `kopilka worker --no-tick` in a
subprocess, so nothing but the worker can send them. The worker uses the test's own database:
the tests are transactional (real commits), and the test database is a file on SQLite (see
core/config.py) or a server database on PostgreSQL, which a second process can share. It sends
SMS to the file backend, read back here; webhooks go to a real HTTP receiver on loopback.

Each broker gets one worker for the module with a queue of its own (a random name), deleted
afterwards, so nothing is left on the brokers, and neither a previous run, another xdist worker
nor someone else's tests on the same brokers can take this one's tasks. A broker that
is not answering skips its tests, unless KOPILKA_REQUIRE_BROKERS=1 (set by .ci/run) makes that
a failure. How long a task takes through each broker: bench/bench_celery.py.
"""

import json
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from django.db import connection, transaction
from django.test import override_settings
from django_scopes import scope, scopes_disabled

import kopilka.celery
from kopilka.core.taskqueue import tasks_settings
from kopilka.messaging import services as messaging
from kopilka.messaging.models import Message
from kopilka.webhooks.models import Delivery
from tests.webhooks.tools import register, send, serve

# One xdist worker runs them all: the module's broker workers then start once per run, not
# once per xdist worker that happens to get one of these tests.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow,
              pytest.mark.xdist_group("celery")]

BROKERS = {
    "rabbitmq": os.environ.get("KOPILKA_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//"),
    "redis": os.environ.get("KOPILKA_TEST_BROKER_REDIS_URL", "redis://127.0.0.1:6379/1"),
}
WAIT = 60  # seconds: a safety net for a stuck worker, never part of an assertion
ACCRUAL = {"points": 2_100, "amount": 150_000, "balance": 10_500}


def answers(url: str) -> bool:
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname, parts.port), timeout=2).close()
    except OSError:
        return False
    return True


def database_url() -> str:
    """The test database as a URL, for the worker process (after pytest-django set it up)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    user = quote(db["USER"] or "", safe="") + (
        ":" + quote(db["PASSWORD"], safe="") if db["PASSWORD"] else "")
    return f"postgres://{user}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def wait_for(condition, what: str):
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.01)
    raise AssertionError(f"gave up waiting {WAIT} s for {what}")


class Worker:
    """`kopilka worker --no-tick` with the Celery backend, on one broker and a queue of its
    own; SMS go to `sms_file`."""

    def __init__(self, name: str, broker_url: str, folder: Path):
        self.name, self.broker_url = name, broker_url
        self.queue = f"kopilka-test-{uuid.uuid4().hex[:12]}"
        self.sms_file = folder / "sms.jsonl"
        self.log_file = folder / "worker.log"
        self.env = {
            "KOPILKA_TASKS_BACKEND": "celery",
            "KOPILKA_BROKER_URL": broker_url,
            "KOPILKA_CELERY_QUEUE": self.queue,
        }
        # `celery worker --hostname` (Celery's CLI reads CELERY_<COMMAND>_<OPTION>): a node name
        # of its own. Two workers named celery@<host> on one RabbitMQ, from another xdist worker
        # or another run on this machine, fight over the exclusive queue of their control
        # channel (`celery@host.celery.pidbox`) and one stops with RESOURCE_LOCKED.
        self.node_env = {"CELERY_WORKER_HOSTNAME": f"{self.queue}@%h"}
        self.process = None

    def start(self) -> None:
        env = {
            **os.environ, **self.env, **self.node_env, "DJANGO_SETTINGS_MODULE": "kopilka.settings",
            "DATABASE_URL": database_url(), "KOPILKA_LOG_LEVEL": "INFO",
            "KOPILKA_SMS_BACKEND": "file",
            "KOPILKA_SMS_OPTIONS": json.dumps({"path": str(self.sms_file)}),
        }
        with self.log_file.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "kopilka.cli", "worker", "--no-tick"],
                env=env, stdout=log, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + WAIT
        while " ready." not in self.log():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the Celery worker did not start:\n{self.log()}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()  # kopilka stops its celery child (warm shutdown)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log(self) -> str:
        return self.log_file.read_text(errors="replace")

    def received(self, task_name: str) -> int:
        """How many tasks of that name the worker took from the broker (Celery's INFO log)."""
        return sum(f"Task {task_name}[" in line and " received" in line
                   for line in self.log().splitlines())

    def idle(self) -> bool:
        """Has every task the worker took finished? (Celery logs each one's end, whatever
        became of it: succeeded, retry, raised, ...)"""
        lines = [line for line in self.log().splitlines() if " Task kopilka." in line]
        taken = {re.search(r"\[([0-9a-f-]+)\] received", line).group(1)
                 for line in lines if line.endswith(" received")}
        ended = {match.group(1) for line in lines if not line.endswith(" received")
                 if (match := re.search(r"\[([0-9a-f-]+)\] ", line))}
        return taken <= ended

    def sms(self) -> list[dict]:
        if not self.sms_file.exists():
            return []
        return [json.loads(line) for line in self.sms_file.read_text().splitlines()]


@pytest.fixture(scope="module", params=sorted(BROKERS))
def worker(request, django_db_setup, django_db_blocker, tmp_path_factory):
    name, url = request.param, BROKERS[request.param]
    if not answers(url):
        why = (f"{name} is not answering at {url}: the Celery path is untested "
               "(.ci/run starts the brokers and sets KOPILKA_REQUIRE_BROKERS=1)")
        if os.environ.get("KOPILKA_REQUIRE_BROKERS") == "1":
            pytest.fail(why)
        pytest.skip(why)
    worker = Worker(name, url, tmp_path_factory.mktemp(f"celery-{name}"))
    with django_db_blocker.unblock():
        worker.start()
    try:
        yield worker
    finally:
        worker.stop()
        # The queue and its exchange as Celery declared them; declaring them again first lets
        # Redis's transport know the bindings it must remove.
        with override_settings(CELERY_BROKER_URL=url, CELERY_TASK_DEFAULT_QUEUE=worker.queue):
            app = kopilka.celery.create_app()
            with app.connection_for_write() as broker:
                queue = app.amqp.queues[worker.queue](broker.default_channel)
                queue.declare()
                queue.delete()
                queue.exchange.delete()
            app.close()


@pytest.fixture
def on_celery(worker, sending, monkeypatch):
    """This process enqueues through the worker's broker and queue: the settings a Celery
    deployment has, and a Celery app built from them (set up after alice, so what her set-up
    queued went to the database backend and is not the worker's)."""
    worker.sms_file.unlink(missing_ok=True)
    with override_settings(TASKS=tasks_settings(worker.env),
                           CELERY_BROKER_URL=worker.broker_url,
                           CELERY_TASK_DEFAULT_QUEUE=worker.queue):
        app = kopilka.celery.create_app()
        monkeypatch.setattr(kopilka.celery, "app", app)  # the backend's CELERY_APP
        yield app
        app.close()
    # A task still running when the test ends (the tick goes on after the message it was waited
    # for) would write while the test database is being emptied: PostgreSQL's TRUNCATE then
    # deadlocks with it.
    wait_for(worker.idle, "the worker to finish its tasks")


def stored(model, pk):
    with scopes_disabled():
        return model.objects.get(pk=pk)


def sent(message_id: int) -> Message | None:
    message = stored(Message, message_id)
    return message if message.status == Message.Status.SENT else None


def test_a_queued_message_is_sent_by_the_celery_worker(on_celery, worker, alice):
    # The worker's node name is its own (not celery@<host>): see Worker.node_env.
    assert f" {worker.queue}@{socket.gethostname()} v" in worker.log()
    before = worker.received("kopilka.messaging.tasks.deliver")
    with transaction.atomic(), scope(merchant=alice.merchant):
        message = messaging.queue(alice.merchant, event="accrual", member=alice.member,
                                  context=ACCRUAL)
    done = wait_for(lambda: sent(message.pk), "the message to be sent")
    assert (done.attempts, done.provider, done.provider_id, done.error) == (
        1, "file", f"file-{message.pk}", "")
    [sms] = worker.sms()
    assert (sms["id"], sms["to"], sms["text"]) == (message.pk, "+79160000001", message.body)
    assert worker.received("kopilka.messaging.tasks.deliver") == before + 1


def test_a_rolled_back_message_reaches_no_worker(on_celery, worker, alice):
    before = worker.received("kopilka.messaging.tasks.deliver")
    with pytest.raises(RuntimeError), transaction.atomic(), scope(merchant=alice.merchant):
        messaging.queue(alice.merchant, event="accrual", member=alice.member, context=ACCRUAL)
        raise RuntimeError("the operation failed")
    # A committed message queued after it is sent; the rolled-back one was never published.
    with transaction.atomic(), scope(merchant=alice.merchant):
        message = messaging.queue(alice.merchant, event="accrual", member=alice.member,
                                  context=ACCRUAL)
    wait_for(lambda: sent(message.pk), "the committed message to be sent")
    assert [sms["id"] for sms in worker.sms()] == [message.pk]
    assert worker.received("kopilka.messaging.tasks.deliver") == before + 1
    with scopes_disabled():
        assert Message.objects.filter(event="accrual").count() == 1


@pytest.fixture
def receiver():
    with serve() as state:
        yield state


def test_a_purchase_webhook_is_delivered_by_the_celery_worker(on_celery, worker, alice,
                                                              receiver):
    webhooks_before = worker.received("kopilka.webhooks.tasks.deliver")
    with scopes_disabled():
        earlier = set(Message.objects.values_list("pk", flat=True))
    endpoint = register(alice.manage(), receiver.url, ["purchase.committed"])
    response = send(alice.pos(), "post", "/api/v1/pos/purchases", {
        "receipt_id": "R-1", "member": {"id": alice.member.pk},
        "lines": [{"line_id": "1", "amount": 60_000}, {"line_id": "2", "amount": 40_000}],
    })
    assert response.status_code == 201, response.json()
    with scopes_disabled():
        [delivery] = Delivery.objects.filter(endpoint_id=endpoint["id"])

    def delivered():
        row = stored(Delivery, delivery.pk)
        return row if row.status == Delivery.Status.DELIVERED else None

    done = wait_for(delivered, "the webhook to be delivered")
    assert (done.attempts, done.last_status_code) == (1, 200)
    [got] = receiver.requests
    body = json.loads(got.body)
    assert (got.headers["Kopilka-Event"], body["type"]) == ("purchase.committed",) * 2
    assert (body["data"]["total"], body["data"]["points_accrued"]) == (100_000, 5_000)
    assert worker.received("kopilka.webhooks.tasks.deliver") == webhooks_before + 1
    # The purchase's message to the member (thanks for the first one) went the same way.
    with scopes_disabled():
        [receipt] = Message.objects.exclude(pk__in=earlier)
    assert receipt.event == "first_purchase"
    wait_for(lambda: sent(receipt.pk), "the purchase receipt to be sent")
    assert [sms["id"] for sms in worker.sms()] == [receipt.pk]


def test_the_tick_sent_as_a_celery_task_sends_what_a_lost_task_left(on_celery, worker, alice):
    lost = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    with override_settings(TASKS=lost), transaction.atomic(), scope(merchant=alice.merchant):
        message = messaging.queue(alice.merchant, event="accrual", member=alice.member,
                                  context=ACCRUAL)
    ticks = worker.received(kopilka.celery.TICK)
    time.sleep(0.5)
    assert worker.sms() == [] and sent(message.pk) is None  # its task went nowhere

    on_celery.send_task(kopilka.celery.TICK)  # what celery beat sends every minute
    wait_for(lambda: sent(message.pk), "the tick to send the message")
    assert [sms["id"] for sms in worker.sms()] == [message.pk]
    assert worker.received(kopilka.celery.TICK) == ticks + 1
