"""Password logins are throttled (django-axes, kopilka/tenancy/logins.py): after 10 failures for
an account, or from an address, within 15 minutes the right password is refused too, with a
message in the person's language and an audit entry, until 15 minutes pass."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.test import RequestFactory, override_settings
from django_scopes import scopes_disabled

from kopilka.core.models import AuditEntry
from kopilka.tenancy import logins

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
PASSWORD = "a-long-operator-password-7"
LOCKED = ("Too many failed sign-in attempts for this account or from this address. "
          "Try again in 15 min.")


def make_operator():
    return get_user_model().objects.create_user(
        username="op@kopilka.local", email="op@kopilka.local", password=PASSWORD,
        is_staff=True, is_superuser=True)


@pytest.fixture
def argon2_operator(db):
    """With the production hasher (argon2), as the first test runs it."""
    return make_operator()


@pytest.fixture
def operator(db, settings):
    """argon2 takes most of a second per login on a busy machine, and the throttle does not
    care how passwords are hashed."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return make_operator()


def login(client, username, password, ip="203.0.113.7", **headers):
    return client.post("/admin/login/?next=/admin/", {"username": username,
                       "password": password}, REMOTE_ADDR=ip, **headers)


def logged_in(response) -> bool:
    return response.status_code == 302 and response["Location"] == "/admin/"


def test_ten_wrong_passwords_lock_the_account_until_the_cool_off(client, argon2_operator):
    with time_machine.travel(NOW, tick=False) as traveller:
        for attempt in range(1, 10):
            response = login(client, "op@kopilka.local", f"wrong-{attempt}")
            assert response.status_code == 200  # the form again, with its usual error
        tenth = login(client, "op@kopilka.local", "wrong-10")
        assert tenth.status_code == 429
        right = login(client, "op@kopilka.local", PASSWORD, HTTP_ACCEPT_LANGUAGE="en")
        assert right.status_code == 429
        assert right["Retry-After"] == "900"
        assert LOCKED in right.content.decode()
        assert "_auth_user_id" not in client.session
        # Case and spaces do not make another account to guess at.
        assert login(client, " OP@Kopilka.LOCAL", PASSWORD).status_code == 429

        traveller.shift(timedelta(minutes=10))  # refused attempts do not prolong the lock
        later = login(client, "op@kopilka.local", PASSWORD, HTTP_ACCEPT_LANGUAGE="en")
        assert later.status_code == 429
        assert "Try again in 5 min." in later.content.decode()

        traveller.shift(timedelta(minutes=5, seconds=1))
        assert logged_in(login(client, "op@kopilka.local", PASSWORD))
    with scopes_disabled():
        entries = list(AuditEntry.objects.filter(action="auth.login_locked_out")
                       .order_by("id").values("actor_kind", "ip", "data"))
    assert len(entries) == 4  # the tenth failure, and the three refused attempts after it
    assert entries[0] == {"actor_kind": "system", "ip": "203.0.113.7", "data": {
        "username": "op@kopilka.local", "path": "/admin/login/", "failure_limit": 10}}


def test_the_lock_also_holds_from_another_address(client, operator):
    for attempt in range(10):
        login(client, "op@kopilka.local", f"wrong-{attempt}", ip="203.0.113.7")
    assert login(client, "op@kopilka.local", PASSWORD, ip="198.51.100.9").status_code == 429


def test_ten_failures_from_one_address_lock_that_address_for_every_account(client, operator):
    for attempt in range(10):  # ten made-up accounts, one guess each
        login(client, f"guess{attempt}@example.com", "wrong", ip="203.0.113.7")
    assert login(client, "op@kopilka.local", PASSWORD, ip="203.0.113.7").status_code == 429
    # The account itself is not locked: from elsewhere it logs in.
    assert logged_in(login(client, "op@kopilka.local", PASSWORD, ip="198.51.100.9"))


@pytest.mark.parametrize(("language", "message"), [
    ("ru", "Слишком много неудачных попыток входа для этой учётной записи или с этого адреса. "
           "Попробуйте снова через 15 мин."),
    ("uk", "Забагато невдалих спроб входу для цього облікового запису або з цієї адреси. "
           "Спробуйте знову через 15 хв."),
])
def test_the_lockout_message_comes_in_the_persons_language(client, operator, language,
                                                            message):
    with time_machine.travel(NOW, tick=False):
        for attempt in range(10):
            login(client, "op@kopilka.local", f"wrong-{attempt}")
        page = login(client, "op@kopilka.local", PASSWORD, HTTP_ACCEPT_LANGUAGE=language)
    assert page.status_code == 429
    assert message in page.content.decode()
    assert f'<html lang="{language}">' in page.content.decode()


def test_a_right_password_before_the_limit_resets_the_count(client, operator):
    for attempt in range(9):
        login(client, "op@kopilka.local", f"wrong-{attempt}")
    assert logged_in(login(client, "op@kopilka.local", PASSWORD))
    client.logout()
    for attempt in range(9):
        assert login(client, "op@kopilka.local", f"again-{attempt}").status_code == 200


def test_client_address_behind_the_proxy_is_the_entry_the_proxy_appended():
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2",
                                   HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.7")
    with override_settings(TRUST_X_FORWARDED_FOR=True):
        # 1.2.3.4 is whatever the client wrote; the proxy appended the address it saw.
        assert logins.client_ip(request) == "203.0.113.7"
        assert logins.client_ip(RequestFactory().get("/", REMOTE_ADDR="10.0.0.2")) == "10.0.0.2"
    with override_settings(TRUST_X_FORWARDED_FOR=False):
        assert logins.client_ip(request) == "10.0.0.2"
