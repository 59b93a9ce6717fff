"""What the tests use to call Kopilka as somebody: a client per credential, a management
client for a role of a merchant, JSON calls, and threads started at the same moment.

The tenants themselves (alice, bob, charlie) are fixtures in tests/conftest.py;
`Tenant.as_role(role)` there uses `client_as`.
"""

import threading

from django.db import connection
from django.test import Client
from django_scopes import scope

from kopilka.core.actor import Actor
from kopilka.tenancy import services as tenancy
from kopilka.tenancy.models import Staff
from tests.tenancy.tools import make_staff

MANAGE = "/api/v1/manage"
POS = "/api/v1/pos"


def bearer(key: str, language: str = "en", **kwargs) -> Client:
    """A client sending `key`. The API answers in the request's Accept-Language (default:
    Russian); tests ask for English so assertions on messages do not depend on the default."""
    return Client(headers={"Authorization": f"Bearer {key}", "Accept-Language": language},
                  **kwargs)


def client_as(tenant, role: str, email: str | None = None) -> tuple[Staff, Client]:
    """A new staff member of `tenant` with `role`, and a management client with their token."""
    staff = make_staff(tenant.merchant, email or f"{role}@{tenant.merchant.slug}.io", role)
    with scope(merchant=tenant.merchant):
        _token, key = tenancy.issue_api_token(staff, name="t", by=None, actor=Actor.cli())
    return staff, bearer(key)


def send(client, method: str, url: str, body=None, **headers):
    """A JSON call to the management API (`url` after /api/v1/manage)."""
    return getattr(client, method)(MANAGE + url, body, content_type="application/json",
                                   headers=headers or None)


def run_in_threads(count: int, work):
    """Start `count` threads at the same moment; collect what each returned or raised."""
    barrier = threading.Barrier(count)
    outcomes = [None] * count

    def runner(n):
        try:
            barrier.wait()
            outcomes[n] = work(n)
        except Exception as error:  # collected and asserted on by the test
            outcomes[n] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return outcomes
