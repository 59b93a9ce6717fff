"""Per-credential rate limits: 429 with Retry-After, a counter per key, wrong keys counted."""

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from kopilka.api.ratelimit import RateLimitMiddleware, parse_rate

pytestmark = pytest.mark.django_db

TERMINAL = "/api/v1/pos/terminal"
MERCHANT = "/api/v1/manage/merchant"
# 15 seconds into a 60-second window: 45 seconds until it resets.
MOMENT = datetime(2026, 3, 1, 12, 0, 15, tzinfo=UTC)


@pytest.fixture(autouse=True)
def fresh_counters():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def at_moment():
    with time_machine.travel(MOMENT, tick=False) as traveller:
        yield traveller


def limits(settings, pos="0", manage="0"):
    settings.RATE_LIMITS = {"pos": pos, "manage": manage}


def test_beyond_the_limit_is_429_with_retry_after_until_the_window_ends(
        alice, settings, at_moment):
    limits(settings, pos="3/60")
    pos = alice.pos()
    answers = [pos.get(TERMINAL) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [(a["RateLimit-Limit"], a["RateLimit-Remaining"], a["RateLimit-Reset"])
            for a in answers] == [("3", "2", "45"), ("3", "1", "45"), ("3", "0", "45")]
    refused = pos.get(TERMINAL)
    assert refused.status_code == 429
    assert refused["Content-Type"] == "application/problem+json"
    assert (refused["Retry-After"], refused["RateLimit-Remaining"]) == ("45", "0")
    assert refused.json() == {
        "type": "/problems/rate-limited", "title": "Too many requests.", "status": 429,
        "detail": "At most 3 requests in 60 seconds; try again in 45 seconds.",
    }
    at_moment.move_to(MOMENT + timedelta(seconds=44))
    assert pos.get(TERMINAL)["Retry-After"] == "1"
    at_moment.move_to(MOMENT + timedelta(seconds=45))  # the next window
    fresh = pos.get(TERMINAL)
    assert (fresh.status_code, fresh["RateLimit-Remaining"], fresh["RateLimit-Reset"]) == (
        200, "2", "60")


def test_the_problem_is_in_the_callers_language(alice, settings, at_moment):
    limits(settings, pos="1/60")
    alice.pos().get(TERMINAL)
    assert alice.pos(language="ru").get(TERMINAL).json()["title"] == "Слишком много запросов."


def test_each_credential_has_its_own_counter(alice, bob, settings, at_moment):
    limits(settings, pos="2/60", manage="2/60")
    for _ in range(2):
        assert alice.pos().get(TERMINAL).status_code == 200
    assert alice.pos().get(TERMINAL).status_code == 429
    assert bob.pos().get(TERMINAL).status_code == 200
    # Alice's management token counts apart from her terminal.
    assert [alice.manage().get(MERCHANT).status_code for _ in range(3)] == [200, 200, 429]


def test_wrong_keys_are_counted_by_their_hash(alice, settings, at_moment):
    limits(settings, pos="2/60")
    key = "kp_pos_deadbeef_guess"
    guesser = Client(headers={"Authorization": f"Bearer {key}"})
    assert [guesser.get(TERMINAL).status_code for _ in range(3)] == [401, 401, 429]
    digest = hashlib.sha256(f"authorization\nBearer {key}".encode()).hexdigest()
    bucket = int(MOMENT.timestamp() // 60)
    assert cache.get(f"kopilka:ratelimit:pos:{digest}:{bucket}") == 3
    other = Client(headers={"Authorization": "Bearer kp_pos_deadbeef_other"})
    assert other.get(TERMINAL).status_code == 401
    assert alice.pos().get(TERMINAL).status_code == 200


def test_a_staff_session_is_counted_per_session(alice, settings, at_moment):
    limits(settings, manage="2/60")
    browser = Client()
    browser.force_login(alice.owner.user)
    assert [browser.get(MERCHANT).status_code for _ in range(3)] == [200, 200, 429]
    other_browser = Client()
    other_browser.force_login(alice.owner.user)
    assert other_browser.get(MERCHANT).status_code == 200


def test_requests_without_credentials_are_not_counted(alice, settings, at_moment):
    limits(settings, pos="1/60", manage="1/60")
    anonymous = Client()
    assert [anonymous.get(TERMINAL).status_code for _ in range(3)] == [401, 401, 401]
    assert "RateLimit-Limit" not in anonymous.get(TERMINAL)


def test_a_retried_write_is_counted_too(alice, settings, at_moment):
    limits(settings, manage="1/60")
    body, key = {"name": "Arbat"}, {"Idempotency-Key": "s1"}
    client = alice.manage()
    first = client.post("/api/v1/manage/stores", body, content_type="application/json",
                        headers=key)
    retry = client.post("/api/v1/manage/stores", body, content_type="application/json",
                        headers=key)
    assert (first.status_code, retry.status_code) == (201, 429)
    at_moment.move_to(MOMENT + timedelta(seconds=60))
    later = client.post("/api/v1/manage/stores", body, content_type="application/json",
                        headers=key)
    assert (later.status_code, later["Idempotent-Replayed"]) == (201, "true")
    assert later.content == first.content


def test_zero_turns_the_limit_off(alice, settings):
    limits(settings, pos="0", manage="0/60")
    for _ in range(5):
        response = alice.pos().get(TERMINAL)
        assert response.status_code == 200
        assert "RateLimit-Limit" not in response
    assert alice.manage().get(MERCHANT).status_code == 200


def test_a_failing_cache_lets_requests_through_uncounted(alice, settings, caplog):
    limits(settings, pos="1/60")
    # A real backend that cannot write (its directory would have to be under /dev/null).
    settings.CACHES = {"default": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": "/dev/null/kopilka-cache",
    }}
    answers = [alice.pos().get(TERMINAL) for _ in range(3)]
    assert [(a.status_code, "RateLimit-Limit" in a) for a in answers] == [(200, False)] * 3
    assert "Rate limit not counted: the cache failed." in caplog.text


@pytest.mark.parametrize("text", ["fast", "10", "10/0", "-1/60", "10/60s", "1/2/3", ""])
def test_a_malformed_limit_stops_the_start(settings, text):
    with pytest.raises(ImproperlyConfigured, match="KOPILKA_RATE_LIMIT_POS must be"):
        parse_rate("pos", text)
    limits(settings, pos=text)
    with pytest.raises(ImproperlyConfigured):
        RateLimitMiddleware(lambda request: None)


def test_limits_read_as_requests_per_seconds():
    assert [parse_rate("manage", t) for t in ("600/60", " 5/1 ", "0", "0/60")] == [
        (600, 60), (5, 1), None, None]


def test_openapi_declares_429_on_every_operation(client):
    schema = client.get("/api/v1/openapi.json").json()
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            response = operation["responses"].get("429")
            assert response is not None, (method, path)
            assert "Retry-After" in response["headers"]
            assert "application/problem+json" in response["content"]
