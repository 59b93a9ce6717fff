"""Query budgets of the POS hot path, asserted deterministically: the number of SQL
statements must not grow with the basket, the rules or the member's lots (no query per line,
per rule or per lot). Budgets from the API issue: look-up <= 4, quote <= 5, commit with
spending <= 14 (savepoints included: the test runs inside a transaction, so every
`atomic()` block costs a SAVEPOINT and a RELEASE that production does not pay), plus the one
upsert of the analytics roll-up (issue 17, docs/analytics.md): 15.

Each measured call follows a warm-up call, so the terminal's occasional `last_used_at`
update is not counted.
"""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def wednesday_afternoon():
    """The balances below are exact: outside the morning and weekend rules' hours, whenever
    the suite runs (a run at 09:00-12:00 in Moscow once saw double points)."""
    with time_machine.travel(datetime(2026, 11, 25, 15, 0, tzinfo=ZoneInfo("Europe/Moscow"))):
        yield

RULES = [
    {"code": "morning", "name": "9-12", "conditions": {"time_from": "09:00", "time_to": "12:00"},
     "effects": {"multiply_accrual": 2}},
    {"code": "weekend", "name": "weekend", "conditions": {"weekdays": [6, 7]},
     "effects": {"add_percent": 2}},
    {"code": "services", "name": "services", "conditions": {"product_groups": ["services"]},
     "effects": {"set_percent": 10, "max_redeem_percent": 50}},
    {"code": "accessories", "name": "accessories",
     "conditions": {"product_groups": ["accessories"]}, "effects": {"max_redeem_percent": 0}},
    {"code": "promo", "name": "promo", "conditions": {"skus": ["sku-3", "sku-9"]},
     "effects": {"fixed_points_per_check": 500, "points_validity_days": 14}},
    {"code": "card", "name": "card", "conditions": {"payment_methods": ["card"]},
     "effects": {"add_percent": "0.5"}},
    {"code": "vip", "name": "vip", "conditions": {"member_tags_any": ["vip"]},
     "effects": {"add_percent": 5}},
]
PHONE = "+79995550001"


@pytest.fixture
def pos(shop):
    shop.program(welcome_bonus=1_000, welcome_validity_days=30, max_redeem_percent="50",
                 expiry={"mode": "after_accrual", "days": 365}, rules=RULES)
    member = shop.join(phone=PHONE)
    for _ in range(12):  # a regular: a dozen lots, each with its own expiry date
        shop.buy(member, 20_000)
    client = shop.tenant.pos()
    client.get("/api/v1/pos/terminal")  # warm-up: the terminal's last_used_at is written now
    return client


def basket(size: int) -> list[dict]:
    groups = ["coffee", "services", "accessories"]
    return [{"line_id": str(n), "amount": 10_000 + n, "sku": f"sku-{n}",
             "product_group": groups[n % 3]} for n in range(size)]


def post(client, url, body):
    return client.post(url, body, content_type="application/json")


@pytest.mark.parametrize("how", [f"phone={PHONE.replace('+', '%2B')}", "card", "qr"])
def test_member_lookup_takes_at_most_4_queries(pos, shop, how, django_assert_max_num_queries):
    member = shop.join(phone="+79995550002")
    if how == "card":
        how = "card=" + member.cards.get().number
    elif how == "qr":
        how = "qr=" + member.qr_token
    else:
        member = None
    with django_assert_max_num_queries(4):
        response = pos.get(f"/api/v1/pos/members/lookup?{how}")
    assert response.status_code == 200
    assert response.json()["available"] == (13_000 if member is None else 1_000)


@pytest.mark.parametrize("lines", [1, 60])
def test_quote_takes_at_most_5_queries_whatever_the_basket(pos, lines,
                                                          django_assert_max_num_queries):
    with django_assert_max_num_queries(5):
        response = post(pos, "/api/v1/pos/quote", {
            "member": {"phone": PHONE}, "lines": basket(lines), "points_to_spend": 300,
        })
    assert response.status_code == 200, response.json()
    assert response.json()["points_spent"] == 300


@pytest.mark.parametrize("lines", [1, 60])
def test_commit_with_spending_takes_at_most_15_queries(pos, lines,
                                                       django_assert_max_num_queries):
    # 13 000 points in 13 lots of 1 000; spending 1 300 empties the welcome lot (the soonest to
    # expire) and takes 300 from the next one.
    with django_assert_max_num_queries(15):
        response = post(pos, "/api/v1/pos/purchases", {
            "member": {"phone": PHONE}, "lines": basket(lines), "points_to_spend": 1_300,
            "receipt_id": f"budget-{lines}",
        })
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["points_spent"], body["available"] - body["points_accrued"]) == (1_300, 11_700)
