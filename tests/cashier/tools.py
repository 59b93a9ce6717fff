"""A browser counter in tests: a device signed in for a store, a cashier switched in on it.

`at_counter(tenant)` gives a Django test client that is what a tablet at the counter is after
the manager signed it in and the cashier entered their PIN: the device cookie and the session.
The sign-in screens themselves are tested in tests/cashier/test_signin.py."""

from dataclasses import dataclass

from django.http import HttpResponse
from django.test import Client
from django_scopes import scope

from kopilka.core.actor import Actor
from kopilka.tenancy import services as tenancy
from kopilka.tenancy.models import Staff, Terminal
from kopilka.web.cashier import counter
from tests.tenancy.tools import make_staff


@dataclass
class AtCounter:
    client: Client
    terminal: Terminal
    key: str  # the device's terminal key (what its cookie holds)
    staff: Staff


def device_cookie(key: str) -> str:
    """The cookie value `counter.remember_device` sets for `key`."""
    response = HttpResponse()
    counter.remember_device(response, key)
    return response.cookies[counter.DEVICE_COOKIE].value


def new_device(tenant, store_name: str = "Main", name: str = "Counter 1") -> tuple[Terminal, str]:
    return tenancy.create_terminal(tenant.merchant, store_name=store_name, name=name,
                                   kind=Terminal.Kind.BROWSER, actor=Actor.cli())


def at_counter(tenant, role: str = Staff.Role.CASHIER, *, email: str | None = None,
               language: str = "en", device: tuple[Terminal, str] | None = None) -> AtCounter:
    """A client at a new counter device of `tenant` (or `device`) with a new staff member of
    `role` switched in."""
    terminal, key = device or new_device(tenant)
    email = email or f"{role}-{terminal.pk}@{tenant.merchant.slug}.test"
    staff = make_staff(tenant.merchant, email, role)
    client = Client(headers={"Accept-Language": language})
    client.cookies[counter.DEVICE_COOKIE] = device_cookie(key)
    session = client.session
    session[counter.SESSION_KEY] = {"terminal": terminal.pk, "staff": staff.pk}
    session.save()
    with scope(merchant=tenant.merchant):
        staff.refresh_from_db()
    return AtCounter(client=client, terminal=terminal, key=key, staff=staff)
