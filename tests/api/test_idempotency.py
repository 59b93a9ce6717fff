"""`Idempotency-Key` on API writes: replays, reuse, scope per credential, what is not kept,
concurrent duplicates, purging."""

import io
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from django.utils.crypto import get_random_string
from django_scopes import scope, scopes_disabled

from kopilka.api import manage
from kopilka.api.idempotency import purge
from kopilka.api.models import IdempotencyRecord
from kopilka.ledger.models import Account
from kopilka.tenancy.models import Store, Terminal
from tests.clients import run_in_threads

pytestmark = pytest.mark.django_db

STORES = "/api/v1/manage/stores"
TERMINALS = "/api/v1/manage/terminals"


@pytest.fixture(autouse=True)
def no_rate_limits(settings):
    # The concurrency test sends bursts with one key; limits are tested in test_ratelimit.py.
    settings.RATE_LIMITS = {"pos": "0", "manage": "0"}


def send(client, method, url, body, key=None, **headers):
    if key is not None:
        headers["Idempotency-Key"] = key
    return getattr(client, method)(url, body, content_type="application/json", headers=headers)


def stores_named(tenant, name):
    with scope(merchant=tenant.merchant):
        return Store.objects.filter(merchant=tenant.merchant, name=name).count()


def records():
    return IdempotencyRecord.objects.count()


def test_a_retried_store_creation_is_answered_from_the_first_call(alice):
    client = alice.manage()
    body = {"name": "Arbat", "address": "Arbat 1"}
    first = send(client, "post", STORES, body, key="store-1")
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first
    retry = send(alice.manage(language="ru"), "post", STORES, body, key="store-1")
    assert retry.status_code == 201
    assert retry["Idempotent-Replayed"] == "true"
    assert retry.content == first.content
    assert retry["Content-Type"] == "application/json; charset=utf-8"
    assert retry["Content-Language"] == "en"  # the language the stored answer is in
    assert stores_named(alice, "Arbat") == 1


def test_a_retried_patch_is_replayed_even_after_a_later_change(alice):
    url = f"/api/v1/manage/members/{alice.member.pk}"
    first = send(alice.manage(), "patch", url, {"first_name": "Anna"}, key="p1")
    assert first.status_code == 200
    send(alice.manage(), "patch", url, {"first_name": "Anya"}, key="p2")
    retry = send(alice.manage(), "patch", url, {"first_name": "Anna"}, key="p1")
    assert (retry.status_code, retry["Idempotent-Replayed"]) == (200, "true")
    assert retry.content == first.content  # the first answer, not the member now
    assert alice.manage().get(url).json()["first_name"] == "Anya"  # and nothing changed


def test_the_same_key_with_another_request_is_422_and_writes_nothing(alice):
    client = alice.manage()
    assert send(client, "post", STORES, {"name": "Arbat"}, key="k").status_code == 201
    for method, url, body in [("post", STORES, {"name": "Tverskaya"}),
                              ("post", f"{STORES}?x=1", {"name": "Arbat"}),
                              ("post", TERMINALS, {"store": "Arbat"})]:
        response = send(client, method, url, body, key="k")
        assert response.status_code == 422
        assert response["Content-Type"] == "application/problem+json"
        problem = response.json()
        assert problem["type"] == "/problems/idempotency-key-reused"
        assert problem["errors"][0]["field"] == "Idempotency-Key"
    assert stores_named(alice, "Tverskaya") == 0
    with scope(merchant=alice.merchant):
        assert Terminal.objects.count() == 1  # the fixture's


def test_a_key_belongs_to_its_credential(alice, bob):
    body = {"name": "Corner"}
    answers = [send(tenant.manage(), "post", STORES, body, key="same")
               for tenant in (alice, bob)]
    assert [a.status_code for a in answers] == [201, 201]
    assert ["Idempotent-Replayed" in a for a in answers] == [False, False]
    assert (stores_named(alice, "Corner"), stores_named(bob, "Corner")) == (1, 1)
    assert answers[0].json()["id"] != answers[1].json()["id"]


def test_a_retried_terminal_creation_shows_the_same_key_once_created(alice):
    body = {"store": "Main", "name": "Till 2"}
    first = send(alice.manage(), "post", TERMINALS, body, key="till-2")
    retry = send(alice.manage(), "post", TERMINALS, body, key="till-2")
    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.json()["key"] == first.json()["key"]
    with scope(merchant=alice.merchant):
        assert Terminal.objects.filter(name="Till 2").count() == 1
    till = Client(headers={"Authorization": f"Bearer {first.json()['key']}"})
    assert till.get("/api/v1/pos/terminal").json()["terminal"]["name"] == "Till 2"


def test_a_refusal_is_replayed_as_the_same_refusal(alice):
    client = alice.manage()
    url = f"/api/v1/manage/members/{alice.member.pk}/adjustments"
    deduct = {"points": -500, "reason": "too much", "key": "d1"}
    refused = send(client, "post", url, deduct, key="deduct-1")
    assert refused.status_code == 409
    assert refused.json()["type"] == "/problems/insufficient-points"
    grant = send(client, "post", url, {"points": 1_000, "reason": "gift", "key": "g1"},
                 key="grant-1")
    assert grant.json()["available"] == 1_000
    # Now the deduction could be made, but the key's answer is the refusal it got.
    retry = send(client, "post", url, deduct, key="deduct-1")
    assert (retry.status_code, retry["Idempotent-Replayed"]) == (409, "true")
    assert retry.content == refused.content
    card = client.get(f"/api/v1/manage/members/{alice.member.pk}/card").json()
    assert card["available"] == 1_000


@pytest.mark.parametrize("key", ["", " k", "k ", "k" * 256, "ключ", "a\tb", "a\x00b"])
def test_a_malformed_key_is_422_naming_the_header(alice, key):
    response = send(alice.manage(), "post", STORES, {"name": "Arbat"}, key=key)
    assert response.status_code == 422
    assert response.json()["errors"] == [{
        "field": "Idempotency-Key",
        "message": "Must be 1 to 255 printable ASCII characters, not starting or ending with "
                   "a space.",
    }]
    assert (stores_named(alice, "Arbat"), records()) == (0, 0)


def test_the_longest_key_and_inner_spaces_are_fine(alice):
    for n, key in enumerate(["k" * 255, "order 17 / try #2", "~"]):
        response = send(alice.manage(), "post", STORES, {"name": f"S{n}"}, key=key)
        assert response.status_code == 201, response.json()
    assert records() == 3


def test_a_key_on_a_read_is_ignored(alice):
    response = alice.manage().get(STORES, headers={"Idempotency-Key": "\x01"})
    assert response.status_code == 200
    assert records() == 0


def test_answers_before_authentication_are_not_kept(alice):
    wrong = Client(headers={"Authorization": "Bearer kp_mgt_00000000_wrong"})
    response = send(wrong, "post", STORES, {"name": "Arbat"}, key="k1")
    assert response.status_code == 401
    assert records() == 0


def test_a_session_write_refused_for_its_csrf_token_can_be_retried(alice):
    client = Client(enforce_csrf_checks=True, headers={"Accept-Language": "en"})
    client.force_login(alice.owner.user)
    token = get_random_string(32)
    client.cookies["csrftoken"] = token
    refused = send(client, "post", STORES, {"name": "Arbat"}, key="s1")
    assert refused.status_code == 403
    assert records() == 0
    created = send(client, "post", STORES, {"name": "Arbat"}, key="s1", X_CSRFToken=token)
    assert created.status_code == 201
    again = send(client, "post", STORES, {"name": "Arbat"}, key="s1", X_CSRFToken=token)
    assert (again.status_code, again["Idempotent-Replayed"]) == (201, "true")
    assert stores_named(alice, "Arbat") == 1


def test_a_server_error_rolls_the_write_back_and_frees_the_key(alice, monkeypatch):
    def broken(terminal):
        raise RuntimeError("after the terminal was created")

    monkeypatch.setattr(manage, "terminal_out", broken)
    quiet = Client(raise_request_exception=False,
                   headers={"Authorization": f"Bearer {alice.token}"})
    body = {"store": "Main", "name": "Till 2"}
    assert send(quiet, "post", TERMINALS, body, key="t2").status_code == 500
    with scope(merchant=alice.merchant):
        assert Terminal.objects.filter(name="Till 2").count() == 0
    assert records() == 0
    monkeypatch.undo()
    assert send(alice.manage(), "post", TERMINALS, body, key="t2").status_code == 201
    with scope(merchant=alice.merchant):
        assert Terminal.objects.filter(name="Till 2").count() == 1


def test_purge_deletes_records_older_than_the_retention(alice):
    start = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    for hours, name in [(0, "A"), (30, "B"), (50, "C")]:
        with time_machine.travel(start + timedelta(hours=hours), tick=False):
            send(alice.manage(), "post", STORES, {"name": name}, key=name)
    with time_machine.travel(start + timedelta(hours=60), tick=False):
        out = io.StringIO()
        call_command("purge_idempotency", "--older-than-hours", "48", stdout=out)
        assert out.getvalue() == "Deleted 1 idempotency records.\n"
        assert sorted(IdempotencyRecord.objects.values_list("key", flat=True)) == ["B", "C"]
        assert purge() == 1  # the default: 24 hours
        assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["C"]
    # A's key is free again: the same key with another body is a new request.
    assert send(alice.manage(), "post", STORES, {"name": "A2"}, key="A").status_code == 201


def test_openapi_declares_the_header_on_writes_only(client):
    schema = client.get("/api/v1/openapi.json").json()
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            names = [p["name"] for p in operation.get("parameters", [])]
            if method in ("post", "put", "patch", "delete"):
                assert "Idempotency-Key" in names, (method, path)
                assert {"409", "422", "429"} <= set(operation["responses"]), (method, path)
                assert "Retry-After" in operation["responses"]["409"]["headers"]
            else:
                assert "Idempotency-Key" not in names, (method, path)


# --- real transactions ---------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_eight_concurrent_duplicates_change_the_balance_once(alice):
    url = f"/api/v1/manage/members/{alice.member.pk}/adjustments"
    body = {"points": 700, "reason": "once", "key": "body-key"}

    def adjust(n):
        response = send(alice.manage(), "post", url, body, key="same-key")
        return response.status_code, response.get("Idempotent-Replayed"), \
            response.get("Retry-After"), response.content

    outcomes = run_in_threads(8, adjust)
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    originals = [o for o in outcomes if o[0] == 201 and o[1] is None]
    assert len(originals) == 1, outcomes
    for status, replayed, retry_after, content in outcomes:
        if replayed:
            assert (status, content) == (201, originals[0][3])
        elif status == 409:
            assert retry_after == "1"
            assert b"/problems/idempotency-key-in-use" in content
        else:
            assert (status, content) == (201, originals[0][3])
    with scopes_disabled():
        account = Account.objects.get(member=alice.member)
    assert account.available == 700


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_on_commit_callbacks_run_once_the_answer_is_stored(alice, monkeypatch):
    seen = []
    create_store = manage.tenancy.create_store

    def create_store_and_notify(*args, **kwargs):
        store = create_store(*args, **kwargs)
        transaction.on_commit(lambda: seen.append(
            IdempotencyRecord.objects.get(key="notify").state
        ))
        return store

    monkeypatch.setattr(manage.tenancy, "create_store", create_store_and_notify)
    response = send(alice.manage(), "post", STORES, {"name": "Arbat"}, key="notify")
    assert response.status_code == 201
    assert seen == ["done"]
