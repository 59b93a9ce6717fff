"""The database is down: **503** `/problems/database-unavailable` with `Retry-After`, not a 500.

When PostgreSQL restarts, fails over or refuses connections (or the SQLite file cannot be
opened or stays locked past the busy timeout), a request fails with `OperationalError` or
`InterfaceError` from `django.db`: while connecting, or mid-request when its connection is cut.
The honest answer is "try again shortly": with an `Idempotency-Key` the request's effect and
its stored answer commit together or not at all, so a retry with the same key either runs
again (the usual case: the transaction never committed) or, when the link broke during the
COMMIT itself and it did commit, gets the stored answer. Either way it takes effect once.

Such an error may be raised in a view (django-ninja turns it into a 500 problem) or in a
middleware (`IdempotencyMiddleware` claims its record before the view; Django turns that into
its 500 page). Either way Django sends `got_request_exception` while the error is being
handled: the receiver below marks the request when the error is a lost or refused database,
and `DatabaseUnavailableMiddleware` replaces the 500 with the 503. Django still logs the
error with its traceback first ("Internal Server Error"), so the cause is in the log.

The middleware also drops a connection the error left broken (`close_old_connections`), as
Django does when a request finishes, so that the next request opens a new one; with
`CONN_HEALTH_CHECKS` a persistent connection that died between requests is replaced before
its first query anyway. Once the database is back, the next request just works.

Errors that are not about reaching the database (a deadlock, a statement timeout, a missing
table) stay 500s.
"""

import logging
import sys

from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError, close_old_connections
from django.dispatch import receiver
from django.http import JsonResponse
from django.utils.translation import gettext as _

from kopilka.core.problem import CONTENT_TYPE, problem

RETRY_AFTER = 1  # seconds: a restart takes a few; clients retry with the same key
# PostgreSQL's SQLSTATEs for a server that is going away or not ready yet, besides class 08
# (connection exception): admin_shutdown (pg_ctl stop/restart, pg_terminate_backend),
# crash_shutdown, cannot_connect_now ("the database system is starting up").
SERVER_GOING = frozenset({"57P01", "57P02", "57P03"})
# SQLite: the file cannot be opened, or another writer held it past the busy timeout.
SQLITE_UNAVAILABLE = frozenset({"SQLITE_CANTOPEN", "SQLITE_BUSY"})
MARK = "_kopilka_database_unavailable"
logger = logging.getLogger(__name__)


def is_unavailable(error: BaseException | None) -> bool:
    """Whether `error` means the database could not be reached, not a fault of the request."""
    if isinstance(error, InterfaceError):  # a connection already closed
        return True
    if not isinstance(error, OperationalError):
        return False
    cause = error.__cause__  # the driver's own error, which Django wraps
    if hasattr(cause, "sqlstate"):  # psycopg
        # No SQLSTATE: the client's own failure, i.e. connecting failed or the link broke.
        return cause.sqlstate is None or cause.sqlstate.startswith("08") or \
            cause.sqlstate in SERVER_GOING
    return getattr(cause, "sqlite_errorname", None) in SQLITE_UNAVAILABLE


@receiver(got_request_exception, dispatch_uid="kopilka.core.dbdown")
def _mark(sender, request=None, **kwargs):
    # Sent while the exception is being handled, so it is the current one.
    if request is not None and is_unavailable(sys.exc_info()[1]):
        setattr(request, MARK, True)


def unavailable() -> JsonResponse:
    response = problem(
        503, "database-unavailable", _("The service is briefly unavailable."),
        _("The database cannot be reached. Retry the same request, with the same "
          "Idempotency-Key, in a moment: it takes effect once."),
    )
    response["Retry-After"] = str(RETRY_AFTER)
    return response


class DatabaseUnavailableMiddleware:
    """Turns the 500 of a request that lost its database into a 503 problem."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code != 500 or not getattr(request, MARK, False):
            return response
        # Outside every transaction here: drop what the error broke before the next request.
        close_old_connections()
        logger.warning("Answered 503: the database is unavailable (%s %s).", request.method,
                       request.path)
        return unavailable()


def document(schema: dict) -> dict:
    """OpenAPI: every operation may answer 503 with `Retry-After` while the database is
    unreachable."""
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            if isinstance(operation, dict) and "responses" in operation:
                operation["responses"].setdefault(503, {
                    "description": "Service Unavailable: the database cannot be reached; "
                                   "retry the same request (same Idempotency-Key)",
                    "headers": {"Retry-After": {"description": "Seconds to wait",
                                                "schema": {"type": "integer"}}},
                    "content": {CONTENT_TYPE: {
                        "schema": {"$ref": "#/components/schemas/Problem"}}},
                })
    return schema
