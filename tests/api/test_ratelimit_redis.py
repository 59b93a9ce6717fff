"""Rate limits counted in a real Redis (KOPILKA_REDIS_URL): one count shared by every web
process. Needs Redis on 127.0.0.1:6379 (database 13); skipped with a message when it is not
there — .ci/run starts it and fails if it cannot. The counts go under a key prefix of this
process's own, and only those keys are deleted: other xdist workers and other people's tests
share that Redis."""

import hashlib
import os
import socket
import uuid
from datetime import UTC, datetime

import pytest
import redis
import time_machine

pytestmark = pytest.mark.django_db

REDIS_URL = os.environ.get("KOPILKA_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
TERMINAL = "/api/v1/pos/terminal"
PREFIX = f"kopilka-test-{uuid.uuid4().hex[:12]}"  # this process's keys
MOMENT = datetime(2026, 3, 1, 12, 0, 15, tzinfo=UTC)


def redis_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.fixture
def shared_redis(settings):
    if not redis_up():
        pytest.skip("Redis is not answering on 127.0.0.1:6379 (start it: see docs/operations.md)")
    raw = redis.Redis.from_url(REDIS_URL)
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": REDIS_URL, "KEY_PREFIX": PREFIX}}
    settings.RATE_LIMITS = {"pos": "3/60", "manage": "0"}
    yield raw
    for key in raw.scan_iter(f"{PREFIX}:*"):
        raw.delete(key)


def test_the_count_lives_in_redis_and_is_shared_between_processes(alice, shared_redis):
    with time_machine.travel(MOMENT, tick=False):
        pos = alice.pos()
        assert pos.get(TERMINAL)["RateLimit-Remaining"] == "2"
        digest = hashlib.sha256(f"authorization\nBearer {alice.pos_key}".encode()).hexdigest()
        bucket = int(MOMENT.timestamp() // 60)
        key = f"{PREFIX}:1:kopilka:ratelimit:pos:{digest}:{bucket}"
        assert int(shared_redis.get(key)) == 1
        assert 0 < shared_redis.ttl(key) <= 60
        shared_redis.incr(key)  # another web process served the same terminal meanwhile
        assert pos.get(TERMINAL)["RateLimit-Remaining"] == "0"
        refused = pos.get(TERMINAL)
        assert (refused.status_code, refused["Retry-After"]) == (429, "45")
        assert int(shared_redis.get(key)) == 4
