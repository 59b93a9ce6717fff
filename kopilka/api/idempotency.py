"""`Idempotency-Key` on every API write: a retry gets the first answer, never a second effect.

A client may send `Idempotency-Key: <1-255 printable ASCII characters>` with any POST, PUT,
PATCH or DELETE under /api/v1/. `IdempotencyMiddleware` then keeps the answer and gives it back
to a retry, byte for byte, with `Idempotent-Replayed: true`.

- **Scope.** A key belongs to the credential that sent it: the SHA-256 of the `Authorization`
  header and, for a logged-in staff member, the user id and `X-Kopilka-Merchant`. Two clients
  never share keys, and a stored answer is given back only to the credential that caused it
  (it may hold a secret: the answer to `POST /manage/terminals` carries the new terminal's
  key, kept — as Stripe does — so that a client who lost the first answer still gets it;
  records are purged after 24 hours, `purge()`).
- **Fingerprint.** The SHA-256 of the method, path, query string and body bytes. The same key
  with another fingerprint is **422** `/problems/idempotency-key-reused`, whatever state the
  first request is in.
- **Flow.** (1) The record is inserted `in_progress` by one autocommitted statement
  (`ON CONFLICT DO NOTHING`); if it exists, it is read instead (done: replay). (2) In
  transaction B the record row is locked (`SELECT ... FOR UPDATE NOWAIT` on PostgreSQL; on
  SQLite B is an IMMEDIATE transaction, so writers queue on the database lock and a duplicate
  waits, then finds the answer). A lock that cannot be had means the first request is still
  running: **409** `/problems/idempotency-key-in-use` with `Retry-After: 1`. Otherwise the
  view runs inside B and its answer is saved in B, so the effect and the stored answer commit
  together; a crash rolls both back and leaves the record `in_progress` and unlocked, and the
  next retry runs the request again. The services' own `transaction.atomic()` blocks become
  savepoints of B, and their `transaction.on_commit` callbacks run when B commits.
- **What is kept.** An answer the handler itself gave, success or refusal (a 409
  insufficient-points replays as the same 409, a schema error as the same 422). Not kept, the
  record deleted and every write of the attempt rolled back, so that a retry runs again:
  answers given before the caller was authenticated (401, a session write without its CSRF
  token), 429 and 5xx.

**The POS's lean path** (`PosIdempotencyMiddleware`, in the short chain of `api/lean.py`) keeps
these semantics with one transaction instead of two and no savepoint of its own: it begins
the transaction, takes a transaction-scoped advisory lock on the (scope, key) pair
(`pg_try_advisory_xact_lock`, not waiting) and reads the record; runs the view in that same
transaction; and writes the record, done, with the answer just before COMMIT. A lock held by
another transaction means the first request is still running: **409** as above. A record
found done is replayed, one with another fingerprint is 422. Nothing is written before the
answer, so an answer not kept simply rolls back with the operation; a crash leaves no record.
On SQLite the transaction is IMMEDIATE: a duplicate waits for the first and finds its answer.
If the stored answer's INSERT meets a record made meanwhile (an attempt without the lock), or
the operation's pipelined writes meet a duplicate receipt at COMMIT, everything rolls back and
the request runs again, once, in a new transaction: it then finds what the other one did.
`POST /pos/purchases` on PostgreSQL runs in psycopg's pipeline mode (processing/fastsale.py):
the claim's two statements are sent first and answered with the key's look-up; the view's
writes, the stored answer and the COMMIT go in one round trip at the end. The claim is then
checked after the view: a duplicate in flight still gets its 409 (after the first's account
lock is released, which the view waited for), a done record its replay, and the view's own
writes are rolled back unsent.

Purchases keep their own idempotency per terminal and receipt id underneath; adjustments and
transfers their `key` in the body.
"""

import copy
import hashlib
import re
from datetime import datetime, timedelta

from django.core.exceptions import SuspiciousOperation
from django.db import IntegrityError, OperationalError, connections, router, transaction
from django.http import HttpResponse
from django.http.request import RawPostDataException
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from kopilka.api.models import IdempotencyRecord
from kopilka.api.problems import CONTENT_TYPE, problem
from kopilka.core import clock
from kopilka.core.prepared import PreparedQuery
from kopilka.ledger.bulk import write_fields, write_rows
from kopilka.ledger.pipeline import Pipeline
from kopilka.processing import fastsale

HEADER = "Idempotency-Key"
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
API_PREFIX = "/api/v1/"
# Printable ASCII, no space at either end (HTTP strips it there, so it could not round-trip).
KEY = re.compile(r"[!-~](?:[ -~]{0,253}[!-~])?")
KEY_PATTERN = "^[!-~]([ -~]{0,253}[!-~])?$"
RETENTION = timedelta(hours=24)
# Answers not kept (see the module docstring); 401 needs no entry: it never authenticates.
NOT_KEPT = frozenset({429})
# A record can vanish between reading it and locking it (its attempt was not kept): start over.
ATTEMPTS = 3
# The lean path's writes sent in psycopg's pipeline mode (processing/fastsale.py): the claim
# travels with the key's look-up, the stored answer with the sale's writes and the COMMIT.
PIPELINED = frozenset({"/api/v1/pos/purchases"})

KEY_INVALID = gettext_lazy("Must be 1 to 255 printable ASCII characters, not starting or "
                           "ending with a space.")


class _NotKept(Exception):
    """Leaves the savepoint around the view (rolling it back) carrying the answer to send."""

    def __init__(self, response):
        super().__init__()
        self.response = response


def scope_of(request) -> str | None:
    """The credential the request authenticates with, hashed; None without any (the answer is
    a 401, nothing to keep)."""
    authorization = request.headers.get("Authorization", "")
    user = getattr(request, "user", None)
    user_id = user.pk if user is not None and user.is_authenticated else None
    if not authorization and user_id is None:
        return None
    merchant = request.headers.get("X-Kopilka-Merchant", "") if user_id is not None else ""
    material = "\n".join([authorization, str(user_id or ""), merchant])
    return hashlib.sha256(material.encode("utf-8", "surrogateescape")).hexdigest()


def fingerprint_of(request) -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode() + b"\n")
    digest.update(request.get_full_path().encode("utf-8", "surrogateescape") + b"\n")
    digest.update(request.body)
    return digest.hexdigest()


def _replay(record: IdempotencyRecord) -> HttpResponse:
    response = HttpResponse(bytes(record.body), status=record.status)
    if record.content_type:
        response["Content-Type"] = record.content_type
    else:  # e.g. a 204: no body, no type (not Django's text/html default)
        del response["Content-Type"]
    if record.language:
        response["Content-Language"] = record.language  # the language the body is in
    response["Idempotent-Replayed"] = "true"
    return response


def _reused() -> HttpResponse:
    title = _("This Idempotency-Key was used for another request.")
    detail = _("This Idempotency-Key was sent before with another method, path or body.")
    return problem(422, "idempotency-key-reused", title, detail,
                   [{"field": HEADER, "message": detail}])


def _in_use() -> HttpResponse:
    response = problem(
        409, "idempotency-key-in-use",
        _("A request with this Idempotency-Key is still being processed."),
        _("Retry in a moment to get its answer."),
    )
    response["Retry-After"] = "1"
    return response


def _invalid_key() -> HttpResponse:
    return problem(422, "validation", _("The request is not valid."), "",
                   [{"field": HEADER, "message": str(KEY_INVALID)}])


def _kept(request, response) -> bool:
    # `request.auth` is set by django-ninja once a credential was accepted: answers given
    # before that (401, a missing CSRF token) say nothing about the request itself.
    return (
        getattr(request, "auth", None) is not None
        and response.status_code < 500
        and response.status_code not in NOT_KEPT
        and not getattr(response, "streaming", False)
    )


# Every keyed write locks its record: compiled once per process (core/prepared.py).
_LOCK_RECORD = PreparedQuery(lambda pk: IdempotencyRecord.objects.select_for_update(
    nowait=True).filter(pk=pk)[:1], kinds=(int,))


def _keyed_write(request, prefix: str) -> tuple[str, str, str] | HttpResponse | None:
    """A write under `prefix` that carries an Idempotency-Key: its (scope, key, fingerprint);
    the 422 for a malformed key; None when there is nothing to keep (no key, a read, a caller
    no scope names, a body too large or unreadable: the operation answers that itself)."""
    key = request.headers.get(HEADER)
    if key is None or request.method not in WRITE_METHODS or not request.path.startswith(prefix):
        return None
    if not KEY.fullmatch(key):
        return _invalid_key()
    scope = scope_of(request)
    if scope is None:
        return None
    try:
        return scope, key, fingerprint_of(request)
    except (RawPostDataException, SuspiciousOperation, OSError):
        return None


class IdempotencyMiddleware:
    """Keeps and replays the answers of API writes that carry an `Idempotency-Key`."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        keyed = _keyed_write(request, API_PREFIX)
        if keyed is None:
            return self.get_response(request)
        if isinstance(keyed, HttpResponse):
            return keyed
        scope, key, fingerprint = keyed
        for _attempt in range(ATTEMPTS):
            record = self._claim(scope, key, fingerprint)
            if record is None:
                continue
            if record.fingerprint != fingerprint:
                return _reused()
            if record.state == IdempotencyRecord.State.DONE:
                return _replay(record)
            response = self._run(request, record)
            if response is not None:
                return response
        return _in_use()  # deleted under us again and again: a busy key, try later

    def _claim(self, scope: str, key: str, fingerprint: str) -> IdempotencyRecord | None:
        """Step 1: the new record, or the existing one; None if that one was deleted between
        the insert and the read (an attempt that was not kept)."""
        record = IdempotencyRecord(scope=scope, key=key, fingerprint=fingerprint,
                                   created_at=clock.now())
        record.pk = _insert_unless_taken(record)
        if record.pk is not None:
            record._state.adding = False
            return record
        return IdempotencyRecord.objects.filter(scope=scope, key=key).first()

    def _run(self, request, record: IdempotencyRecord) -> HttpResponse | None:
        """Transaction B. None when the record vanished before it could be locked."""
        try:
            with transaction.atomic():
                locked = _LOCK_RECORD.first(record.pk)
                if locked is None:
                    return None
                if locked.state == IdempotencyRecord.State.DONE:
                    return _replay(locked)
                try:
                    with transaction.atomic():
                        response = self.get_response(request)
                        if not _kept(request, response) or transaction.get_rollback():
                            raise _NotKept(response)
                except _NotKept as not_kept:
                    locked.delete()
                    return not_kept.response
                locked.state = IdempotencyRecord.State.DONE
                locked.status = response.status_code
                locked.body = response.content
                locked.content_type = response.get("Content-Type", "")
                locked.language = response.get("Content-Language") or get_language() or ""
                locked.save(update_fields=["state", "status", "body", "content_type",
                                           "language"])
                return response
        except OperationalError as error:
            if _lock_not_available(error):
                return _in_use()
            raise


def _lock_key(scope: str, key: str) -> int:
    """The advisory lock of a (scope, key) pair: 64 bits of their SHA-256, signed."""
    digest = hashlib.sha256(f"{scope}\n{key}".encode("utf-8", "surrogateescape")).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


_RECORD_FIELDS = [field for field in IdempotencyRecord._meta.concrete_fields]


class _Claim:
    """The lean path's claim: the advisory lock (PostgreSQL) and the record, read in the
    transaction. The statements are sent when it is made and read by `receive()`, so in
    psycopg's pipeline mode they travel with the next statements that need an answer."""

    def __init__(self, connection, scope: str, key: str, fingerprint: str):
        self.connection, self.scope, self.key, self.fingerprint = (connection, scope, key,
                                                                     fingerprint)
        self.record: IdempotencyRecord | None = None
        self.busy = False
        self._received = False
        self._lock_cursor = None
        if connection.vendor == "postgresql":
            self._lock_cursor = connection.cursor()
            self._lock_cursor.execute("SELECT pg_try_advisory_xact_lock(%s)",
                                      [_lock_key(scope, key)])
        quote = connection.ops.quote_name
        meta = IdempotencyRecord._meta
        self._record_cursor = connection.cursor()
        self._record_cursor.execute(
            f"SELECT {', '.join(quote(field.column) for field in _RECORD_FIELDS)} "
            f"FROM {quote(meta.db_table)} WHERE {quote('scope')} = %s AND {quote('key')} = %s",
            [scope, key])

    def receive(self) -> None:
        if self._received:
            return
        self._received = True
        if self._lock_cursor is not None:
            self.busy = not self._lock_cursor.fetchone()[0]
            self._lock_cursor.close()
        row = self._record_cursor.fetchone()
        self._record_cursor.close()
        if row is not None:
            self.record = IdempotencyRecord.from_db(
                self.connection.alias, [field.attname for field in _RECORD_FIELDS], row)

    def answer(self) -> HttpResponse | None:
        """The answer without running the request (replay, 422, 409), or None to run it."""
        self.receive()
        record = self.record
        if record is not None and record.fingerprint != self.fingerprint:
            return _reused()
        if record is not None and record.state == IdempotencyRecord.State.DONE:
            return _replay(record)
        if self.busy:
            return _in_use()
        return None

    def store(self, response) -> None:
        """The record, done, with the answer: one statement that reads nothing back."""
        values = {"state": IdempotencyRecord.State.DONE, "status": response.status_code,
                  "body": response.content, "content_type": response.get("Content-Type", ""),
                  "language": response.get("Content-Language") or get_language() or ""}
        if self.record is None:  # the usual case
            write_rows([IdempotencyRecord(scope=self.scope, key=self.key,
                                          fingerprint=self.fingerprint,
                                          created_at=clock.now(), **values)], with_pk=False)
            return
        for name, value in values.items():  # in progress: left by IdempotencyMiddleware
            setattr(self.record, name, value)
        write_fields(self.record, list(values))


class PosIdempotencyMiddleware:
    """`Idempotency-Key` on the POS's lean path: claim, operation and stored answer in one
    transaction (see the module docstring)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        keyed = _keyed_write(request, API_PREFIX)
        if keyed is None:
            return self.get_response(request)
        if isinstance(keyed, HttpResponse):
            return keyed
        scope, key, fingerprint = keyed
        for attempt in range(ATTEMPTS):
            try:
                return self._run(request, scope, key, fingerprint)
            except IntegrityError:
                # Rolled back whole; the next attempt finds what the other one committed.
                if attempt == ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _run(self, request, scope: str, key: str, fingerprint: str) -> HttpResponse:
        connection = connections[router.db_for_write(IdempotencyRecord)]
        alias = connection.alias
        # The COMMIT goes in the pipeline only when this is the transaction (not a savepoint
        # inside one opened elsewhere: a test's, say).
        outermost = not connection.in_atomic_block
        with transaction.atomic(using=alias):
            pipeline = None
            if request.path in PIPELINED and fastsale.enabled(connection):
                pipeline = Pipeline(connection)
            try:
                claim = _Claim(connection, scope, key, fingerprint)
                if pipeline is None:
                    answer = claim.answer()
                    if answer is not None:
                        return answer
                response = self.get_response(request)
                # Pipelined, the claim's answer came with the view's first read: only now is
                # it known whether the view's work counts (its writes are not committed yet).
                answer = claim.answer()
                if answer is not None:
                    transaction.set_rollback(True, alias)
                    return answer
                if not _kept(request, response) or transaction.get_rollback(alias):
                    transaction.set_rollback(True, alias)
                    return response
                claim.store(response)
                if pipeline is not None and Pipeline.of(connection) is pipeline:
                    # The writes, the answer and the COMMIT: one round trip.
                    pipeline.close(commit=outermost, check=True)
                return response
            finally:
                if pipeline is not None and Pipeline.of(connection) is pipeline:
                    pipeline.close(commit=False)  # an answer not kept: rolled back next


def _insert_unless_taken(record: IdempotencyRecord) -> int | None:
    """INSERT ... ON CONFLICT (scope, key) DO NOTHING RETURNING id, in autocommit: the new
    row's id, or None when the key is taken. One statement, where `create()` in its own
    transaction is three (BEGIN, INSERT, COMMIT) and a unique violation to catch."""
    connection = connections[router.db_for_write(IdempotencyRecord)]
    meta = IdempotencyRecord._meta
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    quote = connection.ops.quote_name
    sql = (f"INSERT INTO {quote(meta.db_table)} "
           f"({', '.join(quote(field.column) for field in fields)}) "
           f"VALUES ({', '.join(['%s'] * len(fields))}) "
           f"ON CONFLICT ({quote('scope')}, {quote('key')}) DO NOTHING "
           f"RETURNING {quote(meta.pk.column)}")
    values = [field.get_db_prep_save(field.pre_save(record, True), connection)
              for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        row = cursor.fetchone()
    return row[0] if row else None


def _lock_not_available(error: OperationalError) -> bool:
    # PostgreSQL's SQLSTATE 55P03 (lock_not_available), raised by NOWAIT.
    return getattr(getattr(error, "__cause__", None), "sqlstate", None) == "55P03"


def purge(older_than: timedelta = RETENTION, now: datetime | None = None) -> int:
    """Delete records older than `older_than` at `now`; the count deleted. Their keys are free
    again."""
    deleted, _by_model = IdempotencyRecord.objects.filter(
        created_at__lt=(now or clock.now()) - older_than
    ).delete()
    return deleted


def document(schema: dict) -> dict:
    """OpenAPI: every write takes the optional header and may answer 409 and 422 for it."""
    header = {
        "in": "header", "name": HEADER, "required": False,
        "description": (
            "Makes the write safe to retry: the same key with the same request within 24 "
            "hours answers the first answer again, with `Idempotent-Replayed: true`, and "
            "changes nothing. The same key with another request is 422 "
            "`/problems/idempotency-key-reused`; while the first request is still running, "
            "409 `/problems/idempotency-key-in-use` with `Retry-After`."
        ),
        "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": KEY_PATTERN},
    }
    problem_content = {CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, path_item in schema.get("paths", {}).items():
        if not path.startswith(API_PREFIX):
            continue
        for method, operation in path_item.items():
            if method.upper() not in WRITE_METHODS:
                continue
            parameters = operation.setdefault("parameters", [])
            if not any(p.get("name") == HEADER for p in parameters):
                parameters.append(copy.deepcopy(header))
            responses = operation.setdefault("responses", {})
            for status, description in ((409, "Conflict"), (422, "Unprocessable Content")):
                responses.setdefault(status, {"description": description,
                                              "content": copy.deepcopy(problem_content)})
            responses[409].setdefault("headers", {})["Retry-After"] = {
                "description": "Seconds to wait, when the same key is still in use",
                "schema": {"type": "integer"},
            }
    return schema
