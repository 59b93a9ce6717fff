"""Shared fixtures: two merchants, alice and bob, each with an owner, a store, a terminal and a
member — the cheap way to prove that one tenant can never reach the other (healthchecks' habit).
"""

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.test import Client, override_settings
from django_scopes import scope, scopes_disabled

from kopilka.core.actor import Actor
from kopilka.members.models import Member
from kopilka.processing import services as processing
from kopilka.programs import services as programs
from kopilka.tenancy import services as tenancy
from kopilka.tenancy.models import Merchant, Staff, Terminal
from tests.shop import Shop

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

    # The API answers in the Accept-Language of the request (default: Russian); the tests'
    # clients ask for English so assertions on messages do not depend on the default.
    def pos(self, language: str = "en") -> Client:
        return Client(
            headers={"Authorization": f"Bearer {self.pos_key}", "Accept-Language": language}
        )

    def manage(self, language: str = "en") -> Client:
        return Client(
            headers={"Authorization": f"Bearer {self.token}", "Accept-Language": language}
        )


def make_tenant(name: str, email: str, phone: str) -> Tenant:
    actor = Actor.cli()
    created = tenancy.create_merchant(name, owner_email=email, actor=actor)
    merchant = created.merchant
    terminal, pos_key = tenancy.create_terminal(merchant, store_name="Main", actor=actor)
    with scope(merchant=merchant):
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
def shop(alice):
    """Alice's merchant as a `Shop` (tests/shop.py), inside its tenant scope."""
    with scope(merchant=alice.merchant):
        yield Shop(alice)


@pytest.fixture
def outbox():
    """Messages of both channels go to the in-memory backend; yields its list of sent ones."""
    from kopilka.messaging.backends import locmem

    backend = {"BACKEND": "kopilka.messaging.backends.locmem.LocmemBackend"}
    locmem.outbox.clear()
    with override_settings(MESSAGING={"sms": backend, "email": backend}):
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
