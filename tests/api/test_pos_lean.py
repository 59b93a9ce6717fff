"""The POS's lean request path (kopilka/api/lean.py): no session, CSRF or messages work for a
key-authenticated /api/v1/pos/ call, and its Idempotency-Key claimed and answered in the
operation's own transaction (idempotency.PosIdempotencyMiddleware) — the same semantics as
every other write: replay byte for byte, 422 for another request, refusals kept, 401 and 5xx
not kept, one effect under concurrent duplicates."""

import pytest
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.db import connection
from django.middleware.csrf import CsrfViewMiddleware
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled

from kopilka.api import sales as sales_api
from kopilka.api.models import IdempotencyRecord
from kopilka.ledger.models import Account
from kopilka.processing.models import Purchase
from tests.clients import bearer, run_in_threads

pytestmark = pytest.mark.django_db

PURCHASES = "/api/v1/pos/purchases"
PHONE = "+79995550001"


@pytest.fixture(autouse=True)
def no_rate_limits(settings):
    settings.RATE_LIMITS = {"pos": "0", "manage": "0"}


@pytest.fixture
def pos(shop):
    shop.program(welcome_bonus=1_000, max_redeem_percent="50")
    shop.join(phone=PHONE)
    return shop.tenant.pos()


def sale(receipt="R-1", spend=0, amount=60_000):
    return {"member": {"phone": PHONE}, "receipt_id": receipt, "points_to_spend": spend,
            "lines": [{"line_id": "1", "amount": amount}]}


def commit(client, body, key=None):
    headers = {"Idempotency-Key": key} if key is not None else {}
    return client.post(PURCHASES, body, content_type="application/json", headers=headers)


def purchases():
    with scopes_disabled():
        return Purchase.objects.count()


def test_pos_calls_skip_session_csrf_and_messages(pos, alice, monkeypatch):
    calls = []
    for middleware in (SessionMiddleware, CsrfViewMiddleware, MessageMiddleware):
        original = middleware.process_request

        def spy(self, request, _original=original, _name=middleware.__name__):
            calls.append(_name)
            return _original(self, request)

        monkeypatch.setattr(middleware, "process_request", spy)
    answer = pos.get("/api/v1/pos/members/lookup", {"phone": PHONE})
    assert answer.status_code == 200
    assert commit(pos, sale(), key="k-1").status_code == 201
    assert calls == []
    assert answer["Content-Security-Policy"]  # the headers every answer carries stay
    assert answer["X-Content-Type-Options"] == "nosniff"
    assert answer["Content-Language"] == "en"
    assert "Set-Cookie" not in answer and "Cookie" not in answer.get("Vary", "")
    # Everything else still goes through the whole chain.
    assert alice.manage().get("/api/v1/manage/stores").status_code == 200
    assert calls == ["SessionMiddleware", "CsrfViewMiddleware", "MessageMiddleware"]


def test_a_keyed_commit_is_replayed_byte_for_byte(pos):
    first = commit(pos, sale(spend=1_000), key="k-1")
    assert first.status_code == 201, first.json()
    assert (first.json()["points_spent"], first.json()["available"]) == (1_000, 2_950)
    again = commit(pos, sale(spend=1_000), key="k-1")
    assert (again.status_code, again.content) == (201, first.content)
    assert again["Idempotent-Replayed"] == "true"
    assert purchases() == 1
    record = IdempotencyRecord.objects.get(key="k-1")
    assert (record.state, record.status, bytes(record.body)) == ("done", 201, first.content)


def test_the_same_key_with_another_body_is_422_and_writes_nothing(pos):
    assert commit(pos, sale(), key="k-1").status_code == 201
    other = commit(pos, sale(receipt="R-2"), key="k-1")
    assert other.status_code == 422
    assert other.json()["type"] == "/problems/idempotency-key-reused"
    assert purchases() == 1


def test_a_refusal_is_kept_and_replayed_after_the_state_changed(pos, shop):
    refused = commit(pos, sale(spend=5_000), key="k-1")  # 1 000 points only
    assert refused.status_code == 409, refused.json()
    assert [error["field"] for error in refused.json()["errors"]] == ["points_to_spend"]
    assert commit(pos, sale(receipt="R-2", amount=900_000), key="k-2").status_code == 201
    again = commit(pos, sale(spend=5_000), key="k-1")
    assert (again.status_code, again.content) == (409, refused.content)
    assert again["Idempotent-Replayed"] == "true"
    assert purchases() == 1


def test_a_wrong_key_is_401_and_not_kept(pos):
    answer = commit(bearer("kp_pos_wrong"), sale(), key="k-1")
    assert answer.status_code == 401
    assert not IdempotencyRecord.objects.exists()


def test_a_server_error_rolls_the_write_back_and_frees_the_key(pos, alice, monkeypatch):
    real = sales_api.sale.commit_purchase

    def commit_then_fail(*args, **kwargs):
        real(*args, **kwargs)
        raise RuntimeError("boom")

    monkeypatch.setattr(sales_api.sale, "commit_purchase", commit_then_fail)
    quiet = bearer(alice.pos_key, raise_request_exception=False)
    assert commit(quiet, sale(), key="k-1").status_code == 500
    assert purchases() == 0
    assert not IdempotencyRecord.objects.exists()
    monkeypatch.setattr(sales_api.sale, "commit_purchase", real)
    assert commit(pos, sale(), key="k-1").status_code == 201
    assert purchases() == 1


def _work(queries) -> list[str]:
    """The statements that are not transaction control (the test's own transaction turns a
    request's BEGIN into a savepoint)."""
    control = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT", "BEGIN", "COMMIT")
    return [q["sql"] for q in queries.captured_queries
            if not q["sql"].upper().startswith(control)]


def test_the_key_costs_its_claim_and_its_answer_and_nothing_else(pos, settings):
    settings.PIPELINED_COMMIT = False  # the same (ORM) path with and without the key
    commit(pos, sale(receipt="warm-up"), key="warm-up")
    with CaptureQueriesContext(connection) as plain:
        assert commit(pos, sale(receipt="R-1")).status_code == 201
    with CaptureQueriesContext(connection) as keyed:
        assert commit(pos, sale(receipt="R-2"), key="k-2").status_code == 201
    # The advisory lock (PostgreSQL) and the record's read, then the record's INSERT: no
    # separate claim transaction, no row lock, no savepoint around the view.
    claim = ["pg_try_advisory_xact_lock"] if connection.vendor == "postgresql" else []
    extra = [sql for sql in _work(keyed) if "api_idempotencyrecord" in sql
             or "advisory" in sql]
    assert len(_work(keyed)) - len(_work(plain)) == len(claim) + 2
    assert [sql.split()[0] for sql in extra] == ["SELECT"] * len(claim) + ["SELECT", "INSERT"]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_eight_concurrent_duplicates_commit_once(alice):
    from django_scopes import scope

    from tests.shop import Shop

    with scope(merchant=alice.merchant):
        shop = Shop(alice)
        shop.program(welcome_bonus=1_000, max_redeem_percent="50")
        shop.join(phone=PHONE)

    def buy(_n):
        answer = commit(alice.pos(), sale(spend=500), key="same-key")
        return answer.status_code, answer.get("Idempotent-Replayed"), \
            answer.get("Retry-After"), answer.content

    outcomes = run_in_threads(8, buy)
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    originals = [o for o in outcomes if o[0] == 201 and o[1] is None]
    assert len(originals) == 1, outcomes
    for status, _replayed, retry_after, content in outcomes:
        if status == 409:
            assert retry_after == "1"
            assert b"/problems/idempotency-key-in-use" in content
        else:
            assert (status, content) == (201, originals[0][3])
    assert purchases() == 1
    with scopes_disabled():
        account = Account.objects.get(member__person__phone=PHONE)
    assert account.available == 1_000 - 500 + 2_975  # 5 % of 595.00 accrued once


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's pipeline mode")
@pytest.mark.django_db(transaction=True)  # the request's own transaction, not a savepoint
def test_a_keyed_commit_on_postgresql_is_pipelined_without_savepoints(pos):
    commit(pos, sale(receipt="warm-up"), key="warm-up")
    with CaptureQueriesContext(connection) as keyed:
        answer = commit(pos, sale(receipt="R-1"), key="k-1")
    assert answer.status_code == 201
    statements = _work(keyed)
    assert not [q for q in keyed.captured_queries if "SAVEPOINT" in q["sql"].upper()]
    tables = ["pg_try_advisory_xact_lock", "api_idempotencyrecord", "tenancy_terminal",
              "members_member", "ledger_account", "ledger_lot", "processing_purchase",
              "nextval", "processing_purchase", "processing_purchaseline", "ledger_lot",
              "ledger_entry", "ledger_account", "core_auditentry", "analytics_dayfigures",
              "api_idempotencyrecord"]
    assert len(statements) == len(tables)
    for sql, table in zip(statements, tables, strict=True):
        # The roll-up's upsert opens with a CTE that reads the member's purchases first.
        head = sql if sql.startswith("WITH ") else sql.split(" WHERE ")[0]
        assert table in head, (table, sql[:120])
    # Nothing is read back from the writes: no RETURNING (the ids were reserved).
    assert not [sql for sql in statements if "RETURNING" in sql]
