"""Every operation of the OpenAPI document refuses a revoked or unknown key with 401, before
it reads or writes anything: the sweep walks the live schema, so an endpoint added later is
covered without a new test."""

import re

import pytest
from django.test import Client
from django_scopes import scopes_disabled

from kopilka.core import clock
from kopilka.tenancy.models import ApiToken, Terminal

pytestmark = pytest.mark.django_db

OPEN = {("get", "/api/v1/openapi.json"), ("get", "/api/v1/docs"),  # public by design
        ("post", "/api/v1/invitations/accept")}  # the invitation's key is the credential


def operations():
    client = Client()
    schema = client.get("/api/v1/openapi.json").json()
    for path, item in schema["paths"].items():
        for method in item:
            if (method, path) not in OPEN:
                yield method, path


def call(client, method, path):
    url = re.sub(r"\{[^}]+\}", "1", path)
    return getattr(client, method)(url, {} if method == "get" else "{}",
                                   content_type="application/json")


def test_the_sweep_sees_the_whole_api():
    found = set(operations())
    assert ("post", "/api/v1/pos/purchases") in found
    assert ("get", "/api/v1/manage/members") in found
    assert len(found) >= 25


@pytest.mark.parametrize("revoked", [True, False], ids=["revoked", "unknown"])
def test_every_operation_refuses_a_dead_key_with_401(alice, revoked):
    with scopes_disabled():
        if revoked:
            Terminal.objects.filter(pk=alice.terminal.pk).update(revoked_at=clock.now())
            ApiToken.objects.filter(merchant=alice.merchant).update(revoked_at=clock.now())
    keys = [alice.pos_key, alice.token] if revoked else ["kp_pos_00000000_x", "kp_mgt_nope"]
    refused = []
    for method, path in operations():
        for key in keys:
            client = Client(headers={"Authorization": f"Bearer {key}",
                                     "Accept-Language": "en"})
            response = call(client, method, path)
            if response.status_code != 401:
                refused.append((method, path, key[:6], response.status_code))
            else:
                assert response.json()["type"] == "/problems/unauthenticated"
    assert refused == []
