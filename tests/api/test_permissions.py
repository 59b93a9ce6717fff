"""Every API operation declares its permission; a management write with a dead token is 401,
not a CSRF 403 (issue 13, defect 4), while a real session write still needs its CSRF token."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from django.utils.crypto import get_random_string
from django_scopes import scopes_disabled
from ninja import NinjaAPI

from kopilka.api.auth import ManagementToken, merchant_router, requires
from kopilka.core import clock
from kopilka.tenancy.access import PERMISSIONS
from kopilka.tenancy.models import ApiToken
from tests.api.test_tenant_sweep import api_routes

pytestmark = pytest.mark.django_db
WRITES = {"post", "put", "patch", "delete"}


def test_every_merchant_operation_declares_a_permission_of_the_table():
    # The SMS gateway's routes and accepting an invitation know no merchant's credentials;
    # nor do the operator's billing and the payment provider's notices (api/billing.py).
    declared = {route: permission for route, permission in api_routes().items()
                if not route[1].startswith(("/api/v1/inbound/", "/api/v1/invitations/",
                                            "/api/v1/operator/", "/api/v1/billing/"))}
    assert len(declared) == 87  # 78 + 5 of reviews + 4 promo codes
    assert {permission for permission in declared.values()} <= set(PERMISSIONS)


def test_an_operation_that_forgets_its_permission_stops_the_urlconf():
    router = merchant_router(tags=["T"], auth=ManagementToken())

    @router.get("/declared")
    @requires("read_setup")
    def declared(request):
        return {}

    @router.get("/forgotten")
    def forgotten(request):
        return {}

    api = NinjaAPI(urls_namespace="forgetful")
    api.add_router("", router)
    with pytest.raises(ImproperlyConfigured, match="forgotten declares no permission"):
        api.urls  # noqa: B018  (building the URLconf is the point)


def test_an_unknown_permission_fails_at_import():
    with pytest.raises(ValueError, match="unknown permission 'sell_everything'"):
        requires("sell_everything")


def management_writes():
    return [(method, path) for (method, path), permission in api_routes().items()
            if method in WRITES and path.startswith("/api/v1/manage/")]


@pytest.mark.parametrize("token", ["missing", "wrong", "revoked"])
def test_a_management_write_with_a_dead_token_is_401_not_a_csrf_403(alice, token):
    # Django's test client skips CSRF unless asked: a browser-less integration does not.
    if token == "revoked":
        with scopes_disabled():
            ApiToken.objects.filter(merchant=alice.merchant).update(revoked_at=clock.now())
    headers = {"Accept-Language": "en"}
    if token != "missing":
        headers["Authorization"] = "Bearer " + (alice.token if token == "revoked"
                                                else "kp_mgt_nope")
    client = Client(enforce_csrf_checks=True, headers=headers)
    wrong = []
    for method, path in management_writes():
        response = getattr(client, method)(path.replace("{", "").replace("}", ""), "{}",
                                           content_type="application/json")
        if (response.status_code, response["Content-Type"]) != (401,
                                                                 "application/problem+json"):
            wrong.append((method, path, response.status_code))
        else:
            assert response.json()["type"] == "/problems/unauthenticated"
    assert len(management_writes()) == 39  # 35 + answering and changing a review + 2 promo codes
    assert wrong == []


def test_a_session_write_still_needs_its_csrf_token(charlie):
    client = charlie.session(enforce_csrf_checks=True)
    token = get_random_string(32)
    client.cookies["csrftoken"] = token
    body = {"email": "x@example.com", "role": "cashier"}
    refused = client.post("/api/v1/manage/invitations", body, content_type="application/json")
    assert (refused.status_code, refused.json()["type"]) == (403, "/problems/http-error")
    # With the token the write gets through CSRF, and the role decides: a cashier is refused.
    forbidden = client.post("/api/v1/manage/invitations", body, content_type="application/json",
                            headers={"X-CSRFToken": token})
    assert (forbidden.status_code, forbidden.json()["type"]) == (403, "/problems/forbidden")
    assert forbidden.json()["detail"] == "Your role does not allow this."


def test_charlie_serves_members_with_his_session_and_his_token(charlie, alice):
    member = f"/api/v1/manage/members/{alice.member.pk}"
    for client in (charlie.session(), charlie.manage()):
        response = client.get(member)
        assert response.status_code == 200
        assert response.json()["phone"] != "+79160000001"  # a cashier sees phones masked
    assert alice.manage().get(member).json()["phone"] == "+79160000001"


@pytest.mark.parametrize(("role", "status"), [("owner", 200), ("admin", 200), ("manager", 403),
                                              ("cashier", 403)])
def test_as_role_gives_each_role_its_rights(alice, role, status):
    assert alice.as_role(role).get("/api/v1/manage/staff").status_code == status
