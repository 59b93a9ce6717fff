"""Every route of the OpenAPI document, called with another merchant's credentials on alice's
objects, finds nothing (404), shows nothing of alice and changes nothing of alice's; called by
alice's cashier where the cashier's role lacks the operation's permission, it is refused (403)
and changes nothing.

Data-driven, like test_auth_sweep.py: the routes come from the live document and each one's
permission from its `@requires`, so a route added later is swept without a new test. A new
path parameter needs a value in `ids()` (the sweep fails naming it), and a new route whose
body is required needs one in `BODIES` (it fails with the 422 it gets instead).

The web faces (cashier workplace, cabinet, wallet) join this sweep when kopilka/web exists:
add a `web_routes()` beside `api_routes()` that walks `django.urls.get_resolver()` for their
namespaces, reads each view's declared permission the same way (`view.permission`), fills
`<int:...>` converters from `ids()`, and calls them with bob's and charlie's signed-in
sessions (`Clerk.session()`, with CSRF enforced) instead of keys; the expectations and the
`alice_rows` snapshot stay as they are.
"""

import itertools
import json
import re
from datetime import date

import pytest
from django.apps import apps
from django.db.models import ForeignKey
from django.test import Client

from kopilka.analytics import exports
from kopilka.api.urls import api
from kopilka.campaigns import promo as promos
from kopilka.campaigns import services as campaigns
from kopilka.core.actor import Actor
from kopilka.members.models import Card, Member
from kopilka.processing.models import Purchase, Refund
from kopilka.tenancy import access, invitations
from kopilka.tenancy.models import ApiToken, Merchant
from kopilka.webhooks import services as webhooks
from kopilka.webhooks.models import Delivery
from tests.feedback.helpers import member, rate, reviews_on
from tests.shop import Shop

pytestmark = pytest.mark.django_db

OPEN = {("get", "/api/v1/openapi.json"), ("get", "/api/v1/docs")}  # public by design
ACTOR = Actor.cli()
RECEIPT = "alice-sweep-receipt"
PARAM = re.compile(r"\{([^}]+)\}")
_keys = itertools.count(1)


def api_routes() -> dict[tuple[str, str], str | None]:
    """(method, path) of every operation in the OpenAPI document -> its declared permission
    (None: not a merchant's operation, e.g. the SMS gateway's inbound routes)."""
    declared = {}
    for prefix, router in api._routers:
        for path, view in router.path_operations.items():
            for operation in view.operations:
                for method in operation.methods:
                    # A path converter (`{path:receipt_id}`) is not in the document's path.
                    documented = re.sub(r"\{\w+:(\w+)\}", r"{\1}", f"/api/v1{prefix}{path}")
                    declared[method.lower(), documented] = getattr(
                        operation.view_func, "permission", None)
    schema = Client().get("/api/v1/openapi.json").json()
    routes = {(method, path): declared[method, path]
              for path, item in schema["paths"].items() for method in item
              if (method, path) not in OPEN}
    assert set(routes) == set(declared)  # the document and the routers agree
    return routes


@pytest.fixture
def world(alice, bob, charlie):
    """Alice with one object of every kind a path can name, and two members (transfers)."""
    merchant, pos = alice.merchant, alice.pos()
    card = Card.objects.get(member=alice.member).number
    answers = [
        pos.post("/api/v1/pos/members", {"phone": "+79160000011"},
                 content_type="application/json"),
        pos.post("/api/v1/pos/purchases", {"member": {"card": card}, "receipt_id": RECEIPT,
                                           "lines": [{"line_id": "1", "amount": 10_000}]},
                 content_type="application/json"),
        pos.post(f"/api/v1/pos/purchases/{RECEIPT}/refunds",
                 {"refund_id": "alice-sweep-refund", "amount": 1_000},
                 content_type="application/json"),
    ]
    assert [answer.status_code for answer in answers] == [201, 201, 201]
    second = Member.objects.get(merchant=merchant, person__phone="+79160000011")
    endpoint = webhooks.create_endpoint(merchant, url="https://alice.example.com/hook",
                                        events=["purchase.committed"], actor=ACTOR)
    delivery = webhooks.send_test(endpoint, actor=ACTOR)
    invitation = invitations.invite_staff(merchant, email="dana@example.com", role="cashier",
                                          by=None, actor=ACTOR).invitation
    campaign = campaigns.create_campaign(merchant, name="Sweep", starts_on=date(2020, 1, 1),
                                         points=10, actor=ACTOR)
    batch = campaigns.create_batch(campaign, count=5, length=8, actor=ACTOR)
    reviews_on(merchant)
    shop = Shop(alice)
    review = rate(shop, member(shop, "Vera"), 2, "Slow", store=alice.terminal.store)
    promo = promos.create(merchant, code="SWEEP", rule={"multiply_accrual": 2},
                          starts_on=date(2020, 1, 1), actor=ACTOR)
    return {
        "alice": alice, "bob": bob, "charlie": charlie, "second": second,
        "card": card, "second_card": Card.objects.get(member=second).number,
        "purchase": Purchase.objects.get(merchant=merchant, receipt_id=RECEIPT),
        "refund": Refund.objects.get(merchant=merchant, refund_id="alice-sweep-refund"),
        "endpoint": endpoint, "delivery": Delivery.objects.get(pk=delivery.pk),
        "token": ApiToken.objects.filter(merchant=merchant).first(),
        "invitation": invitation, "campaign": campaign, "batch": batch, "review": review,
        "promo": promo,
        "export": exports.start(merchant, kind="members", format="csv", phones=True,
                                language="en", actor=ACTOR),
    }


def ids(world) -> dict[str, object]:
    """A value of alice's for every path parameter of the API (the event, language and
    channel of a template are words every merchant shares, not objects)."""
    alice = world["alice"]
    return {
        "member_id": alice.member.pk, "number": world["card"],
        "store_id": alice.terminal.store_id, "terminal_id": alice.terminal.pk,
        "staff_id": world["charlie"].staff.pk, "token_id": world["token"].pk,
        "purchase_id": world["purchase"].pk, "receipt_id": RECEIPT,
        "refund_id": world["refund"].pk, "endpoint_id": world["endpoint"].pk,
        "delivery_id": world["delivery"].pk, "invitation_id": world["invitation"].pk,
        "campaign_id": world["campaign"].pk, "batch_id": world["batch"].pk,
        "export_id": world["export"].pk, "review_id": world["review"].pk,
        "promo_id": world["promo"].pk,
    }


SHARED_WORDS = {"event": "accrual", "language": "ru", "channel": "sms"}


def bodies(world) -> dict[tuple[str, str], dict]:
    """Valid bodies where a route requires one; those marked by `names_alice` name her objects
    in the body (or query), so bob must get 404 there too."""
    alice = world["alice"]
    line = [{"line_id": "1", "amount": 1_000}]
    member = {"card": world["card"]}
    return {
        ("post", "/manage/cards/{number}/replace"): {"new_number": "990001"},
        ("post", "/manage/members/{member_id}/adjustments"): {"points": 5, "reason": "sweep",
                                                              "key": "sweep"},
        ("post", "/manage/members/{member_id}/cards"): {"number": "990002"},
        ("put", "/manage/members/{member_id}/tags"): {"tags": ["sweep"]},
        ("put", "/manage/members/{member_id}/tier"): {"tier": None},
        ("put", "/manage/staff/{staff_id}/allowance"): {"points": 10},
        ("post", "/manage/staff/{staff_id}/tokens"): {"name": "sweep"},
        ("post", "/manage/invitations"): {"email": "sweep@example.com", "role": "cashier"},
        ("post", "/manage/stores"): {"name": "Sweep"},
        ("post", "/manage/terminals"): {"store": "Main"},
        ("post", "/manage/webhooks"): {"url": "https://sweep.example.com/",
                                       "events": ["purchase.committed"]},
        ("put", "/manage/program"): {"config": {}},
        ("post", "/manage/program/validate"): {"config": {}},
        ("put", "/manage/messages/settings"): {"transactional": "all", "quiet_from": "22:00",
                                               "quiet_to": "08:00"},
        ("put", "/manage/messages/billing"): {"transactional_when_empty": "send"},
        ("post", "/pos/purchases/{receipt_id}/refunds"): {"refund_id": "sweep-refund"},
        ("post", "/pos/refunds"): {"receipt_id": RECEIPT, "refund_id": "sweep-refund"},
        # these name alice's objects in the body
        ("post", "/manage/transfers"): {"from_member_id": alice.member.pk,
                                        "to_member_id": world["second"].pk, "points": 1,
                                        "key": "sweep"},
        ("post", "/pos/purchases"): {"member": member, "lines": line, "receipt_id": "sweep"},
        ("post", "/pos/quote"): {"member": member, "lines": line},
        ("post", "/pos/adjustments"): {"member": member, "cashier_id": alice.owner.pk,
                                       "points": 5, "reason": "sweep", "key": "sweep"},
        ("post", "/pos/transfers"): {"sender": member, "recipient": {"card": world["second_card"]},
                                     "points": 1, "key": "sweep"},
        ("post", "/pos/codes"): {"purpose": "spending", "member": member},
        ("get", "/pos/members/lookup"): {"card": world["card"]},
        ("get", "/manage/analytics/figures"): {"store": alice.terminal.store_id},
        ("post", "/manage/campaigns"): {"name": "Sweep", "points": 5,
                                        "starts_on": "2020-01-01"},
        ("post", "/manage/campaigns/{campaign_id}/batches"): {"count": 3},
        ("post", "/manage/promo-codes"): {"code": "BOBS", "rule": {"fixed_points": 1},
                                          "starts_on": "2020-01-01"},
        ("post", "/manage/analytics/exports"): {"kind": "members", "format": "csv"},
        ("post", "/manage/reviews/{review_id}/answers"): {"text": "Sorry"},
        ("patch", "/manage/reviews/{review_id}"): {"status": "processed"},
        ("get", "/manage/reviews"): {"store": alice.terminal.store_id},
        ("get", "/manage/reviews/quality"): {"cashier": alice.owner.pk},
    }


NAMES_ALICE_IN_BODY = {("post", "/manage/transfers"), ("post", "/pos/purchases"),
                       ("post", "/pos/quote"), ("post", "/pos/adjustments"),
                       ("post", "/pos/transfers"), ("post", "/pos/codes"),
                       ("get", "/pos/members/lookup"), ("post", "/pos/refunds"),
                       ("get", "/manage/analytics/figures"), ("get", "/manage/reviews"),
                       ("get", "/manage/reviews/quality")}


def alice_rows(merchant: Merchant) -> dict[str, list]:
    """Every row of every model that belongs to alice's merchant, and the merchant row: what
    the sweep must leave exactly as it was (when a key was last used is not a change)."""
    rows = {"merchant": list(Merchant.objects.filter(pk=merchant.pk).values())}
    for model in apps.get_models():
        field = next((f for f in model._meta.concrete_fields
                      if isinstance(f, ForeignKey) and f.name == "merchant"
                      and f.related_model is Merchant), None)
        if field is None:
            continue
        values = model._base_manager.filter(merchant=merchant).order_by("pk").values()
        rows[model._meta.label] = [{k: v for k, v in row.items() if k != "last_used_at"}
                                   for row in values]
    return rows


def call(client, method: str, path: str, world) -> object:
    values = ids(world)
    missing = [name for name in PARAM.findall(path)
               if name not in values and name not in SHARED_WORDS]
    assert not missing, f"add alice's value for {missing} of {path} to ids()"
    url = PARAM.sub(lambda m: str(values.get(m.group(1), SHARED_WORDS.get(m.group(1)))), path)
    short = path.removeprefix("/api/v1")
    body = bodies(world).get((method, short))
    if method == "get":
        return client.get(url, body or {})
    return getattr(client, method)(url, json.dumps(body or {}), content_type="application/json",
                                   headers={"Idempotency-Key": f"sweep-{next(_keys)}"})


# Alice's data that bob never sends (a 404 may echo the receipt id or card number he sent).
MARKERS = ("alice coffee", "alice-coffee", "alice@example.com", "charlie@example.com",
           "alice.example.com", "dana@example.com", "+79160000001", "+79160000011")


def assert_shows_nothing_of_alice(response, where):
    text = response.content.decode().lower()
    for marker in MARKERS:
        assert marker not in text, (where, marker, text[:300])


def test_the_sweep_sees_the_whole_api():
    routes = api_routes()
    assert len(routes) == 98  # 73 + 5 campaigns + 3 exports + 8 billing + 5 reviews + 4 promo codes
    merchant_routes = {route for route, permission in routes.items() if permission}
    # The operator's billing acts across merchants (tests/billing/test_operator.py).
    operator = "/api/v1/operator/billing"
    assert {route for route in routes if route not in merchant_routes} == {
        ("post", "/api/v1/inbound/sms"), ("post", "/api/v1/inbound/sms/status"),
        ("post", "/api/v1/invitations/accept"), ("post", "/api/v1/billing/payments"),
        ("get", f"{operator}/plans"), ("put", f"{operator}/plans/{{code}}"),
        ("get", f"{operator}/accounts"), ("get", f"{operator}/merchants/{{slug}}"),
        ("put", f"{operator}/merchants/{{slug}}/subscription"),
        ("post", f"{operator}/merchants/{{slug}}/top-ups"),
        ("get", f"{operator}/merchants/{{slug}}/statement")}


def test_bob_finds_nothing_of_alice_on_any_route(world, unscoped):
    alice, bob = world["alice"], world["bob"]
    before = alice_rows(alice.merchant)
    wrong = []
    for (method, path), permission in api_routes().items():
        if permission is None:
            continue  # the SMS gateway's routes know no merchant's credentials
        client = bob.pos() if path.startswith("/api/v1/pos/") else bob.manage()
        response = call(client, method, path, world)
        assert_shows_nothing_of_alice(response, (method, path))
        names_alice = bool(PARAM.search(path)) and not set(PARAM.findall(path)) <= set(
            SHARED_WORDS)
        if names_alice or (method, path.removeprefix("/api/v1")) in NAMES_ALICE_IN_BODY:
            if response.status_code != 404:
                wrong.append((method, path, response.status_code, response.content[:200]))
            else:
                assert response["Content-Type"] == "application/problem+json"
    assert wrong == []
    assert alice_rows(alice.merchant) == before


def test_charlie_the_cashier_is_refused_what_his_role_lacks(world, unscoped):
    alice, charlie = world["alice"], world["charlie"]
    cashier = access.Principal.for_token(
        ApiToken.objects.select_related("staff__user", "merchant").get(staff=charlie.staff))
    before = alice_rows(alice.merchant)
    refused, wrong = [], []
    for (method, path), permission in api_routes().items():
        if not path.startswith("/api/v1/manage/") or cashier.may(permission):
            continue  # the POS answers terminals only (test_auth_sweep); his own rights work
        response = call(charlie.manage(), method, path, world)
        if response.status_code == 403 and response.json()["type"] == "/problems/forbidden":
            refused.append((method, path))
        else:
            wrong.append((method, path, response.status_code, response.content[:200]))
    assert wrong == []
    assert len(refused) == 51  # every management operation beyond serving members and reading
    assert alice_rows(alice.merchant) == before
