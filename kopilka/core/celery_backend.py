"""The django.tasks backend that sends Kopilka's tasks to Celery (KOPILKA_TASKS_BACKEND=celery).

django-tasks-celery does the work: `enqueue()` publishes the task through the Celery app
(kopilka/celery.py) to the broker, and the worker runs the task function by its dotted path,
registered as a Celery task when the worker imports the apps' `tasks` modules. Two choices
differ from the library's defaults:

- **No deferred tasks.** A retry due in 30 minutes or a message waiting out the quiet hours
  would be a Celery ETA task, which the worker holds unacknowledged until it is due. RabbitMQ
  closes a consumer's channel when a delivery stays unacknowledged past its `consumer_timeout`
  (30 minutes by default), killing the worker; Redis hands the same task to another worker
  when its visibility timeout (1 hour) runs out. So the backend says it cannot defer, and the
  task code leaves every later attempt to `kopilka tick`, which sends what is due every minute
  (`deliver_due`): a retry goes out within a minute of its time and no broker holds it.
- **No result backend.** The outcome of every task is in the outbox rows it works on (status,
  attempts, error), so Celery stores no results and the library's warnings about a missing
  result backend are dropped.
"""

from django_tasks_celery import CeleryBackend as LibraryBackend

# The library's checks that only matter for reading task results (get_result), which
# Kopilka never does.
RESULT_WARNINGS = {"django_tasks_celery.W001", "django_tasks_celery.W002"}


class CeleryBackend(LibraryBackend):
    supports_defer = False

    def check(self, **kwargs):
        return [message for message in super().check(**kwargs)
                if message.id not in RESULT_WARNINGS]
