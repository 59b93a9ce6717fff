"""GET /api/v1/manage/analytics/figures: the 17 figures as JSON, documented, tenant-isolated,
for owners, admins and managers; problems in the caller's language."""

import pytest
from django.test import Client

from tests.analytics.scenario import hand_made_shop
from tests.clients import MANAGE

pytestmark = pytest.mark.django_db
URL = MANAGE + "/analytics/figures"
MARCH = {"since": "2030-03-01", "until": "2030-03-07"}


def test_the_figures_of_a_period_beside_the_previous_one(shop, charlie):
    march = hand_made_shop(shop, charlie.staff)
    answer = shop.tenant.manage().get(URL, {**MARCH, "store": march["stores"]["second"].pk})
    assert answer.status_code == 200
    body = answer.json()
    assert {key: body[key] for key in ("period", "previous", "store", "cashier", "currency",
                                       "lost_after_days", "reviews_available")} == {
        "period": {"since": "2030-03-01", "until": "2030-03-07", "days": 7},
        "previous": {"since": "2030-02-22", "until": "2030-02-28", "days": 7},
        "store": march["stores"]["second"].pk, "cashier": None, "currency": "RUB",
        "lost_after_days": 90, "reviews_available": True,
    }
    by_key = {(row["key"], row["topic"]): row for row in body["figures"]}
    assert by_key["revenue", None] == {
        "number": 1, "key": "revenue", "unit": "money", "scope": "selection", "topic": None,
        "value": 72_000, "previous": 0, "change": 72_000, "change_percent": None}
    assert by_key["members_total", None] == {
        "number": 8, "key": "members_total", "unit": "count", "scope": "merchant",
        "topic": None, "value": 5, "previous": 3, "change": 2, "change_percent": 66.7}
    assert by_key["sms_cost", "receipt"]["value"] == 500
    assert by_key["winback_revenue", None]["value"] == 18_000
    assert sorted({row["number"] for row in body["figures"]}) == list(range(1, 18))


def test_another_merchants_store_or_cashier_is_404(alice, bob):
    client = alice.manage("ru")
    for query in ({"store": bob.terminal.store_id}, {"cashier": bob.owner.pk}):
        answer = client.get(URL, {**MARCH, **query})
        assert answer.status_code == 404
        assert answer["Content-Type"] == "application/problem+json"
        assert "Bob" not in answer.content.decode()


@pytest.mark.parametrize(("language", "detail"), [
    ("en", "The period must not end before it starts."),
    ("ru", "Период не может закончиться раньше, чем начался."),
    ("uk", "Період не може закінчитися раніше, ніж почався."),
])
def test_a_backward_period_is_a_problem_in_the_callers_language(alice, language, detail):
    answer = alice.manage(language).get(URL, {"since": "2030-03-07", "until": "2030-03-01"})
    assert answer.status_code == 422
    assert answer.json()["detail"] == detail


@pytest.mark.parametrize(("role", "status"), [("admin", 200), ("manager", 200),
                                              ("cashier", 403)])
def test_managers_read_the_figures_a_cashier_not(alice, role, status):
    assert alice.as_role(role).get(URL, MARCH).status_code == status


def test_the_operation_is_documented():
    document = Client().get("/api/v1/openapi.json").json()
    operation = document["paths"]["/api/v1/manage/analytics/figures"]["get"]
    assert operation["tags"] == ["Analytics"]
    assert {parameter["name"] for parameter in operation["parameters"]} == {
        "since", "until", "store", "cashier"}
    assert all(parameter.get("description") for parameter in operation["parameters"])
    figure = document["components"]["schemas"]["FigureOut"]["properties"]
    assert figure["change_percent"]["description"].startswith("The change in per cent")


@pytest.mark.parametrize(("query", "field"), [
    ({"until": "0"}, "until"),  # pydantic alone would read it as 1 January 1970
    ({"since": "2030-3-1"}, "since"),
    ({"since": "0001-01-01", "until": "2030-01-01"}, "since"),  # no period before it
    ({"until": "0001-01-01"}, "until"),
    ({"until": "9999-12-31"}, "until"),
    ({"store": "0"}, "store"),
])
def test_days_are_yyyy_mm_dd_within_reason(alice, query, field):
    answer = alice.manage().get(URL, query)
    assert answer.status_code == 422
    assert field in answer.content.decode()
