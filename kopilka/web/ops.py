"""Seeing Kopilka run: the request metrics and log line, and /metrics (docs/operations.md).

- `RequestMetricsMiddleware`, first in MIDDLEWARE, times every request and counts it by URL
  pattern name (`cashier:sell`, `api-1.0.0:commit`; never the path, which holds receipt ids)
  and status, then writes the request's log line: merchant, principal, route, status,
  duration — who acted is what `access.enter` saw during the request.
- `metrics` serves the counters of every process of this installation (kopilka/core/metrics.py)
  and the figures read from the database at scrape time: the outboxes' depth and age, the task
  queue, the database's connections. Only for the token or the allowed addresses: anyone else
  gets 404, as if there were nothing here.
- The sale and refund counters hear the domain events after the commit.

prometheus-client, not django-prometheus: the counters that matter here are Kopilka's own
(docs/architecture.md, "Metrics"), and one small middleware with route names is all the HTTP
side needs.
"""

import hmac
import logging
import time
from ipaddress import ip_address

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import Count, Min
from django.http import Http404, HttpResponse
from django_scopes import scopes_disabled
from django_tasks_db.models import DBTaskResult
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import CollectorRegistry

from kopilka.core import clock, events, metrics
from kopilka.messaging.models import Message
from kopilka.tenancy import access
from kopilka.tenancy.logins import client_ip
from kopilka.webhooks.models import Delivery

logger = logging.getLogger("kopilka.request")

METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


def route_of(request) -> str:
    """The URL pattern's name with its namespaces, else the pattern itself; `unmatched` for a
    path no pattern matched (a 404 from the resolver)."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unmatched"
    return match.view_name if match.url_name else (match.route or "unnamed")


def principal_fields(request, seen: list[access.Principal]) -> dict:
    """The merchant and who acted, by kind and id (ids only: no email, phone or key)."""
    principal = seen[-1] if seen else getattr(request, "auth", None)
    if isinstance(principal, access.Principal):
        fields = {"principal": str(principal.kind), "principal_id": _principal_id(principal)}
        if principal.kind == access.Kind.COUNTER:
            fields["terminal_id"] = principal.terminal.pk
        if principal.merchant is not None:
            fields["merchant"] = principal.merchant.slug
        return fields
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return {"principal": "user", "principal_id": user.pk}
    return {"principal": None}


def _principal_id(principal: access.Principal) -> int | None:
    if principal.kind == access.Kind.TERMINAL:
        return principal.terminal.pk
    if principal.kind == access.Kind.MEMBER:
        return principal.member.pk
    return principal.staff.pk if principal.staff is not None else None


class RequestMetricsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        with access.witnessed() as seen:
            response = self.get_response(request)
        took = time.perf_counter() - started
        route = route_of(request)
        method = request.method if request.method in METHODS else "other"
        metrics.HTTP_REQUESTS.labels(route, method, str(response.status_code)).inc()
        metrics.HTTP_DURATION.labels(route, method).observe(took)
        fields = {"method": method, "route": route, "status": response.status_code,
                  "duration_ms": round(took * 1000, 1), **principal_fields(request, seen)}
        who = "".join(
            [f" merchant={fields['merchant']}" if "merchant" in fields else "",
             f" principal={fields['principal']}:{fields['principal_id']}"
             if fields["principal"] else ""])
        logger.info("%s %s %s %.1fms%s", method, route, response.status_code,
                    fields["duration_ms"], who, extra={"fields": fields})
        return response


# --- /metrics ---------------------------------------------------------------------------------


def allowed(request) -> bool:
    token = settings.METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "")
        if hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return True
    if settings.METRICS_ALLOW:
        try:
            address = ip_address(client_ip(request) or "")
        except ValueError:
            return False
        return any(address in network for network in settings.METRICS_ALLOW)
    return False


def metrics_view(request):
    if not allowed(request):
        raise Http404
    shared = metrics.multiprocess_dir()
    if shared is None:
        sources = [metrics.REGISTRY]
    else:
        sources = [CollectorRegistry()]
        MultiProcessCollector(sources[0], path=str(shared))
    return HttpResponse(generate_latest(_Scrape(sources)), content_type=CONTENT_TYPE_LATEST)


class _Scrape:
    """The processes' counters and the database's figures, as one registry to generate_latest."""

    def __init__(self, sources):
        self.sources = sources

    def collect(self):
        for source in self.sources:
            yield from source.collect()
        yield from database_figures()


def database_figures():
    """Read at scrape time, a handful of cheap queries (each on a partial index or a catalogue
    view). The database down is itself a figure: kopilka_database_up 0."""
    up = GaugeMetricFamily("kopilka_database_up",
                           "1 when the scrape could read the database's figures, else 0.")
    try:
        with scopes_disabled():
            families = [*_outboxes(), *_task_queue(), *_connections()]
    except DatabaseError:
        up.add_metric([], 0)
        yield up
        return
    up.add_metric([], 1)
    yield up
    yield from families


def _outboxes():
    now = clock.now()
    depth = GaugeMetricFamily("kopilka_outbox_depth", "Rows waiting in an outbox, by status.",
                              labels=["outbox", "status"])
    age = GaugeMetricFamily(
        "kopilka_outbox_oldest_age_seconds",
        "Age of the oldest row still waiting (queued messages, pending webhook deliveries).",
        labels=["outbox"])
    overdue = GaugeMetricFamily(
        "kopilka_outbox_overdue_seconds",
        "How long the most overdue waiting row has been due without being sent (0: none).",
        labels=["outbox"])
    waiting = {"messages": (Message, Message.Status.QUEUED),
               "webhooks": (Delivery, Delivery.Status.PENDING)}
    for outbox, (model, status) in waiting.items():
        rows = model.objects.filter(status=status)
        figures = rows.aggregate(count=Count("pk"), oldest=Min("created_at"),
                                 due=Min("next_attempt_at"))
        depth.add_metric([outbox, status], figures["count"])
        age.add_metric([outbox], _seconds_since(figures["oldest"], now))
        overdue.add_metric([outbox], _seconds_since(figures["due"], now))
    held = Message.objects.filter(status=Message.Status.HELD).count()
    depth.add_metric(["messages", Message.Status.HELD], held)
    return depth, age, overdue


def _task_queue():
    """django-tasks-db's table (the default tasks backend); with Celery the broker has the
    queue and its own exporter tells its depth."""
    if "django_tasks_db" not in settings.TASKS["default"]["BACKEND"]:
        return ()
    depth = GaugeMetricFamily("kopilka_task_queue_depth",
                              "Tasks waiting for a worker (deferred ones included).")
    depth.add_metric([], DBTaskResult.objects.filter(status="READY").count())
    # Runnable now (django-tasks-db's `ready()`), since when it was queued.
    oldest = DBTaskResult.objects.ready().aggregate(oldest=Min("enqueued_at"))["oldest"]
    age = GaugeMetricFamily("kopilka_task_queue_oldest_age_seconds",
                            "How long the runnable task that has waited longest has waited.")
    age.add_metric([], _seconds_since(oldest, clock.now()))
    return depth, age


def _connections():
    """PostgreSQL's connections to this database by state, and its limit; SQLite has none."""
    if connection.vendor != "postgresql":
        return ()
    used = GaugeMetricFamily("kopilka_db_connections",
                             "Connections to Kopilka's database, by state (pg_stat_activity).",
                             labels=["state"])
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(state, 'unknown'), count(*) FROM pg_stat_activity "
                       "WHERE datname = current_database() GROUP BY 1")
        for state, count in cursor.fetchall():
            used.add_metric([state], count)
        cursor.execute("SELECT setting::int FROM pg_settings WHERE name = 'max_connections'")
        limit = GaugeMetricFamily("kopilka_db_connections_max",
                                  "The server's max_connections.")
        limit.add_metric([], cursor.fetchone()[0])
    return used, limit


def _seconds_since(moment, now) -> float:
    return max(0.0, (now - moment).total_seconds()) if moment is not None else 0.0


# --- the sale counters ------------------------------------------------------------------------


def count_purchase(_event: events.PurchaseCommitted) -> None:
    metrics.PURCHASES.inc()


def count_refund(_event: events.PurchaseRefunded) -> None:
    metrics.REFUNDS.inc()


def subscribe() -> None:
    """Called from WebConfig.ready(): counted after the commit, so a rolled-back sale is not."""
    events.subscribe(events.PurchaseCommitted, on_commit=True)(count_purchase)
    events.subscribe(events.PurchaseRefunded, on_commit=True)(count_refund)
