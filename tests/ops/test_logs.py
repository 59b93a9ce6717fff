"""The logs: one JSON line per request naming the merchant, the principal, the route, the
status and the duration — and no phone number, one-time code, key or token anywhere in them."""

import io
import json
import logging
import re

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from django_scopes import scopes_disabled

from kopilka.core.config import log_format
from kopilka.core.logs import JsonFormatter, Redact, redact
from kopilka.messaging import tasks
from tests.cashier.tools import at_counter

pytestmark = pytest.mark.django_db

NEW_PHONE = "+79995550002"


@pytest.fixture
def log():
    """Everything logged at INFO and above, as KOPILKA_LOG_FORMAT=json writes it."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(Redact())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield buffer
    root.removeHandler(handler)
    root.setLevel(level)


def post(client, url, body):
    return client.post(url, body, content_type="application/json")


def test_requests_are_logged_without_phones_codes_or_keys(alice, outbox, log):
    pos = alice.pos()
    # A look-up by phone in the query string, a code sent by SMS and entered, a wrong key.
    assert pos.get("/api/v1/pos/members/lookup", {"phone": "+79160000001"}).status_code == 200
    assert post(pos, "/api/v1/pos/codes", {"purpose": "registration",
                                            "phone": NEW_PHONE}).status_code == 202
    with scopes_disabled():
        tasks.deliver_due()
    code = re.search(r"\b(\d{6})\b", outbox[-1].body)[1]
    assert post(pos, "/api/v1/pos/members",
                {"phone": "8 999 555-00-02", "code": str((int(code) + 1) % 10**6).zfill(6)}
                ).status_code == 422
    assert post(pos, "/api/v1/pos/members", {"phone": NEW_PHONE, "code": code}).status_code == 201
    wrong_key = Client(headers={"Authorization": f"Bearer {alice.pos_key}x"})
    assert wrong_key.get("/api/v1/pos/terminal").status_code == 401
    manage = alice.manage()
    assert manage.get("/api/v1/manage/members", {"q": "9995550002"}).status_code == 200
    logging.getLogger("kopilka.test").warning("gateway said: bad number +7 916 000-00-01, "
                                              "key %s", alice.pos_key)

    text = log.getvalue()
    # kp_<kind>_<prefix>_<secret>; the secret is URL-safe base64 and may hold "_" itself.
    for needle in ("9160000001", "916 000-00-01", "9995550002", "999 555-00-02", code,
                   alice.pos_key, alice.pos_key.split("_", 3)[3], alice.token,
                   alice.token.split("_", 3)[3]):
        assert needle not in text, needle

    lines = [json.loads(line) for line in text.splitlines()]
    requests = [line for line in lines if line["logger"] == "kopilka.request"]
    assert [(line["method"], line["route"], line["status"]) for line in requests] == [
        ("GET", "api:lookup", 200), ("POST", "api:send_code", 202),
        ("POST", "api:register", 422), ("POST", "api:register", 201),
        ("GET", "api:whoami", 401), ("GET", "api:list_members", 200),
    ]
    lookup = requests[0]
    assert (lookup["merchant"], lookup["principal"], lookup["principal_id"]) == (
        alice.merchant.slug, "terminal", alice.terminal.pk)
    assert isinstance(lookup["duration_ms"], float)
    assert requests[4]["principal"] is None  # nobody got in
    assert (requests[5]["principal"], requests[5]["principal_id"]) == ("token", alice.owner.pk)
    assert lines[-1]["message"] == "gateway said: bad number [phone], key [key]"


def test_readable_lines_are_the_default():
    assert settings.LOG_FORMAT == "plain"
    assert log_format(None) == log_format(" ") == "plain"
    assert log_format("JSON") == "json"
    with pytest.raises(ImproperlyConfigured):
        log_format("xml")


@pytest.mark.parametrize(("text", "cleaned"), [
    ("to +79161234567 failed", "to [phone] failed"),
    ("to +7 916 123-45-67.", "to [phone]."),
    ("Authorization: Bearer abc.def", "Authorization: [key]"),
    ("key kp_mgt_1a2b_SECRET-part", "key [key]"),
    ("receipt 2026-000123 of 12:00", "receipt 2026-000123 of 12:00"),
])
def test_redact_masks_phones_and_keys_only(text, cleaned):
    assert redact(text) == cleaned


def test_a_cashier_at_a_counter_is_named_with_the_device(alice, log):
    at = at_counter(alice)
    assert at.client.get("/cashier/").status_code == 200
    line = [json.loads(line) for line in log.getvalue().splitlines()
            if '"kopilka.request"' in line][-1]
    assert (line["route"], line["merchant"], line["principal"], line["principal_id"],
            line["terminal_id"]) == ("cashier:home", alice.merchant.slug, "counter",
                                     at.staff.pk, at.terminal.pk)
