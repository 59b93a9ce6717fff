"""Shared fixtures: two merchants, alice and bob, each with an owner, a store, a terminal and a
member — the cheap way to prove that one tenant can never reach the other (healthchecks' habit) —
and charlie, alice's cashier, a lower role. `alice.as_role("manager")` gives a management
client for any role.

Fixtures that return (not yield) run with tenant scopes switched off (pretix's hook below), so
they set data up across merchants without scope plumbing; test bodies run scoped as the code
they test does (the `shop` fixture puts them in alice's scope, `unscoped` in none).
"""

import importlib.util
import inspect
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.http import HttpRequest
from django.test import Client, override_settings
from django_scopes import scope, scopes_disabled
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from kopilka.core.actor import Actor
from kopilka.members.models import Member
from kopilka.processing import services as processing
from kopilka.programs import services as programs
from kopilka.tenancy import services as tenancy
from kopilka.tenancy.models import Merchant, Staff, Terminal
from tests.clients import bearer, client_as
from tests.shop import Shop
from tests.tenancy.tools import PASSWORD as STAFF_PASSWORD
from tests.tenancy.tools import make_staff

# Property tests check results, not speed: Hypothesis's per-example deadline (200 ms) and its
# too-slow check are timed assertions, which a loaded CI machine failed at random.
hypothesis_settings.register_profile("kopilka", deadline=None,
                                     suppress_health_check=[HealthCheck.too_slow])
hypothesis_settings.load_profile("kopilka")


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef, request):
    """Non-yield fixtures run with tenant scopes off (pretix's src/tests/conftest.py): setting
    data up is not what the scopes guard. A yield fixture keeps the scope its test runs in."""
    if inspect.isgeneratorfunction(fixturedef.func):
        yield
    else:
        with scopes_disabled():
            yield

# In parallel by default, slow tests first, cheap password hashes: see tests/suite.py.
pytest_plugins = ["tests.suite"]


@dataclass
class Tenant:
    merchant: Merchant
    owner: Staff
    owner_password: str
    token: str
    terminal: Terminal
    pos_key: str
    member: Member
    _roles: dict[str, Client] = field(default_factory=dict, repr=False)

    # The API answers in the Accept-Language of the request (default: Russian); the tests'
    # clients ask for English so assertions on messages do not depend on the default.
    def pos(self, language: str = "en") -> Client:
        return bearer(self.pos_key, language)

    def manage(self, language: str = "en") -> Client:
        return bearer(self.token, language)

    def as_role(self, role: str) -> Client:
        """A management client of a staff member with `role` (made on first use; the owner's
        is `manage()`)."""
        if role == Staff.Role.OWNER:
            return self.manage()
        if role not in self._roles:
            _staff, self._roles[role] = client_as(self, role)
        return self._roles[role]


@dataclass
class Clerk:
    """A staff member of a tenant with their credentials: a management token and a password."""

    staff: Staff
    password: str
    token: str

    def manage(self, language: str = "en") -> Client:
        return bearer(self.token, language)

    def session(self, language: str = "en", **kwargs) -> Client:
        """A browser signed in with the password (a staff session)."""
        client = Client(headers={"Accept-Language": language}, **kwargs)
        # django-axes checks every authenticate() and needs a request to count failures by.
        assert client.login(request=HttpRequest(), username=self.staff.user.username,
                            password=self.password)
        return client


def make_tenant(name: str, email: str, phone: str) -> Tenant:
    actor = Actor.cli()
    created = tenancy.create_merchant(name, owner_email=email, actor=actor)
    merchant = created.merchant
    terminal, pos_key = tenancy.create_terminal(merchant, store_name="Main", actor=actor)
    programs.save_program(merchant, programs.DEFAULT_PROGRAM, actor=actor)
    member = processing.enrol(
        merchant, phone=phone, first_name=name, channel=Member.Channel.CASHIER, actor=actor
    )
    return Tenant(
        merchant=merchant, owner=created.owner, owner_password=created.owner_password,
        token=created.api_token, terminal=terminal, pos_key=pos_key, member=member,
    )


@pytest.fixture
def alice(db) -> Tenant:
    return make_tenant("Alice Coffee", "alice@example.com", "+79160000001")


@pytest.fixture
def bob(db) -> Tenant:
    return make_tenant("Bob Bakery", "bob@example.com", "+79160000002")


@pytest.fixture
def charlie(alice) -> Clerk:
    """Alice's cashier: may sell and serve members, not run the business."""
    actor = Actor.cli()
    staff = make_staff(alice.merchant, "charlie@example.com", Staff.Role.CASHIER)
    with scope(merchant=alice.merchant):
        _token, key = tenancy.issue_api_token(staff, name="charlie", by=None, actor=actor)
    return Clerk(staff=staff, password=STAFF_PASSWORD, token=key)


@pytest.fixture
def shop(alice):
    """Alice's merchant as a `Shop` (tests/shop.py), inside its tenant scope."""
    with scope(merchant=alice.merchant):
        yield Shop(alice)


@pytest.fixture
def outbox():
    """SMS and email go to the in-memory backend; yields its list of sent ones. Push keeps its
    real backend: only a person who subscribed gets one (tests/messaging/test_push.py)."""
    from django.conf import settings

    from kopilka.messaging.backends import locmem

    backend = {"BACKEND": "kopilka.messaging.backends.locmem.LocmemBackend"}
    locmem.outbox.clear()
    with override_settings(MESSAGING={"sms": backend, "email": backend,
                                      "push": settings.MESSAGING["push"]}):
        yield locmem.outbox
    locmem.outbox.clear()


@pytest.fixture
def unscoped():
    """For assertions that look across merchants on purpose."""
    with scopes_disabled():
        yield


def pytest_configure(config):
    """Recompile the translation catalogues when a .po is newer than its .mo.

    `pip install -e .` compiles them (build_hooks.py); this spares a reinstall after editing a
    .po. Runs once in the main process, before any xdist worker starts.
    """
    if hasattr(config, "workerinput"):
        return
    root = Path(__file__).resolve().parent.parent
    stale = [
        po for po in (root / "kopilka" / "locale").glob("*/LC_MESSAGES/*.po")
        if not po.with_suffix(".mo").exists()
        or po.with_suffix(".mo").stat().st_mtime < po.stat().st_mtime
    ]
    if stale:
        spec = importlib.util.spec_from_file_location("build_hooks", root / "build_hooks.py")
        build_hooks = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(build_hooks)
        build_hooks.compile_catalogues(root)
