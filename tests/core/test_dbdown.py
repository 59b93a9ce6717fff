"""The database goes away: the API answers 503 problems with Retry-After, never a 500, keeps no
half-written idempotency record, and the next request works without anyone stepping in.

The outages are real: the connection settings point at nothing (a closed port, a file that
cannot be opened) or, on PostgreSQL, the request's own backend is terminated mid-request."""

import socket
import sqlite3

import pytest
from django.db import OperationalError, connection
from django.test import Client
from django_scopes import scopes_disabled

from kopilka.api.models import IdempotencyRecord
from kopilka.api.urls import api
from kopilka.core.dbdown import is_unavailable
from kopilka.processing import sale as services
from kopilka.processing.models import Purchase

pytestmark = pytest.mark.django_db(transaction=True)  # connections are closed and reopened

PURCHASES = "/api/v1/pos/purchases"


@pytest.fixture(autouse=True)
def no_rate_limits(settings):
    settings.RATE_LIMITS = {"pos": "0", "manage": "0"}


def pos(tenant) -> Client:
    # Django's test client re-raises a view's error; a server does not, and neither does this.
    return Client(raise_request_exception=False, headers={
        "Authorization": f"Bearer {tenant.pos_key}", "Accept-Language": "en"})


def buy(tenant, receipt: str, key: str):
    body = {"member": {"id": tenant.member.pk}, "receipt_id": receipt,
            "lines": [{"line_id": "1", "amount": 50_000}]}
    return pos(tenant).post(PURCHASES, body, content_type="application/json",
                            headers={"Idempotency-Key": key})


def purchases(receipt: str) -> int:
    with scopes_disabled():
        return Purchase.objects.filter(receipt_id=receipt).count()


def assert_unavailable(response):
    assert response.status_code == 503, response.content
    assert response["Retry-After"] == "1"
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "/problems/database-unavailable"
    assert body["status"] == 503
    assert body["title"]


class Outage:
    """Points the connection at a database that is not there, and back."""

    def __init__(self):
        self.saved = dict(connection.settings_dict)

    def begin(self):
        connection.close()
        if connection.vendor == "sqlite":
            connection.settings_dict["NAME"] = "/nonexistent/kopilka/db.sqlite3"
        else:
            with socket.socket() as probe:  # a port nobody listens on
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            connection.settings_dict.update(HOST="127.0.0.1", PORT=str(port))

    def end(self):
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(self.saved)


@pytest.fixture
def outage():
    outage = Outage()
    yield outage
    outage.end()


def test_reads_and_writes_while_the_database_is_unreachable_are_503s(alice, outage):
    outage.begin()
    assert_unavailable(buy(alice, "R-1", key="k-1"))
    assert_unavailable(pos(alice).get("/api/v1/pos/members/lookup?phone=%2B79160000001"))
    assert_unavailable(pos(alice).get("/api/v1/pos/terminal"))


def test_the_retry_runs_once_the_database_is_back(alice, outage):
    outage.begin()
    assert_unavailable(buy(alice, "R-2", key="k-2"))
    outage.end()
    response = buy(alice, "R-2", key="k-2")  # the same retry: it runs, once
    assert response.status_code == 201, response.content
    assert buy(alice, "R-2", key="k-2")["Idempotent-Replayed"] == "true"
    assert purchases("R-2") == 1
    assert IdempotencyRecord.objects.get(key="k-2").state == IdempotencyRecord.State.DONE


@pytest.mark.skipif("connection.vendor != 'postgresql'",
                    reason="cuts the connection with PostgreSQL's pg_terminate_backend")
def test_a_connection_cut_mid_request_is_503_and_leaves_the_key_free(alice, monkeypatch):
    import psycopg

    commit_purchase = services.commit_purchase
    cut = []

    def commit_after_the_backend_is_gone(*args, **kwargs):
        # Inside the request's transaction, after its Idempotency-Key was claimed (the POS's
        # lean path claims it in that transaction): another session terminates this one, as
        # a restarting server would.
        if not cut:
            cut.append(connection.connection.info.backend_pid)
            params = connection.get_connection_params()
            params.pop("cursor_factory", None)
            with psycopg.connect(**params, autocommit=True) as other:
                other.execute("SELECT pg_terminate_backend(%s)", (cut[0],))
        return commit_purchase(*args, **kwargs)

    monkeypatch.setattr(services, "commit_purchase", commit_after_the_backend_is_gone)
    assert_unavailable(buy(alice, "R-3", key="k-3"))
    assert cut
    # Nothing of the attempt was committed, the claim neither: the retry runs the purchase,
    # once.
    assert purchases("R-3") == 0
    assert not IdempotencyRecord.objects.filter(key="k-3").exists()
    response = buy(alice, "R-3", key="k-3")
    assert response.status_code == 201, response.content
    assert purchases("R-3") == 1
    assert connection.connection.info.backend_pid != cut[0]  # a new connection


def test_other_database_errors_stay_500s():
    try:
        raise OperationalError("no such table: x") from sqlite3.OperationalError("no such table")
    except OperationalError as error:
        assert not is_unavailable(error)
    assert not is_unavailable(ValueError("x"))


def test_the_openapi_document_declares_the_503():
    unavailable = api.get_openapi_schema()["paths"][PURCHASES]["post"]["responses"][503]
    assert unavailable["headers"]["Retry-After"]
    assert set(unavailable["content"]) == {"application/problem+json"}
