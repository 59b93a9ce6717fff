"""settings.TASKS from the environment: which queue runs the background tasks.

The task code is written once against Django's tasks API (`django.tasks`); only this choice
changes where it runs (docs/operations.md, "Background work"):

- `KOPILKA_TASKS_BACKEND=database` (the default): django-tasks-db stores the tasks in the
  database and `kopilka worker` (or `kopilka up`) runs its `db_worker`. Nothing else to run.
- `KOPILKA_TASKS_BACKEND=celery` with `KOPILKA_BROKER_URL` (`amqp://...` for RabbitMQ,
  `redis://...` for Redis): the tasks go through the broker to Celery workers
  (`kopilka worker` runs one; the app is kopilka/celery.py). Needs `pip install 'kopilka[celery]'`.

Imported by kopilka/settings.py, so it must not import Django models, settings or Celery.
"""

from collections.abc import Mapping
from importlib.util import find_spec
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

BACKENDS = {
    "database": "django_tasks_db.DatabaseBackend",
    "celery": "kopilka.core.celery_backend.CeleryBackend",
}
# What CI proves (tests/tasks/test_celery.py runs against both); Celery knows other
# transports, but an untested one is not offered.
BROKER_SCHEMES = {"amqp": "RabbitMQ", "amqps": "RabbitMQ", "redis": "Redis", "rediss": "Redis"}
CELERY_APP = "kopilka.celery.app"


def backend_name(env: Mapping[str, str]) -> str:
    name = env.get("KOPILKA_TASKS_BACKEND", "").strip().lower() or "database"
    if name not in BACKENDS:
        raise ImproperlyConfigured(
            f"KOPILKA_TASKS_BACKEND must be one of {', '.join(BACKENDS)}; got {name!r}"
        )
    return name


def broker_url(env: Mapping[str, str]) -> str:
    """KOPILKA_BROKER_URL, checked: a RabbitMQ or Redis URL (empty when not set)."""
    url = env.get("KOPILKA_BROKER_URL", "").strip()
    if url and urlsplit(url).scheme not in BROKER_SCHEMES:
        raise ImproperlyConfigured(
            "KOPILKA_BROKER_URL must be a RabbitMQ (amqp://user:password@host:5672/vhost) or "
            "Redis (redis://host:6379/1) URL"
        )
    return url


def tasks_settings(env: Mapping[str, str]) -> dict:
    """The TASKS setting for the chosen backend; refuses a Celery set-up that cannot work."""
    name = backend_name(env)
    if name == "database":
        return {"default": {"BACKEND": BACKENDS["database"]}}
    if find_spec("celery") is None or find_spec("django_tasks_celery") is None:
        raise ImproperlyConfigured(
            "KOPILKA_TASKS_BACKEND=celery needs Celery: pip install 'kopilka[celery]'"
        )
    if not broker_url(env):
        raise ImproperlyConfigured(
            "KOPILKA_TASKS_BACKEND=celery needs KOPILKA_BROKER_URL, e.g. "
            "amqp://guest:guest@127.0.0.1:5672// or redis://127.0.0.1:6379/1"
        )
    return {"default": {"BACKEND": BACKENDS["celery"], "OPTIONS": {"CELERY_APP": CELERY_APP}}}


def uses_celery(tasks: Mapping) -> bool:
    """Whether a TASKS setting sends the default backend's tasks to Celery."""
    return tasks["default"]["BACKEND"] == BACKENDS["celery"]
