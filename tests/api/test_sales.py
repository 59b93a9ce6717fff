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


# --- receipt ids with a slash (#13 defect 1) ---------------------------------------------------


@pytest.mark.parametrize("receipt", ["0001/000123", "till 3/ 42/x", "a/refunds"])
def test_a_receipt_id_with_a_slash_is_refundable_by_its_url(pos, receipt):
    # Was: sold (201), then 404 at POST /pos/purchases/0001%2F000123/refunds.
    from urllib.parse import quote

    assert post(pos, "/api/v1/pos/purchases", sale(receipt_id=receipt)).status_code == 201
    url = f"/api/v1/pos/purchases/{quote(receipt, safe='')}/refunds"
    response = post(pos, url, {"refund_id": "r1", "lines": {"2": 40_000}})
    assert response.status_code == 201, response.content
    assert (response.json()["refund_id"], response.json()["points_reversed"]) == ("r1", 2_000)


def test_the_receipt_id_can_also_be_given_in_the_body(pos):
    # For any receipt id, and behind proxies that refuse an encoded slash in a path.
    assert post(pos, "/api/v1/pos/purchases", sale(receipt_id="0001/000124")).status_code == 201
    body = {"receipt_id": "0001/000124", "refund_id": "r1", "lines": {"2": 40_000}}
    response = post(pos, "/api/v1/pos/refunds", body)
    assert response.status_code == 201, response.content
    assert (response.json()["points_reversed"], response.json()["available"]) == (
        2_000, 1_000 + 3_000)
    again = post(pos, "/api/v1/pos/refunds", body)
    assert (again.status_code, again.json()["replayed"]) == (200, True)
    missing = post(pos, "/api/v1/pos/refunds", {**body, "receipt_id": "0001/999999"})
    assert missing.status_code == 404
    assert missing.json()["errors"][0]["field"] == "receipt_id"
    assert post(pos, "/api/v1/pos/refunds", {"refund_id": "r2"}).status_code == 422


# --- a zero-total purchase (#13 defect 9) ------------------------------------------------------


@pytest.mark.parametrize("url", ["/api/v1/pos/quote", "/api/v1/pos/purchases"])
def test_a_purchase_of_nothing_is_422_on_lines(pos, shop, url):
    # Was: 201, counted as the member's first purchase (and its first-purchase gift given).
    shop.program(welcome_bonus=1_000,
                 first_purchase_gift={"points": 300, "validity_days": 30})
    receipt = {} if url.endswith("quote") else {"receipt_id": "Z-1"}
    body = sale(**receipt, lines=[{"line_id": "1", "amount": 0}, {"line_id": "2", "amount": 0}])
    response = post(pos, url, body)
    assert response.status_code == 422, response.content
    assert response.json()["errors"] == [
        {"field": "lines", "message": "A purchase's total must be more than zero."}]
    with scopes_disabled():
        assert not Purchase.objects.exists()
        assert Account.objects.get(member__person__phone="+79995550001").purchase_count == 0
    # A free line beside a paid one is a purchase like any other.
    receipt = {} if url.endswith("quote") else {"receipt_id": "Z-2"}
    paid = sale(**receipt, lines=[{"line_id": "1", "amount": 0},
                                  {"line_id": "2", "amount": 10_000}])
    assert post(pos, url, paid).status_code in (200, 201)
