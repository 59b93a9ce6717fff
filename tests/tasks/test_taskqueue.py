"""Choosing the tasks backend by settings, and what the Celery backend does without a broker."""

import os
import socket
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.tasks import task_backends
from django.test import override_settings
from django_scopes import scope, scopes_disabled
from kombu.exceptions import OperationalError

import kopilka.celery
from kopilka.automation import tick
from kopilka.cli import worker_command
from kopilka.core.taskqueue import tasks_settings
from kopilka.messaging import services as messaging
from kopilka.messaging.models import Message

RABBITMQ = "amqp://guest:guest@127.0.0.1:5672//"


def test_the_database_backend_is_the_default():
    assert tasks_settings({}) == {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    assert tasks_settings({"KOPILKA_TASKS_BACKEND": " Database "}) == tasks_settings({})


def test_celery_with_a_rabbitmq_or_redis_broker():
    for url in (RABBITMQ, "redis://127.0.0.1:6379/1", "rediss://cache.example:6380/0"):
        env = {"KOPILKA_TASKS_BACKEND": "celery", "KOPILKA_BROKER_URL": url}
        assert tasks_settings(env) == {"default": {
            "BACKEND": "kopilka.core.celery_backend.CeleryBackend",
            "OPTIONS": {"CELERY_APP": "kopilka.celery.app"},
        }}


@pytest.mark.parametrize(("env", "message"), [
    ({"KOPILKA_TASKS_BACKEND": "rq"},
     "KOPILKA_TASKS_BACKEND must be one of database, celery; got 'rq'"),
    ({"KOPILKA_TASKS_BACKEND": "celery"},
     "KOPILKA_TASKS_BACKEND=celery needs KOPILKA_BROKER_URL, e.g. "
     "amqp://guest:guest@127.0.0.1:5672// or redis://127.0.0.1:6379/1"),
    ({"KOPILKA_TASKS_BACKEND": "celery", "KOPILKA_BROKER_URL": "sqs://key:secret@"},
     "KOPILKA_BROKER_URL must be a RabbitMQ (amqp://user:password@host:5672/vhost) or "
     "Redis (redis://host:6379/1) URL"),
])
def test_a_celery_set_up_that_cannot_work_is_refused(env, message):
    with pytest.raises(ImproperlyConfigured) as refused:
        tasks_settings(env)
    assert str(refused.value) == message


def test_kopilka_refuses_to_start_with_a_bad_tasks_setting(tmp_path):
    env = {"KOPILKA_DATA_DIR": str(tmp_path), "KOPILKA_TASKS_BACKEND": "celery",
           "PATH": "/usr/bin:/bin", "LANG": "C"}
    done = subprocess.run([sys.executable, "-m", "kopilka.cli", "worker"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        "kopilka: error: KOPILKA_TASKS_BACKEND=celery needs KOPILKA_BROKER_URL, e.g. "
        "amqp://guest:guest@127.0.0.1:5672// or redis://127.0.0.1:6379/1\n")


def test_the_worker_command_follows_the_backend(monkeypatch):
    assert worker_command()[1:] == ["-m", "django", "db_worker", "--no-reload", "--interval",
                                    "1"]
    env = {"KOPILKA_TASKS_BACKEND": "celery", "KOPILKA_BROKER_URL": RABBITMQ}
    with override_settings(TASKS=tasks_settings(env)):
        # Each `kopilka worker` process is a node of its own: two on one host would collide.
        assert worker_command()[1:] == ["-m", "celery", "-A", "kopilka", "worker",
                                        "--loglevel", "INFO", "--hostname",
                                        f"kopilka-{os.getpid()}@%h"]
        monkeypatch.setenv("CELERY_WORKER_HOSTNAME", "till-7@%h")  # the operator's own name
        assert worker_command()[-2:] == ["--loglevel", "INFO"]


def test_the_celery_backend_defers_nothing_and_passes_the_checks():
    """Retries and quiet hours wait in the outbox for the tick, not as ETA tasks in a broker."""
    env = {"KOPILKA_TASKS_BACKEND": "celery", "KOPILKA_BROKER_URL": RABBITMQ}
    with override_settings(TASKS=tasks_settings(env)):
        backend = task_backends["default"]
        assert (backend.supports_defer, backend.supports_get_result) == (False, False)
        assert backend.check() == []


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens there once the probe is closed


@pytest.mark.django_db(transaction=True)
def test_with_the_broker_down_the_operation_stands_and_the_tick_sends(sending, outbox,
                                                                     monkeypatch, caplog):
    broker = f"amqp://guest:guest@127.0.0.1:{closed_port()}//"
    env = {"KOPILKA_TASKS_BACKEND": "celery", "KOPILKA_BROKER_URL": broker}
    with override_settings(TASKS=tasks_settings(env), CELERY_BROKER_URL=broker):
        app = kopilka.celery.create_app()
        monkeypatch.setattr(kopilka.celery, "app", app)
        with transaction.atomic(), scope(merchant=sending.merchant):
            message = messaging.queue(sending.merchant, event="accrual", member=sending.member,
                                      context={"points": 2_100, "amount": 150_000,
                                               "balance": 10_500})
        app.close()
    # The enqueue after the commit reached for the broker, failed, and was only logged.
    [failed] = [r for r in caplog.records if r.name == "django.db.backends.base"]
    assert failed.getMessage().startswith("Error calling ")
    assert failed.exc_info[0] is OperationalError
    with scopes_disabled():
        assert Message.objects.get(pk=message.pk).status == Message.Status.QUEUED
    assert outbox == []
    assert tick.run()["messages due"] == 1
    [sent] = outbox
    assert (sent.id, sent.body) == (message.pk, message.body)
    with scopes_disabled():
        assert Message.objects.get(pk=message.pk).status == Message.Status.SENT


def test_celery_beat_sends_the_tick_every_minute():
    app = kopilka.celery.create_app()
    assert app.conf.beat_schedule == {"kopilka.tick": {
        "task": "kopilka.tick", "schedule": 60.0, "options": {"expires": 60.0}}}
    assert "kopilka.tick" in app.tasks
    app.close()
