"""Shared fixtures: two merchants, alice and bob, each with an owner, a store, a terminal and a
member — the cheap way to prove that one tenant can never reach the other (healthchecks' habit).
"""

from dataclasses import dataclass

import pytest
from django.test import Client
from django_scopes import scope, scopes_disabled

from kopilka.core.actor import Actor
from kopilka.members import services as members
from kopilka.members.models import Member
from kopilka.tenancy import services as tenancy
from kopilka.tenancy.models import Merchant, Staff, Terminal


@dataclass
class Tenant:
    merchant: Merchant
    owner: Staff
    owner_password: str
    token: str
    terminal: Terminal
    pos_key: str
    member: Member

    def pos(self) -> Client:
        return Client(headers={"Authorization": f"Bearer {self.pos_key}"})

    def manage(self) -> Client:
        return Client(headers={"Authorization": f"Bearer {self.token}"})


def make_tenant(name: str, email: str, phone: str) -> Tenant:
    actor = Actor.cli()
    created = tenancy.create_merchant(name, owner_email=email, actor=actor)
    merchant = created.merchant
    terminal, pos_key = tenancy.create_terminal(merchant, store_name="Main", actor=actor)
    with scope(merchant=merchant):
        member = members.register_member(
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
def unscoped():
    """For assertions that look across merchants on purpose."""
    with scopes_disabled():
        yield
