"""The POS sale over HTTP: quote, commit (idempotent), refund — exact figures."""

import pytest
from django_scopes import scopes_disabled

from kopilka.ledger.models import Account
from kopilka.processing.models import Purchase

pytestmark = pytest.mark.django_db


@pytest.fixture
def pos(shop):
    shop.program(welcome_bonus=1_000, max_redeem_percent="50")
    shop.join(phone="+79995550001")
    return shop.tenant.pos()


def post(client, url, body):
    return client.post(url, body, content_type="application/json",
                       headers={"Accept-Language": "en"})


def sale(**extra):
    body = {"member": {"phone": "+79995550001"},
            "lines": [{"line_id": "1", "amount": 60_000, "product_group": "coffee"},
                      {"line_id": "2", "amount": 40_000}]}
    return {**body, **extra}


def test_quote_shows_accrual_and_limits_without_writing(pos):
    response = post(pos, "/api/v1/pos/quote", sale(points_to_spend=500))
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["total"], body["points_spent"], body["payable"]) == (100_000, 500, 99_500)
    assert body["max_redeem_points"] == 50_000  # 50 % of the check (the balance is 1 000)
    assert body["accrual_points"] == 4_975  # 5 % of 995.00
    with scopes_disabled():
        assert not Purchase.objects.exists()


def test_commit_then_replay(pos):
    first = post(pos, "/api/v1/pos/purchases", sale(receipt_id="A-1", points_to_spend=1_000))
    assert first.status_code == 201, first.json()
    body = first.json()
    assert (body["points_spent"], body["points_accrued"], body["available"]) == (1_000, 4_950,
                                                                                4_950)
    again = post(pos, "/api/v1/pos/purchases", sale(receipt_id="A-1", points_to_spend=1_000))
    assert again.status_code == 200
    assert again.json() == {**body, "replayed": True}


def test_refund_over_http(pos):
    post(pos, "/api/v1/pos/purchases", sale(receipt_id="A-2"))
    response = post(pos, "/api/v1/pos/purchases/A-2/refunds",
                    {"refund_id": "r1", "lines": {"2": 40_000}})
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["points_reversed"], body["available"]) == (2_000, 1_000 + 3_000)
    missing = post(pos, "/api/v1/pos/purchases/NOPE/refunds", {"refund_id": "r1"})
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (sale(points_to_spend=True), "points_to_spend"),
        (sale(points_to_spend="5"), "points_to_spend"),
        (sale(lines=[{"line_id": "1", "amount": 10.5}]), "lines.0.amount"),
        (sale(lines=[{"line_id": "1", "amount": -1}]), "lines.0.amount"),
        (sale(lines=[]), "lines"),
        (sale(member={}), "member"),
        (sale(occurred_at="yesterday"), "occurred_at"),
    ],
)
def test_bad_input_names_the_field(pos, body, field):
    response = post(pos, "/api/v1/pos/purchases", {**body, "receipt_id": "X"})
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert field in [error["field"] for error in response.json()["errors"]]
    with scopes_disabled():
        assert not Purchase.objects.exists()


def test_spending_too_much_is_409_and_changes_nothing(pos):
    response = post(pos, "/api/v1/pos/purchases", sale(receipt_id="A-3", points_to_spend=1_001))
    assert response.status_code == 409
    assert response.json()["errors"][0]["field"] == "points_to_spend"


def test_other_merchants_terminal_cannot_refund_or_sell_to_my_member(pos, bob):
    post(pos, "/api/v1/pos/purchases", sale(receipt_id="A-4"))
    client = bob.pos()
    assert post(client, "/api/v1/pos/purchases/A-4/refunds", {"refund_id": "x"}).status_code \
        == 404
    assert post(client, "/api/v1/pos/quote", sale()).status_code == 404


def test_a_tier_removed_from_the_program_reads_as_the_starting_tier(pos, shop):
    with scopes_disabled():
        Account.objects.filter(member__person__phone="+79995550001").update(tier_code="gone")
    quote = post(pos, "/api/v1/pos/quote", sale())
    assert quote.status_code == 200, quote.json()
    assert (quote.json()["tier"], quote.json()["accrual_points"]) == ("base", 5_000)
    card = pos.get("/api/v1/pos/members/lookup?phone=%2B79995550001").json()
    assert card["tier"] == "base"
    committed = post(pos, "/api/v1/pos/purchases", sale(receipt_id="T1"))
    assert (committed.json()["tier"], committed.json()["points_accrued"]) == ("base", 5_000)
