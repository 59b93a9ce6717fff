"""The operator's ways in: the API (bearer token), the signed payment webhook, the CLI and
the Django admin."""

import hashlib
import hmac
import json

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from django_scopes import scope, scopes_disabled

from kopilka.billing import services
from kopilka.billing.models import Entry
from kopilka.core.models import AuditEntry
from tests.cli_tools import english_operator, run  # noqa: F401 (a fixture)

TOKEN = "operator-secret-0123456789"
SECRET = "webhook-secret-0123456789"
pytestmark = pytest.mark.usefixtures("_operator_settings")


@pytest.fixture
def _operator_settings():
    with override_settings(BILLING_OPERATOR_TOKEN=TOKEN, BILLING_WEBHOOK_SECRET=SECRET):
        yield


def operator() -> Client:
    return Client(headers={"Authorization": f"Bearer {TOKEN}", "Accept-Language": "en"})


def balance(tenant) -> int:
    with scope(merchant=tenant.merchant):
        return services.account(tenant.merchant).balance


def test_the_operator_api_defines_plans_subscribes_and_tops_up(alice, bob):
    api = operator()
    plan = {"code": "half-year", "name": "6 months", "months": 6, "monthly_price": 180_000,
            "discount_percent": 15}
    saved = api.put("/api/v1/operator/billing/plans/half-year", plan,
                    content_type="application/json")
    assert saved.status_code == 200
    assert saved.json()["period_price"] == 918_000
    assert [p["code"] for p in api.get("/api/v1/operator/billing/plans").json()] == ["half-year"]
    subscribed = api.put(f"/api/v1/operator/billing/merchants/{alice.merchant.slug}/subscription",
                         {"plan": "half-year", "start": "2026-12-01"},
                         content_type="application/json")
    assert subscribed.status_code == 200
    assert subscribed.json()["next_charge_on"] == "2026-12-01"
    url = f"/api/v1/operator/billing/merchants/{bob.merchant.slug}/top-ups"
    done = api.post(url, {"amount": 918_000, "note": "invoice 7", "payment_id": "bank-7"},
                    content_type="application/json")
    assert done.status_code == 201
    assert (done.json()["amount"], done.json()["balance_after"]) == (918_000, 918_000)
    again = api.post(url, {"amount": 918_000, "payment_id": "bank-7"},
                     content_type="application/json")
    assert again.status_code == 409
    assert again["Content-Type"] == "application/problem+json"
    bad = api.post(url, {"amount": 0}, content_type="application/json")
    assert bad.status_code == 422
    missing = api.post("/api/v1/operator/billing/merchants/nobody/top-ups", {"amount": 1},
                       content_type="application/json")
    assert missing.status_code == 404
    accounts = api.get("/api/v1/operator/billing/accounts").json()
    assert [(a["merchant"], a["balance"]) for a in accounts] == [(bob.merchant.slug, 918_000)]
    statement = api.get(f"/api/v1/operator/billing/merchants/{bob.merchant.slug}/statement",
                        {"start": "2026-01-01", "end": "2030-12-31"}).json()
    assert (statement["opening"], statement["payments"], statement["closing"]) == (
        0, 918_000, 918_000)
    assert Client().get("/api/v1/operator/billing/plans").status_code == 401
    wrong = Client(headers={"Authorization": "Bearer nope"})
    assert wrong.get("/api/v1/operator/billing/accounts").status_code == 401
    # A merchant's own management token is not the operator's.
    mine = Client(headers={"Authorization": f"Bearer {alice.token}"})
    assert mine.get("/api/v1/operator/billing/accounts").status_code == 401


@override_settings(BILLING_OPERATOR_TOKEN="")
def test_without_a_token_set_the_operator_api_is_closed(alice):
    assert Client(headers={"Authorization": "Bearer "}).get(
        "/api/v1/operator/billing/plans").status_code == 401


def signed(body: dict, secret: str = SECRET) -> tuple[bytes, str]:
    raw = json.dumps(body).encode()
    return raw, "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def test_a_signed_payment_notice_is_recorded_once(alice):
    raw, signature = signed({"merchant": alice.merchant.slug, "amount": 150_000,
                             "payment_id": "yk-42", "note": "card"})
    client = Client()
    first = client.post("/api/v1/billing/payments", raw, content_type="application/json",
                        headers={"X-Kopilka-Signature": signature})
    assert first.status_code == 201
    second = client.post("/api/v1/billing/payments", raw, content_type="application/json",
                         headers={"X-Kopilka-Signature": signature})
    assert second.status_code == 200 and second.json()["id"] == first.json()["id"]
    assert balance(alice) == 150_000
    _raw, forged = signed({"merchant": alice.merchant.slug, "amount": 150_000,
                           "payment_id": "yk-43"}, secret="guess")
    refused = client.post("/api/v1/billing/payments", raw.replace(b"yk-42", b"yk-43"),
                          content_type="application/json",
                          headers={"X-Kopilka-Signature": forged})
    assert refused.status_code == 401
    assert refused["Content-Type"] == "application/problem+json"
    raw, signature = signed({"merchant": alice.merchant.slug, "amount": -5, "payment_id": "x"})
    assert client.post("/api/v1/billing/payments", raw, content_type="application/json",
                       headers={"X-Kopilka-Signature": signature}).status_code == 422
    assert balance(alice) == 150_000
    with scopes_disabled():
        assert AuditEntry.objects.filter(action="billing.topped_up").count() == 1


@pytest.mark.usefixtures("english_operator")
def test_the_cli_tops_up(alice, capsys):
    code, out, err = run(["billing", "top-up", alice.merchant.slug, "918000", "--note", "inv 1",
                          "--payment-id", "bank-1"], capsys)
    assert (code, err) == (0, "")
    assert out == (f"Merchant: {alice.merchant.slug}\n"
                   "Topped up: 918000 (9180.00 RUB)\n"
                   "Balance:  918000 (9180.00 RUB)\n")
    code, _out, err = run(["billing", "top-up", alice.merchant.slug, "1", "--payment-id",
                           "bank-1"], capsys)
    assert (code, err) == (1, "kopilka: error: This payment is recorded already. (key)\n")
    code, _out, err = run(["billing", "top-up", alice.merchant.slug, "12.5"], capsys)
    assert code == 2 and "is not a whole number" in err


def test_the_operator_sees_balances_and_tops_up_in_the_admin(alice):
    user = get_user_model().objects.create_superuser("op", "op@example.com", "a-long-password-1")
    client = Client(headers={"Accept-Language": "en"})
    client.force_login(user)
    assert client.get("/admin/billing/account/top-up/").status_code == 200
    assert client.post("/admin/billing/account/top-up/",
                       {"merchant": alice.merchant.pk, "amount": "0"}).status_code == 200
    done = client.post("/admin/billing/account/top-up/",
                       {"merchant": alice.merchant.pk, "amount": "50000", "note": "wire 9"})
    assert done.status_code == 302
    assert balance(alice) == 50_000
    listed = client.get("/admin/billing/account/?debt=no")
    assert listed.status_code == 200 and b"RUB500.00" in listed.content
    added = client.post("/admin/billing/plan/add/", {
        "code": "daily", "name": "Daily", "kind": "daily", "months": "1", "monthly_price": "0",
        "discount_percent": "0", "daily_price": "6000", "active": "on"})
    assert added.status_code == 302
    for page in ("plan", "subscription", "entry"):
        assert client.get(f"/admin/billing/{page}/").status_code == 200
    with scopes_disabled():
        assert Entry.objects.get().actor == "admin:op"
        assert AuditEntry.objects.filter(action="billing.plan.saved").count() == 1
