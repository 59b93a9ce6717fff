"""Management API: trying a program configuration without saving it."""

import pytest
from django_scopes import scopes_disabled

from kopilka.core.models import AuditEntry
from kopilka.programs.models import Program
from tests.clients import client_as, send

pytestmark = pytest.mark.django_db
CONFIG = {
    "type": "bonus",
    "max_redeem_percent": "50",
    "activation_delay_days": 14,
    "birthday": {"extra_percent": "5", "days_before": 0, "days_after": 0},
    "tiers": [
        {"code": "base", "name": "Base", "accrual": {"kind": "percent", "percent": "5"}},
        {"code": "gold", "name": "Gold", "threshold": 1_000_000,
         "accrual": {"kind": "percent", "percent": "10"}},
    ],
    "rules": [{"code": "coffee", "name": "Coffee x2", "conditions": {"product_groups": ["coffee"]},
               "effects": {"multiply_accrual": 2}}],
}


def trial(client, body):
    return send(client, "post", "/program/validate", body)


def test_a_valid_configuration_without_a_basket(alice):
    response = trial(alice.manage(), {"config": CONFIG})
    assert response.status_code == 200
    body = response.json()
    assert (body["valid"], body["quote"]) == (True, None)
    assert body["config"]["tiers"][1]["threshold"] == 1_000_000
    assert body["config"]["expiry"] == {"mode": "none"}  # defaults filled in


def test_a_basket_is_quoted_as_the_configuration_would_and_nothing_is_saved(alice):
    basket = {
        "lines": [{"line_id": "1", "amount": 30_000, "product_group": "coffee"},
                  {"line_id": "2", "amount": 20_000}],
        "tier": "gold", "birthday": True, "points_to_spend": 10_000,
        "occurred_at": "2027-01-09T10:00:00+03:00",
    }
    response = trial(alice.manage(), {"config": CONFIG, "basket": basket})
    assert response.status_code == 200
    quote = response.json()["quote"]
    # Gold 10 % + birthday 5 % = 15 %, the coffee line x2 = 30 %; 10 000 points pay 100.00,
    # half of the check at most; the points are split 3:2 over the lines and accrual is on
    # what is paid in money: 0.30 x 24 000 + 0.15 x 16 000 = 7 200 + 2 400.
    assert {k: quote[k] for k in ("tier", "total", "max_redeem_points", "points_spent",
                                  "points_spent_money", "payable", "accrual_points",
                                  "in_birthday_window", "accrual_available_at")} == {
        "tier": "gold", "total": 50_000, "max_redeem_points": 25_000, "points_spent": 10_000,
        "points_spent_money": 10_000, "payable": 40_000, "accrual_points": 9_600,
        "in_birthday_window": True, "accrual_available_at": "2027-01-23T07:00:00Z",
    }
    assert [(line["line_id"], line["accrual_points"], line["rules"])
            for line in quote["lines"]] == [("1", 7_200, ["coffee"]), ("2", 2_400, [])]
    assert quote["lots"] == [{"points": 9_600, "available_at": "2027-01-23T07:00:00Z",
                              "expires_at": None}]
    with scopes_disabled():
        program = Program.objects.get(merchant=alice.merchant)
        assert (program.version, program.config["tiers"][0]["code"]) == (1, "standard")
        assert not AuditEntry.objects.filter(action="programs.program.saved",
                                             merchant=alice.merchant, data__version=2).exists()


def test_the_starting_tier_is_used_without_one(alice):
    basket = {"lines": [{"line_id": "1", "amount": 10_000}]}
    quote = trial(alice.manage(), {"config": CONFIG, "basket": basket}).json()["quote"]
    assert (quote["tier"], quote["accrual_points"], quote["in_birthday_window"]) == (
        "base", 500, False)


@pytest.mark.parametrize("body, field", [
    ({"config": {**CONFIG, "max_redeem_percent": "150"}}, "max_redeem_percent"),
    ({"config": {**CONFIG, "tiers": []}}, "tiers"),
    ({"config": CONFIG, "basket": {"lines": []}}, "basket.lines"),
    ({"config": CONFIG, "basket": {"lines": [{"line_id": "1", "amount": 1},
                                             {"line_id": "1", "amount": 2}]}}, "basket.lines"),
    ({"config": CONFIG, "basket": {"lines": [{"line_id": "1", "amount": 1}], "tier": "iron"}},
     "basket.tier"),
    ({"config": CONFIG, "basket": {"lines": [{"line_id": "1", "amount": True}]}},
     "basket.lines.0.amount"),
    ({"config": CONFIG, "basket": {"lines": [{"line_id": "1", "amount": 1}],
                                   "occurred_at": "2100-01-01T00:00:00Z"}},
     "basket.occurred_at"),
    ({"config": CONFIG, "basket": {"lines": [{"line_id": "1", "amount": 1}],
                                   "occurred_at": "2026-01-01T00:00:00"}},
     "basket.occurred_at"),
    ({"basket": None}, "config"),
])
def test_invalid_trials_are_422_naming_the_field(alice, body, field):
    response = trial(alice.manage(), body)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == field


def test_only_owners_and_admins_try_programs(alice):
    _manager, manager = client_as(alice, "manager")
    assert trial(manager, {"config": CONFIG}).status_code == 403
    _admin, admin = client_as(alice, "admin")
    assert trial(admin, {"config": CONFIG}).status_code == 200
