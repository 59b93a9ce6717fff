"""The Celery app, for KOPILKA_TASKS_BACKEND=celery (docs/operations.md, "Background work").

    celery -A kopilka worker     the worker (`kopilka worker` runs it, with the tick beside it)
    celery -A kopilka beat       optional: sends the `kopilka.tick` task every minute, instead
                                 of `kopilka worker`'s ticker or cron running `kopilka tick`

Configured from Django's settings (CELERY_* in kopilka/settings.py, from KOPILKA_BROKER_URL
and KOPILKA_CELERY_QUEUE). The tasks themselves are the apps' django.tasks functions: importing
the apps' `tasks` modules registers them with this app (django-tasks-celery), which the worker
does at start-up through `autodiscover_tasks()`.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kopilka.settings")

TICK = "kopilka.tick"
TICK_EVERY = 60.0  # seconds, as `kopilka worker`'s ticker; a missed minute only delays work


def create_app() -> Celery:
    """A Celery app configured from the current Django settings (tests build one per broker)."""
    app = Celery("kopilka")
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.autodiscover_tasks()
    app.conf.beat_schedule = {
        # expires: a tick that waited in the queue past the next one is worthless.
        TICK: {"task": TICK, "schedule": TICK_EVERY, "options": {"expires": TICK_EVERY}},
    }
    app.task(name=TICK, ignore_result=True)(tick)
    return app


def tick() -> dict[str, int]:
    """`kopilka tick` as a Celery task, for celery beat: one idempotent pass over due work."""
    from kopilka.automation import tick as periodic

    return periodic.run()


app = create_app()
