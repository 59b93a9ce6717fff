"""Reads of analytics and exports on a read replica, when one is configured.

With `KOPILKA_REPLICA_URL` set (a PostgreSQL streaming replica of `DATABASE_URL`), settings
add the database alias `replica`; without it everything stays on `default` and nothing here
does anything. Only reads that can be a few seconds stale go there:

- inside `replica_reads()` — the analytics and export code paths wrap their reads in it;
- during a GET request to a route named in `REPLICA_ROUTES` (the analytics figures, the
  exports), set by `ReplicaReadsMiddleware`.

Writes always go to `default`, and so does every read inside a transaction on `default` (a
replica cannot see what the transaction has not committed yet), so an operation that reads
then writes stays consistent. Migrations run on `default` only; the replica gets them through
replication. See docs/operations.md, "Read replica".
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.db import connections
from django.urls import Resolver404, resolve

REPLICA = "replica"
# Route names (the URL patterns' `name`) whose GET requests read on the replica: substrings,
# so `analytics`, `analytics-figures`, `cabinet-analytics` and `sales-export` all match.
REPLICA_ROUTES = ("analytics", "export")

_reading = ContextVar("kopilka_replica_reads", default=False)


def configured() -> bool:
    return REPLICA in settings.DATABASES


@contextmanager
def replica_reads() -> Iterator[None]:
    """Reads inside the block go to the replica (when one is configured and no transaction on
    `default` is open)."""
    token = _reading.set(True)
    try:
        yield
    finally:
        _reading.reset(token)


class ReplicaRouter:
    def db_for_read(self, model, **hints):
        if not (_reading.get() and configured()):
            return None
        if connections["default"].in_atomic_block:
            return None  # read your own writes
        return REPLICA

    def db_for_write(self, model, **hints):
        return None  # default

    def allow_relation(self, obj1, obj2, **hints):
        return True  # the same data on both

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db != REPLICA


def is_replica_route(*names: str | None) -> bool:
    """Is this route (its name, or its pattern) one of the analytics or export routes?"""
    return any(part in name for name in names if name for part in REPLICA_ROUTES)


class ReplicaReadsMiddleware:
    """GET requests to analytics and export routes read on the replica."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if configured() and request.method in ("GET", "HEAD"):
            try:
                match = resolve(request.path_info)
            except Resolver404:
                match = None
            if match is not None and is_replica_route(match.url_name, match.route):
                with replica_reads():
                    return self.get_response(request)
        return self.get_response(request)
