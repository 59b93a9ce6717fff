"""The process's own Prometheus metrics: what happened here, counted where it happens.

Defined once, in core, so that any floor can count what it does (messaging counts the messages
it sends, automation times the tick's jobs); the web app serves them at /metrics with the
figures read at scrape time from the database (kopilka/web/ops.py). docs/operations.md lists
every metric with its labels and meaning.

Several processes serve one installation (gunicorn's workers, the tasks worker, the ticker):
`kopilka up` gives them one directory in PROMETHEUS_MULTIPROC_DIR, emptied at start, where
prometheus-client keeps each process's values; a scrape of any worker adds them all up. The
variable must be set before prometheus-client is first imported, so it is the environment's
(set by `kopilka up` for its children), never a Django setting.

Labels are bounded sets only: URL pattern names, not paths; job and backend names; never a
merchant, member or receipt.
"""

import os
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# A `_created` timestamp beside every counter doubles the series for nothing Prometheus needs
# (and the multiprocess mode has none: one process's would be meaningless).
disable_created_metrics()

# Without a shared directory the metrics live in this registry (one process: runserver, tests).
# A registry of our own, not prometheus-client's global one: nothing else registers into it.
REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter(
    "kopilka_http_requests", "HTTP requests answered, by URL pattern name, method and status.",
    ["route", "method", "status"], registry=REGISTRY,
)
HTTP_DURATION = Histogram(
    "kopilka_http_request_duration_seconds",
    "Time from the request reaching Django to its answer, by URL pattern name and method.",
    ["route", "method"], registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
PURCHASES = Counter(
    "kopilka_purchases_committed", "Purchases committed (replays not counted).", [],
    registry=REGISTRY,
)
REFUNDS = Counter(
    "kopilka_refunds", "Refunds committed (replays not counted).", [], registry=REGISTRY,
)
MESSAGES_SENT = Counter(
    "kopilka_messages_sent", "Messages the backend accepted, by channel (sms, email) and backend.",
    ["channel", "backend"], registry=REGISTRY,
)
MESSAGES_FAILED = Counter(
    "kopilka_messages_failed",
    "Failed sending attempts by channel, backend and outcome: retry (tried again later), "
    "failed (out of retries), refused (the provider said no for good).",
    ["channel", "backend", "outcome"], registry=REGISTRY,
)
TICK_JOB_DURATION = Histogram(
    "kopilka_tick_job_duration_seconds", "Time one tick spent on a job, by job name.",
    ["job"], registry=REGISTRY,
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 120, 300),
)
TICK_JOB_ITEMS = Counter(
    "kopilka_tick_job_items", "Things the tick's jobs did (deliveries, merchant jobs), by job.",
    ["job"], registry=REGISTRY,
)


def multiprocess_dir() -> Path | None:
    value = os.environ.get(MULTIPROC_ENV, "").strip()
    return Path(value) if value else None


def prepare_multiprocess_dir(path: Path) -> None:
    """Empty the shared directory before the processes start: values left by an earlier run
    would be added to this run's (prometheus-client's multiprocess rule). Only its value files
    go: the directory may be one the operator chose."""
    path.mkdir(parents=True, exist_ok=True)
    for values in path.glob("*.db"):
        values.unlink()
