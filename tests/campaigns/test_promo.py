"""Promo codes (campaigns/promo.py): created by the owner through the management API, given
with a sale through the POS API; what they add, their limits, refunds, refusals."""

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from django_scopes import scope, scopes_disabled

from kopilka.campaigns import promo as promos
from kopilka.campaigns.models import PromoCode, PromoUse
from kopilka.core import clock
from kopilka.core.actor import Actor
from kopilka.core.errors import Conflict, InvalidInput
from kopilka.ledger.models import Account
from kopilka.members.models import Card
from kopilka.processing import services as processing
from kopilka.processing.models import Purchase
from kopilka.tenancy import services as tenancy

ACTOR = Actor.cli()
JSON = "application/json"


def make(tenant, code="DOUBLE", rule=None, **more):
    more.setdefault("starts_on", date(2020, 1, 1))
    with scope(merchant=tenant.merchant):
        return promos.create(tenant.merchant, code=code, rule=rule or {"multiply_accrual": 2},
                             actor=ACTOR, **more)


def card_of(member):
    with scopes_disabled():
        return Card.objects.get(member=member).number


def body(tenant, amount=100_000, receipt=None, member=None, **more):
    data = {"member": {"card": card_of(member or tenant.member)},
            "lines": [{"line_id": "1", "amount": amount}], **more}
    if receipt:
        data["receipt_id"] = receipt
    return data


def quote(tenant, amount=100_000, language="en", **more):
    return tenant.pos(language).post("/api/v1/pos/quote", body(tenant, amount, **more),
                                     content_type=JSON)


def buy(tenant, amount=100_000, receipt="R1", language="en", **more):
    return tenant.pos(language).post("/api/v1/pos/purchases",
                                     body(tenant, amount, receipt, **more), content_type=JSON)


def balance(member):
    with scopes_disabled():
        return Account.objects.get(member=member).available


def field_of(answer):
    assert answer["Content-Type"] == "application/problem+json", answer.content
    return [error["field"] for error in answer.json().get("errors") or []]


def another_member(tenant, phone="+79160000077"):
    with scope(merchant=tenant.merchant):
        return processing.enrol(tenant.merchant, phone=phone, actor=ACTOR, channel="cashier")


# --- what a code adds -----------------------------------------------------------------------


def test_double_on_1000_gives_100_points_instead_of_50(alice):
    make(alice, "COFFEE2X", name="Double points")
    plain = quote(alice).json()
    assert (plain["accrual_points"], plain["promo"]) == (5_000, None)
    with_code = quote(alice, promo_code=" coffee2x ")  # case and spaces do not matter
    assert with_code.status_code == 200, with_code.json()
    assert (with_code.json()["accrual_points"], with_code.json()["promo"]) == (
        10_000, {"code": "COFFEE2X", "points": 5_000})
    before = balance(alice.member)
    sold = buy(alice, promo_code="COFFEE2X")
    assert sold.status_code == 201, sold.json()
    assert (sold.json()["points_accrued"], sold.json()["promo"]) == (
        10_000, {"code": "COFFEE2X", "points": 5_000})
    assert balance(alice.member) == before + 10_000
    with scope(merchant=alice.merchant):
        use = PromoUse.objects.get()
        assert (use.points, use.member_id, use.store_id) == (5_000, alice.member.pk,
                                                              alice.terminal.store_id)
        assert PromoCode.objects.get().uses == 1


def test_a_product_group_code_and_fixed_points(alice):
    make(alice, "LATTE", rule={"multiply_accrual": "1.5", "product_groups": ["coffee"]})
    make(alice, "GIFT50", rule={"fixed_points": 5_000})
    lines = [{"line_id": "1", "amount": 40_000, "product_group": "coffee"},
             {"line_id": "2", "amount": 60_000, "product_group": "bakery"}]
    latte = alice.pos().post("/api/v1/pos/quote", {**body(alice), "lines": lines,
                                                   "promo_code": "LATTE"}, content_type=JSON)
    # coffee 400.00 at 7.5 % = 30.00, bakery 600.00 at 5 % = 30.00
    assert [line["accrual_points"] for line in latte.json()["lines"]] == [3_000, 3_000]
    assert latte.json()["lines"][0]["rules"] == ["promo:LATTE"]
    assert latte.json()["promo"] == {"code": "LATTE", "points": 1_000}
    bakery_only = alice.pos().post("/api/v1/pos/quote", {**body(alice), "lines": lines[1:],
                                                         "promo_code": "LATTE"},
                                   content_type=JSON)
    assert bakery_only.status_code == 422 and field_of(bakery_only) == ["promo_code"]
    assert "coffee" in bakery_only.json()["detail"]
    gift = quote(alice, 20_000, promo_code="GIFT50").json()
    assert (gift["accrual_points"], gift["promo"]["points"]) == (1_000 + 5_000, 5_000)


# --- refusals: a clear 4xx naming promo_code, nothing written -------------------------------


def test_minimum_check_500_refuses_499_99(alice):
    make(alice, "BIG", min_check=50_000)
    refused = quote(alice, 49_999, promo_code="BIG")
    assert refused.status_code == 422 and field_of(refused) == ["promo_code"]
    assert refused.json()["detail"] == ("The promo code BIG needs a check of at least "
                                        "RUB500.00.")
    before = balance(alice.member)
    not_sold = buy(alice, 49_999, promo_code="BIG")
    assert not_sold.status_code == 422 and field_of(not_sold) == ["promo_code"]
    with scopes_disabled():
        assert not Purchase.objects.filter(receipt_id="R1").exists()
        assert PromoUse.objects.count() == 0
    assert balance(alice.member) == before
    assert buy(alice, 50_000, promo_code="BIG").json()["points_accrued"] == 5_000


@pytest.mark.parametrize(("setup", "detail"), [
    ({}, "There is no promo code NOPE."),
    ({"starts_on": date(2099, 1, 1)}, "works from"),
    ({"starts_on": date(2020, 1, 1), "ends_on": date(2020, 12, 31)}, "ended on"),
])
def test_unknown_not_yet_and_expired_codes_are_422(alice, setup, detail):
    if setup:
        make(alice, "NOPE", **setup)
    answer = buy(alice, promo_code="NOPE")
    assert answer.status_code == 422 and field_of(answer) == ["promo_code"]
    assert detail in answer.json()["detail"]
    with scopes_disabled():
        assert not Purchase.objects.filter(receipt_id="R1").exists()


def test_a_switched_off_code_and_another_stores_code(alice):
    code = make(alice, "OFF")
    with scope(merchant=alice.merchant):
        promos.deactivate(code, actor=ACTOR)
        other, _key = tenancy.create_terminal(alice.merchant, store_name="Mall", actor=ACTOR)
    make(alice, "MALL", stores=[other.store])
    off = buy(alice, promo_code="OFF")
    assert off.status_code == 422 and "switched off" in off.json()["detail"]
    elsewhere = buy(alice, promo_code="MALL")
    assert elsewhere.status_code == 422 and "does not work in this store" in \
        elsewhere.json()["detail"]


def test_the_answer_is_in_the_callers_language(alice):
    make(alice, "BIG", min_check=50_000)
    ru = quote(alice, 49_999, language="ru", promo_code="BIG")
    uk = quote(alice, 49_999, language="uk", promo_code="NOPE")
    assert ru.json()["detail"] == "Промокод BIG действует для чека от 500,00\u00a0₽."
    assert uk.json()["detail"] == "Промокоду NOPE немає."


def test_a_blank_code_is_422_not_ignored(alice):
    answer = buy(alice, promo_code="   ")
    assert answer.status_code == 422 and field_of(answer) == ["promo_code"]


# --- limits ---------------------------------------------------------------------------------


def test_once_per_member(alice):
    make(alice, "ONCE", per_member=1)
    assert buy(alice, receipt="R1", promo_code="ONCE").status_code == 201
    again = buy(alice, receipt="R2", promo_code="ONCE")
    assert again.status_code == 409 and field_of(again) == ["promo_code"]
    assert again.json()["detail"] == ("This customer has used the promo code ONCE already "
                                      "(1 time is the most).")
    friend = another_member(alice)
    assert buy(alice, receipt="R3", member=friend, promo_code="ONCE").status_code == 201


def test_total_uses_limit_and_the_replay_of_the_last_use(alice):
    make(alice, "LAST", max_uses=1)
    first = buy(alice, receipt="R1", promo_code="LAST")
    assert first.status_code == 201
    # A retry of the same receipt answers the first result; the use it made does not refuse it.
    replay = buy(alice, receipt="R1", promo_code="LAST")
    assert (replay.status_code, replay.json()["replayed"], replay.json()["promo"]) == (
        200, True, {"code": "LAST", "points": 5_000})
    friend = another_member(alice)
    used_up = buy(alice, receipt="R2", member=friend, promo_code="LAST")
    assert used_up.status_code == 409 and field_of(used_up) == ["promo_code"]
    assert used_up.json()["detail"] == "The promo code LAST has been used up."
    with scopes_disabled():
        assert (PromoCode.objects.get().uses, PromoUse.objects.count()) == (1, 1)


def test_the_limit_is_checked_again_under_the_lock(alice):
    """The code checked before the sale may be used up by the time the sale commits: the
    subscriber's check refuses it and the whole sale rolls back."""
    code = make(alice, "RACE", max_uses=1)
    with scope(merchant=alice.merchant):
        offer = promos.for_sale(alice.merchant, "RACE", member=alice.member)
        PromoCode.objects.filter(pk=code.pk).update(uses=1)  # another till took the last use
        sale = processing.sale_from([{"line_id": "1", "amount": 100_000}], promo=offer)
        before = balance(alice.member)
        with pytest.raises(Conflict) as refused:
            processing.commit_purchase(alice.merchant, alice.member, sale, receipt_id="X",
                                       source="test", actor=ACTOR)
        assert refused.value.field == "promo_code"
        assert not Purchase.objects.filter(receipt_id="X").exists()
        assert balance(alice.member) == before


def test_a_code_refused_by_the_engine_at_the_commit_rolls_the_sale_back(alice):
    make(alice, "BIG", min_check=50_000)
    with scope(merchant=alice.merchant):
        offer = promos.for_sale(alice.merchant, "BIG", member=alice.member)
        sale = processing.sale_from([{"line_id": "1", "amount": 10_000}], promo=offer)
        with pytest.raises(InvalidInput) as refused:
            processing.commit_purchase(alice.merchant, alice.member, sale, receipt_id="Y",
                                       source="test", actor=ACTOR)
        assert refused.value.field == "promo_code"
        assert not Purchase.objects.filter(receipt_id="Y").exists()


# --- refunds --------------------------------------------------------------------------------


def test_a_full_refund_gives_a_single_use_back_and_a_partial_one_does_not(alice):
    make(alice, "ONCE", per_member=1)
    before = balance(alice.member)
    assert buy(alice, receipt="R1", promo_code="ONCE").status_code == 201
    pos = alice.pos()
    partial = pos.post("/api/v1/pos/purchases/R1/refunds", {"refund_id": "F1", "amount": 10_000},
                       content_type=JSON)
    assert partial.status_code == 201
    assert buy(alice, receipt="R2", promo_code="ONCE").status_code == 409  # still used
    whole = pos.post("/api/v1/pos/purchases/R1/refunds", {"refund_id": "F2"}, content_type=JSON)
    assert whole.status_code == 201
    # All 100.00 points of the sale (the code's 50.00 included) are taken back.
    assert balance(alice.member) == before
    listed = alice.manage().get("/api/v1/manage/promo-codes").json()[0]
    assert (listed["uses"], listed["returned"], listed["points"], listed["revenue"]) == (
        0, 1, 0, 0)
    again = buy(alice, receipt="R3", promo_code="ONCE")
    assert again.status_code == 201, again.json()
    with scopes_disabled():
        assert PromoCode.objects.get().uses == 1


# --- the management API ---------------------------------------------------------------------


def test_create_list_get_and_deactivate_through_the_api(alice):
    api = alice.manage()
    made = api.post("/api/v1/manage/promo-codes", {
        "code": "coffee2x", "name": "December", "rule": {"multiply_accrual": 2,
                                                         "product_groups": ["coffee"]},
        "starts_on": "2020-01-01", "store_ids": [alice.terminal.store_id], "per_member": 1,
        "max_uses": 100, "min_check": 30_000}, content_type=JSON)
    assert made.status_code == 201, made.json()
    promo = made.json()
    assert (promo["code"], promo["rule"], promo["store_ids"], promo["uses"]) == (
        "COFFEE2X", {"multiply_accrual": "2", "product_groups": ["coffee"]},
        [alice.terminal.store_id], 0)
    sold = buy(alice, 40_000, promo_code="COFFEE2X",
               lines=[{"line_id": "1", "amount": 40_000, "product_group": "coffee"}])
    assert sold.status_code == 201, sold.json()
    one = api.get(f"/api/v1/manage/promo-codes/{promo['id']}").json()
    assert (one["uses"], one["points"], one["revenue"]) == (1, 2_000, 40_000)
    twice = api.post("/api/v1/manage/promo-codes", {"code": "COFFEE2X", "rule": {
        "fixed_points": 1}, "starts_on": "2020-01-01"}, content_type=JSON)
    assert twice.status_code == 409 and field_of(twice) == ["code"]
    off = api.post(f"/api/v1/manage/promo-codes/{promo['id']}/deactivate")
    assert (off.status_code, off.json()["active"], off.json()["uses"]) == (200, False, 1)
    assert [row["code"] for row in api.get("/api/v1/manage/promo-codes").json()] == ["COFFEE2X"]


@pytest.mark.parametrize(("rule", "field"), [
    ({"multiply_accrual": 2, "add_percent": 1}, "rule"),
    ({"multiply_accrual": "abc"}, "rule.multiply_accrual"),
    ({"multiply_accrual": 1}, "rule"),
    ({}, "rule"),
])
def test_bad_rules_are_422_naming_the_field(alice, rule, field):
    answer = alice.manage().post("/api/v1/manage/promo-codes", {
        "code": "BAD", "rule": rule, "starts_on": "2020-01-01"}, content_type=JSON)
    assert answer.status_code == 422 and field_of(answer) == [field], answer.json()


@pytest.mark.parametrize("extra", [{"code": "a b"}, {"code": "ПРОМО"}, {"store_ids": [999999]},
                                   {"ends_on": "2019-01-01"}, {"min_check": -1},
                                   {"max_uses": 0}])
def test_bad_codes_are_422(alice, extra):
    answer = alice.manage().post("/api/v1/manage/promo-codes", {
        "code": "GOOD", "rule": {"fixed_points": 100}, "starts_on": "2020-01-01", **extra},
        content_type=JSON)
    assert answer.status_code == 422, answer.json()


def test_another_merchant_and_a_cashier(alice, bob, charlie):
    code = make(alice, "ALICE")
    assert bob.manage().get(f"/api/v1/manage/promo-codes/{code.pk}").status_code == 404
    assert bob.manage().post(
        f"/api/v1/manage/promo-codes/{code.pk}/deactivate").status_code == 404
    assert bob.manage().get("/api/v1/manage/promo-codes").json() == []
    # bob's till does not know alice's code (nor her member)
    make(bob, "BOBS")
    assert buy(bob, member=bob.member, promo_code="ALICE").status_code == 422
    cashier = charlie.manage()
    assert cashier.get("/api/v1/manage/promo-codes").status_code == 403
    assert cashier.post("/api/v1/manage/promo-codes", {
        "code": "MINE", "rule": {"fixed_points": 1}, "starts_on": "2020-01-01"},
        content_type=JSON).status_code == 403
    with scopes_disabled():
        assert PromoCode.objects.get(pk=code.pk).active


def test_stats_count_revenue_net_of_partial_refunds(alice):
    make(alice, "MANY")
    friend = another_member(alice)
    assert buy(alice, 100_000, receipt="R1", promo_code="MANY").status_code == 201
    assert buy(alice, 30_000, receipt="R2", member=friend, promo_code="MANY").status_code == 201
    assert buy(alice, 70_000, receipt="R3").status_code == 201  # without the code
    alice.pos().post("/api/v1/pos/purchases/R1/refunds", {"refund_id": "F1", "amount": 25_000},
                     content_type=JSON)
    with scope(merchant=alice.merchant):
        [stats] = promos.stats(alice.merchant, PromoCode.objects.all())
    assert (stats.uses, stats.returned, stats.points, stats.revenue) == (2, 0, 6_500, 105_000)


def test_dates_are_the_merchants_local_days(alice):
    today = clock.now().astimezone(ZoneInfo(alice.merchant.timezone)).date()
    make(alice, "TODAY", starts_on=today, ends_on=today)
    assert quote(alice, promo_code="TODAY").status_code == 200
    make(alice, "YESTERDAY", starts_on=today - timedelta(days=1),
         ends_on=today - timedelta(days=1))
    assert quote(alice, promo_code="YESTERDAY").status_code == 422
