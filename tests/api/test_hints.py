"""Cashier hints (ENG-10) at the counter: codes with parameters, and words per language."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine

pytestmark = pytest.mark.django_db
NOON = datetime(2026, 6, 10, 9, 0, tzinfo=UTC)  # 12:00 in Moscow


@pytest.fixture
def member(shop):
    shop.program(
        activation_delay_days=14,
        welcome_bonus=1_000, welcome_validity_days=3,
        tiers=[
            {"code": "std", "name": "Standard", "accrual": {"kind": "percent", "percent": "5"}},
            {"code": "gold", "name": "Gold", "threshold": 1_000_000,
             "accrual": {"kind": "percent", "percent": "7"}},
        ],
    )
    with time_machine.travel(NOON, tick=False):
        member = shop.join(phone="+79995550101", birth_date=date(1990, 6, 10))
        shop.buy(member, 120_000)
    return member


def lookup(shop, language):
    with time_machine.travel(NOON + timedelta(hours=1), tick=False):
        response = shop.tenant.pos(language).get(
            "/api/v1/pos/members/lookup", {"phone": "+79995550101"}
        )
    assert response.status_code == 200
    return response.json()


def test_hints_carry_codes_and_numbers(shop, member):
    body = lookup(shop, "en")
    assert (body["available"], body["pending"]) == (1_000, 6_000)
    hints = {hint["code"]: hint["params"] for hint in body["hints"]}
    assert hints["amount_to_next_tier"] == {"tier_code": "gold", "tier_name": "Gold",
                                            "amount": 880_000}
    assert hints["points_expiring_soon"]["points"] == 1_000
    # valid through 13 June, gone at 00:00 on the 14th: four days from the 10th
    assert hints["points_expiring_soon"]["days_left"] == 4
    assert hints["pending_activation"]["points"] == 6_000
    assert "birthday_today" in hints


@pytest.mark.parametrize(
    ("language", "texts"),
    [
        ("en", ["Birthday today!", "8,800.00 more to reach Gold",
                "1000 points expire in 4 days", "6000 points become spendable on June 24, 2026"]),
        ("ru", ["Сегодня день рождения!", "До уровня Gold осталось 8\xa0800,00",
                "Через 4 дня сгорят баллы: 1000",
                "24 июня 2026 г. станут доступны баллы: 6000"]),
    ],
)
def test_hints_are_worded_in_the_requested_language(shop, member, language, texts):
    assert [hint["text"] for hint in lookup(shop, language)["hints"]] == texts
