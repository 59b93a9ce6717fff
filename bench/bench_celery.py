"""Benchmark: one message from commit to sent, through each tasks backend.

Not a test. Run:
    .venv/bin/python bench/bench_celery.py [--messages 50]

For each backend — django-tasks-db's worker (the embedded default, the reference: it polls
the database every second), then Celery on RabbitMQ and Celery on Redis (the local brokers) —
it starts `kopilka worker --no-tick` on the bench database (BENCH_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/kopilka_bench_celery; a sqlite:/// URL works too), sends
three messages untimed to warm it up, then `--messages` messages one at a time: each is
written by `messaging.services.queue` in a transaction, its task enqueued on commit, and
timed until the worker has marked it sent (polled every millisecond). The worker sends SMS to
the file backend; SMS are free (KOPILKA_SMS_PRICE=0) so none is held for want of balance.
A second reference is the task's own cost: the same message sent by calling the task's
function in this process right after the commit, no queue and no worker. Prints one JSON
line, appends it to bench/results/celery.jsonl and tables the runs in bench/results/celery.md.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# A sibling script (its folder is on the path when run as a script), not a package.
from bench_commit import create_database, setup_django  # noqa: E402

RESULTS = ROOT / "bench" / "results"
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/kopilka_bench_celery"
BACKENDS = {
    "database": {"KOPILKA_TASKS_BACKEND": "database"},
    "rabbitmq": {"KOPILKA_TASKS_BACKEND": "celery",
                 "KOPILKA_BROKER_URL": "amqp://guest:guest@127.0.0.1:5672//"},
    "redis": {"KOPILKA_TASKS_BACKEND": "celery", "KOPILKA_BROKER_URL": "redis://127.0.0.1:6379/1"},
}


def stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def prepare():
    """A merchant that sends every message at once to a member who agreed to them."""
    from datetime import time as clock_time

    from django.core.management import call_command
    from django_scopes import scope

    from kopilka.core.actor import Actor
    from kopilka.members import services as members
    from kopilka.members.models import Member
    from kopilka.messaging import services as messaging
    from kopilka.processing import services as processing
    from kopilka.programs import services as programs
    from kopilka.tenancy import services as tenancy
    from kopilka.tenancy.models import Merchant

    call_command("migrate", verbosity=0)
    actor = Actor.cli()
    merchant = Merchant.objects.filter(slug="bench-celery").first()
    if merchant is None:
        merchant = tenancy.create_merchant("Bench Celery", owner_email="celery@example.com",
                                           slug="bench-celery", actor=actor).merchant
    with scope(merchant=merchant):
        programs.save_program(merchant, programs.DEFAULT_PROGRAM, actor=actor)
        messaging.save_settings(merchant, transactional="all", quiet_from=clock_time(0),
                                quiet_to=clock_time(0), actor=actor)
        member = Member.objects.filter(merchant=merchant).first() or processing.enrol(
            merchant, phone="+79169990001", channel="import", actor=actor)
        members.grant_consent(member, members.ConsentGiven(kind="messages", text_version="v1"),
                              channel="cashier", actor=actor)
    return merchant, member


def one_message(merchant, member) -> float:
    """Seconds from the commit that queues a message to its status `sent`."""
    from django.db import transaction
    from django_scopes import scope, scopes_disabled

    from kopilka.messaging import services as messaging
    from kopilka.messaging.models import Message

    with scope(merchant=merchant), transaction.atomic():
        message = messaging.queue(merchant, event="accrual", member=member,
                                  context={"points": 2_100, "amount": 150_000, "balance": 10_500})
        started = time.perf_counter()  # the commit and the on_commit enqueue are timed
    deadline = started + 60
    with scopes_disabled():
        rows = Message.objects.filter(pk=message.pk, status=Message.Status.SENT)
        while not rows.exists():
            if time.perf_counter() > deadline:
                raise SystemExit(f"message {message.pk} was not sent within 60 s")
            time.sleep(0.001)
    return time.perf_counter() - started


def run_direct(messages: int, merchant, member, folder: Path) -> dict:
    """The task's own cost: commit, then `messaging.tasks.attempt` called here at once."""
    from django.db import transaction
    from django.test import override_settings
    from django_scopes import scope

    from kopilka.messaging import services as messaging
    from kopilka.messaging import tasks

    file_backend = {"BACKEND": "kopilka.messaging.backends.file.FileBackend",
                    "OPTIONS": {"path": str(folder / "sms.jsonl")}}
    no_worker = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    seconds = []
    with override_settings(TASKS=no_worker, MESSAGING={"sms": file_backend,
                                                       "email": file_backend}):
        for n in range(3 + messages):
            with scope(merchant=merchant), transaction.atomic():
                message = messaging.queue(merchant, event="accrual", member=member,
                                          context={"points": 2_100, "amount": 150_000,
                                                   "balance": 10_500})
                started = time.perf_counter()
            if tasks.attempt(message.pk) != "sent":
                raise SystemExit(f"message {message.pk} was not sent")
            if n >= 3:
                seconds.append(time.perf_counter() - started)
    return summary("direct", sorted(seconds))


def summary(name: str, seconds: list[float]) -> dict:
    ms = [s * 1000 for s in seconds]
    figures = {"p50_ms": round(statistics.median(ms), 1),
               "p95_ms": round(ms[int(0.95 * (len(ms) - 1))], 1),
               "max_ms": round(ms[-1], 1)}
    stderr(f"{name}: p50 {figures['p50_ms']} ms, p95 {figures['p95_ms']} ms, "
           f"max {figures['max_ms']} ms over {len(ms)} messages")
    return figures


def run_backend(name: str, env: dict, url: str, messages: int, merchant, member) -> dict:
    from django.test import override_settings

    import kopilka.celery
    from kopilka.core.taskqueue import tasks_settings

    env = {**env, "KOPILKA_CELERY_QUEUE": f"kopilka-bench-{uuid.uuid4().hex[:12]}"}
    folder = Path(tempfile.mkdtemp(prefix=f"bench-celery-{name}-"))
    log = (folder / "worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "kopilka.cli", "worker", "--no-tick"],
        env={**os.environ, **env, "DATABASE_URL": url, "KOPILKA_LOG_LEVEL": "WARNING",
             "KOPILKA_SMS_BACKEND": "file",
             "KOPILKA_SMS_OPTIONS": json.dumps({"path": str(folder / "sms.jsonl")})},
        stdout=log, stderr=subprocess.STDOUT,
    )
    celery = env["KOPILKA_TASKS_BACKEND"] == "celery"
    overrides = {"TASKS": tasks_settings(env)}
    if celery:
        overrides |= {"CELERY_BROKER_URL": env["KOPILKA_BROKER_URL"],
                      "CELERY_TASK_DEFAULT_QUEUE": env["KOPILKA_CELERY_QUEUE"]}
    with override_settings(**overrides):
        app = kopilka.celery.create_app()
        kopilka.celery.app = app  # the backend's CELERY_APP, on this broker
        try:
            for _ in range(3):
                one_message(merchant, member)
            seconds = sorted(one_message(merchant, member) for _ in range(messages))
        finally:
            worker.terminate()  # before the queue goes: a live consumer would declare it again
            worker.wait(timeout=30)
            log.close()
            if celery:  # the queue and its exchange, declared again so Redis knows the bindings
                with app.connection_for_write() as broker:
                    queue = app.amqp.queues[env["KOPILKA_CELERY_QUEUE"]](broker.default_channel)
                    queue.declare()
                    queue.delete()
                    queue.exchange.delete()
            app.close()
    return summary(name, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=50)
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    os.environ["KOPILKA_SMS_PRICE"] = "0"  # free SMS are never held for want of balance
    if url.startswith("postgres"):
        create_database(url)
    setup_django(url)
    from django.db import connection

    merchant, member = prepare()
    figures = {"date": date.today().isoformat(), "db": connection.vendor,
               "load_average": round(os.getloadavg()[0], 1),
               "messages": args.messages}
    figures["direct"] = run_direct(args.messages, merchant, member,
                                   Path(tempfile.mkdtemp(prefix="bench-celery-direct-")))
    for name, env in BACKENDS.items():
        figures[name] = run_backend(name, env, url, args.messages, merchant, member)
    print(json.dumps(figures), flush=True)
    RESULTS.mkdir(exist_ok=True)
    with (RESULTS / "celery.jsonl").open("a") as log:
        log.write(json.dumps(figures) + "\n")
    write_table()


def write_table() -> None:
    runs = [json.loads(line) for line in (RESULTS / "celery.jsonl").read_text().splitlines()
            if line.strip()]
    rows = [
        f"| {r['date']} | {r['db']} | {r['load_average']} | {r['messages']} | "
        + " | ".join(f"{r[b]['p50_ms']} / {r[b]['p95_ms']} / {r[b]['max_ms']}"
                     for b in ("direct", *BACKENDS))
        + " |"
        for r in runs
    ]
    (RESULTS / "celery.md").write_text("\n".join([
        "# One message from commit to sent, by tasks backend",
        "",
        "`bench/bench_celery.py`: a message queued in a transaction, its task enqueued on "
        "commit, timed until `kopilka worker --no-tick` has sent it (file backend); one at a "
        "time after three untimed. django-tasks-db's worker polls the database every second "
        "(the reference): it has just polled when the next message comes, so each waits about "
        "a whole interval. Celery's workers are pushed the task by the broker. The machine's "
        "1-minute load average at the start is recorded (2 cores, shared). \"The task alone\" "
        "is the same commit with the task's function called at once in the same process: "
        "what the send itself costs, without a queue.",
        "",
        "| date | db | load average | messages | the task alone p50 / p95 / max ms "
        "| django-tasks-db p50 / p95 / max ms "
        "| Celery + RabbitMQ p50 / p95 / max ms | Celery + Redis p50 / p95 / max ms |",
        "|---|---|---:|---:|---|---|---|---|",
        *rows,
        "",
    ]))


if __name__ == "__main__":
    main()
