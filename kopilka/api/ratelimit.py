"""Per-credential rate limits for the API: **429** with `Retry-After` beyond the limit.

Each credential has its own counter: a POS terminal key, a management token, a staff session
(its session cookie). Counting happens before authentication, on the SHA-256 of what the
client sent — never the raw key — so wrong and made-up keys are counted like real ones and
flooding the key look-up costs the flooder its own limit. Requests without any credential are
not counted: they are refused with a 401 before any database work, and the only other thing
to key them by is the client address, which behind a proxy is the proxy's (limit addresses at
the reverse proxy). django-ninja's own throttles are not used because they run after
authentication and would never see a wrong key.

Limits come from settings (`RATE_LIMITS`, from `KOPILKA_RATE_LIMIT_POS` for /api/v1/pos/ and
`KOPILKA_RATE_LIMIT_MANAGE` for the rest of /api/v1/): `<requests>/<seconds>`, `0` = off.
The window is fixed (aligned to multiples of its length): at most twice the limit can pass
around a window boundary, the price of one atomic counter per window (`cache.add` then
`cache.incr`). The counters live in Django's cache: LocMem by default, which is per process —
with several web processes each counts alone, so a client gets up to N times the limit —
and Redis (`KOPILKA_REDIS_URL`) for one count shared by every process and host.

Every counted answer carries `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`
(seconds until the window ends).
"""

import copy
import hashlib
import importlib.util
import logging
import math
import re
from functools import lru_cache

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext as _

from kopilka.api.problems import CONTENT_TYPE, HTTP_TITLES, problem
from kopilka.core import clock

API_PREFIX = "/api/v1/"
POS_PREFIX = "/api/v1/pos/"
RATE = re.compile(r"(\d{1,9})/(\d{1,9})")
logger = logging.getLogger(__name__)
ENV_NAMES = {"pos": "KOPILKA_RATE_LIMIT_POS", "manage": "KOPILKA_RATE_LIMIT_MANAGE"}


@lru_cache
def parse_rate(name: str, text: str) -> tuple[int, int] | None:
    """`"600/60"` -> (600, 60); `"0"` (or `"0/60"`) -> None, no limit."""
    text = text.strip()
    if text == "0":
        return None
    match = RATE.fullmatch(text)
    if match is None or int(match[2]) == 0:
        raise ImproperlyConfigured(
            f"{ENV_NAMES.get(name, name)} must be <requests>/<seconds> (e.g. 600/60) or 0 "
            f"(no limit); got {text!r}"
        )
    count, seconds = int(match[1]), int(match[2])
    return (count, seconds) if count else None


def limit_for(name: str) -> tuple[int, int] | None:
    return parse_rate(name, str(settings.RATE_LIMITS.get(name, "0")))


def credential_of(request) -> str | None:
    """The SHA-256 of the credential the request carries, or None without one."""
    authorization = request.headers.get("Authorization")
    if authorization:
        material = "authorization\n" + authorization
    else:
        session = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
        if not session:
            return None
        material = "session\n" + session
    return hashlib.sha256(material.encode("utf-8", "surrogateescape")).hexdigest()


def hit(name: str, credential: str, window: int) -> tuple[int, int]:
    """Count one request; (requests in this window so far, seconds until it ends)."""
    now = clock.now().timestamp()
    bucket = int(now // window)
    reset = max(1, math.ceil((bucket + 1) * window - now))
    key = f"kopilka:ratelimit:{name}:{credential}:{bucket}"
    # The key names its window, so expiry only cleans up: it never decides a count.
    if cache.add(key, 1, timeout=reset + 1):
        return 1, reset
    try:
        return cache.incr(key), reset
    except ValueError:  # expired between add and incr: this is the window's first request
        cache.set(key, 1, timeout=reset + 1)
        return 1, reset


class RateLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        # A wrong configuration stops the start, not every request.
        for name in ENV_NAMES:
            limit_for(name)
        backend = settings.CACHES.get("default", {}).get("BACKEND", "")
        if backend.endswith(".RedisCache") and importlib.util.find_spec("redis") is None:
            raise ImproperlyConfigured(
                "KOPILKA_REDIS_URL needs the redis package: pip install redis"
            )

    def __call__(self, request):
        if not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        credential = credential_of(request)
        name = "pos" if request.path.startswith(POS_PREFIX) else "manage"
        rate = limit_for(name)
        if credential is None or rate is None:
            return self.get_response(request)
        limit, window = rate
        try:
            count, reset = hit(name, credential, window)
        except Exception:
            # The counters protect the service; they must not take it down with them (Redis
            # restarting): the request goes through uncounted, and the log says why.
            logger.warning("Rate limit not counted: the cache failed.", exc_info=True)
            return self.get_response(request)
        if count > limit:
            response = problem(
                429, "rate-limited", HTTP_TITLES[429],
                _("At most %(limit)s requests in %(window)s seconds; try again in "
                  "%(seconds)s seconds.") % {"limit": limit, "window": window, "seconds": reset},
            )
            response["Retry-After"] = str(reset)
        else:
            response = self.get_response(request)
        response["RateLimit-Limit"] = str(limit)
        response["RateLimit-Remaining"] = str(max(0, limit - count))
        response["RateLimit-Reset"] = str(reset)
        return response


def document(schema: dict) -> dict:
    """OpenAPI: every operation may answer 429, with `Retry-After`."""
    too_many = {
        "description": "Too Many Requests",
        "headers": {
            "Retry-After": {"description": "Seconds until the limit resets",
                            "schema": {"type": "integer"}},
        },
        "content": {CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    for path, path_item in schema.get("paths", {}).items():
        if not path.startswith(API_PREFIX):
            continue
        for operation in path_item.values():
            if isinstance(operation, dict) and "responses" in operation:
                operation["responses"].setdefault(429, copy.deepcopy(too_many))
    return schema
