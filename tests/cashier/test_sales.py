"""Selling at the counter through the browser views: the sale with its live quote, points and
the spending code, refunds, grants and deductions by hand — exact figures, idempotency per
drawn form, every junk input a form error (422), another merchant's ids a 404.

The program (tests/shop.py): 5 % accrual, points with 2 decimals worth 1 kopeck each, so a
1 500,00 ₽ sale earns 75,00 points (7500 minor units)."""

import re

import pytest
from django_scopes import scopes_disabled

from kopilka.core.actor import Actor
from kopilka.members import services as members
from kopilka.messaging import tasks
from kopilka.processing import manual
from kopilka.processing.models import Adjustment, Allowance, Purchase, Refund
from kopilka.tenancy.models import Staff
from kopilka.web.cashier.views.sales import to_minor
from tests.cashier.tools import at_counter

pytestmark = pytest.mark.django_db
HX = {"HX-Request": "true"}


@pytest.fixture
def member(shop):
    shop.program(max_redeem_percent="50")
    return shop.join(phone="+79990000011", first_name="Olga")


@pytest.fixture
def counter(alice):
    return at_counter(alice)


def url(name: str, pk: int) -> str:
    return {"sale": f"/cashier/members/{pk}/sale/", "quote": f"/cashier/members/{pk}/sale/quote/",
            "code": f"/cashier/members/{pk}/sale/code/",
            "refund": f"/cashier/purchases/{pk}/refund/",
            "adjust": f"/cashier/members/{pk}/adjust/"}[name]


def receipt_of(response) -> str:
    return response.context["form"]["receipt"].value()


def sell(counter, member, receipt="W-TEST-1", **fields):
    body = {"amount": "1500", "payment": "card", "receipt": receipt, **fields}
    return counter.client.post(url("sale", member.pk), body, headers=HX)


def errors(response) -> dict:
    return {name: list(errs) for name, errs in response.context["form"].errors.items()}


# --- typed figures ----------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "minor"), [
    ("1500", 150000), ("1 500,50", 150050), ("1\u00a0500,5", 150050), ("1,500.50", 150050),
    ("1.500,50", 150050), ("1500.5", 150050), ("0,99", 99), ("1,500", 150000), ("1500,", 150000),
    ("+7", 700),
])
def test_money_as_typed_becomes_minor_units(text, minor):
    assert to_minor(text, 2) == minor


@pytest.mark.parametrize("text", ["abc", "1e5", "15OO", "1,50,0", "1500.555", "--1", "1 5 0 0x",
                                  "١٥٠٠"])
def test_money_that_is_no_number_is_refused(text):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        to_minor(text, 2)


# --- the sale ---------------------------------------------------------------------------------


def test_the_sale_form_has_a_receipt_id_of_this_device_and_the_amount_first(counter, member):
    response = counter.client.get(url("sale", member.pk))
    assert response.status_code == 200
    receipt = receipt_of(response)
    assert re.fullmatch(rf"W-{counter.terminal.pk}-\d{{6}}-[2-9A-Z]{{8}}", receipt)
    assert receipt != receipt_of(counter.client.get(url("sale", member.pk)))  # one per render
    html = response.content.decode()
    assert re.search(r'<input[^>]*name="amount"[^>]*autofocus', html)
    assert 'hx-trigger="input delay:300ms from:#sale-form"' in html
    assert "Olga" in html


def test_the_live_quote_of_1500_earns_75_points(counter, member):
    response = counter.client.post(url("quote", member.pk),
                                   {"amount": "1 500,00", "payment": "card"}, headers=HX)
    assert response.status_code == 200
    quote = response.context["quote"]
    assert (quote.total, quote.payable, quote.accrual_points) == (150000, 150000, 7500)
    html = response.content.decode()
    assert "RUB1,500.00" in html and "+75\u00a0bonuses" in html
    assert "<html" not in html  # only the panel


def test_paying_100_points_lowers_the_sum_by_100_roubles(counter, member, shop):
    shop.buy(member, 200_000)  # 100,00 points
    response = counter.client.post(url("quote", member.pk),
                                   {"amount": "1500", "points": "100", "payment": "cash"},
                                   headers=HX)
    quote = response.context["quote"]
    assert (quote.points_spent, quote.points_spent_money, quote.payable) == (10000, 10000, 140000)
    assert quote.accrual_points == 7000  # the part paid with points earns nothing
    assert response.context["max_points"] == 10000  # all the member has (the cap is 750)
    assert 'data-max-points="100"' in response.content.decode()


def test_the_quote_warns_of_more_points_than_can_be_paid(counter, member, shop):
    shop.buy(member, 200_000)  # 100 points
    response = counter.client.post(
        url("quote", member.pk), {"amount": "1500", "points": "150", "payment": "card"},
        headers=HX)
    assert response.context["too_many_points"]
    assert response.context["quote"].points_spent == 10000  # what a commit would refuse
    assert "at most 100\u00a0bonuses" in response.content.decode()


def test_the_quote_of_junk_says_nothing_and_never_fails(counter, member):
    for amount in ["", "abc", "-5", "9" * 40]:
        response = counter.client.post(url("quote", member.pk), {"amount": amount}, headers=HX)
        assert response.status_code == 200
        assert response.context["quote"] is None


def test_a_sale_of_1500_accrues_75_points(counter, member, shop):
    response = sell(counter, member)
    assert response.status_code == 200
    purchase = Purchase.objects.get()
    assert (purchase.total, purchase.points_accrued, purchase.payment_method) == (150000, 7500,
                                                                                  "card")
    assert (purchase.terminal, purchase.store, purchase.cashier) == (
        counter.terminal, counter.terminal.store, counter.staff)
    assert purchase.receipt_id == "W-TEST-1"
    assert shop.balance(member) == (7500, 0)
    html = response.content.decode()
    assert "Receipt W-TEST-1" in html and "+75\u00a0bonuses" in html
    assert 'href="/cashier/"' in html  # back to the search


def test_paying_with_points_at_the_commit(counter, member, shop):
    shop.buy(member, 200_000)
    response = sell(counter, member, points="100", payment="cash")
    assert response.status_code == 200
    purchase = Purchase.objects.get(receipt_id="W-TEST-1")
    assert (purchase.points_spent, purchase.points_accrued) == (10000, 7000)
    assert response.context["payable"] == 140000
    assert shop.balance(member) == (7000, 0)  # 100 spent, 70 earned


def test_a_double_post_of_one_receipt_is_one_purchase(counter, member, shop):
    first = sell(counter, member)
    second = sell(counter, member)
    assert first.status_code == second.status_code == 200
    assert Purchase.objects.filter(receipt_id="W-TEST-1").count() == 1
    assert not first.context["result"].replayed
    assert second.context["result"].replayed
    assert "recorded already" in second.content.decode()
    assert shop.balance(member) == (7500, 0)


def test_the_same_receipt_with_other_contents_is_refused(counter, member):
    sell(counter, member)
    response = sell(counter, member, amount="20")
    assert response.status_code == 422
    assert errors(response) == {
        "__all__": ["This receipt was already recorded with different contents."]}
    assert Purchase.objects.count() == 1


@pytest.mark.parametrize(("amount", "message"), [
    ("abc", "Enter a number such as 1500 or 1500.50."),
    ("-5", "Cannot be negative."),
    ("0", "Enter the amount of the sale."),
    ("", "Enter the amount of the sale."),
    ("99999999999999999999", "This number is too large."),
    ("1" * 300, "This number is too large."),
])
def test_junk_amounts_are_form_errors_and_nothing_is_sold(counter, member, amount, message):
    response = sell(counter, member, amount=amount)
    assert response.status_code == 422
    assert errors(response) == {"amount": [message]}
    assert response.context["form"]["receipt"].value() == "W-TEST-1"  # the same sale, retried
    assert not Purchase.objects.exists()


def test_more_points_than_allowed_is_a_form_error_in_points_as_shown(counter, member, shop):
    shop.buy(member, 200_000)  # 100 points
    response = sell(counter, member, points="150")
    assert response.status_code == 422
    assert errors(response) == {
        "points": ["At most 100\u00a0bonuses can be paid with points on this check."]}
    assert Purchase.objects.count() == 1  # the one that gave the points


def test_junk_in_the_other_fields(counter, member):
    response = sell(counter, member, points="lots", payment="bitcoin", receipt="")
    assert response.status_code == 422
    assert set(errors(response)) == {"points", "payment", "receipt"}
    assert not Purchase.objects.exists()


def test_an_erased_member_cannot_buy(counter, member):
    members.erase_member(member, actor=Actor.cli())
    response = sell(counter, member)
    assert response.status_code == 422
    assert errors(response) == {
        "__all__": ["This member's card is blocked or has left the program."]}
    assert not Purchase.objects.exists()


def test_split_by_product_group_earns_the_group_rule(counter, shop):
    shop.program(rules=[{"code": "coffee", "name": "Coffee x2",
                         "conditions": {"product_groups": ["coffee"]},
                         "effects": {"multiply_accrual": "2"}}])
    member = shop.join(phone="+79990000012")
    page = counter.client.get(url("sale", member.pk))
    assert 'name="group_1"' in page.content.decode()
    response = sell(counter, member, amount="1000", group_1="400")
    assert response.status_code == 200
    purchase = Purchase.objects.get()
    lines = sorted((line.product_group, line.amount, line.accrual)
                   for line in purchase.lines.all())
    assert lines == [("", 60000, 3000), ("coffee", 40000, 4000)]  # 5 % and 10 %
    assert purchase.points_accrued == 7000
    response = sell(counter, member, receipt="W-TEST-2", amount="300", group_1="400")
    assert errors(response) == {
        "amount": ["The product groups add up to more than the amount."]}


def test_spending_needs_the_code_sent_to_the_customer(counter, shop, outbox):
    shop.program(welcome_bonus=10_000, redeem_requires_code=True)
    member = shop.join(phone="+79990000013")
    page = counter.client.get(url("sale", member.pk)).content.decode()
    assert "data-code-field" in page
    response = sell(counter, member, points="50")
    assert response.status_code == 422
    assert errors(response) == {
        "code": ["Enter the one-time code sent to the customer's phone."]}
    sent = counter.client.post(url("code", member.pk), headers=HX)
    assert sent.status_code == 200
    assert "Code sent to +7999***0013" in sent.content.decode()
    with scopes_disabled():
        tasks.deliver_due()
    code = re.search(r"\d{6}", outbox[-1].body)[0]
    response = sell(counter, member, points="50", code=code)
    assert response.status_code == 200
    assert Purchase.objects.get().points_spent == 5000


def test_too_many_codes_is_a_message_not_a_failure(counter, shop, outbox):
    shop.program(welcome_bonus=10_000, redeem_requires_code=True)
    member = shop.join(phone="+79990000014")
    counter.client.post(url("code", member.pk), headers=HX)
    again = counter.client.post(url("code", member.pk), headers=HX)
    assert again.status_code in (409, 429)
    assert "data-toast" in again.content.decode()


def test_messages_in_the_cashiers_language(alice, member):
    counter = at_counter(alice, language="ru")
    response = sell(counter, member, amount="abc")
    assert errors(response) == {"amount": ["Введите число, например 1500 или 1 500,50."]}


def test_a_discount_program_has_no_points_to_pay_with(counter, shop):
    shop.program(type="discount", tiers=[{"code": "base", "name": "Base",
                                          "discount": {"kind": "percent", "percent": "10"}}])
    member = shop.join(phone="+79990000016")
    assert 'name="points"' not in counter.client.get(url("sale", member.pk)).content.decode()
    response = sell(counter, member, points="100")  # ignored: there is no such field
    assert response.status_code == 200
    purchase = Purchase.objects.get()
    assert (purchase.discount, purchase.points_spent, purchase.points_accrued) == (15000, 0, 0)
    assert response.context["payable"] == 135000


# --- refunds ----------------------------------------------------------------------------------


@pytest.fixture
def purchase(counter, member):
    sell(counter, member)  # 1500 earning 75 points
    return Purchase.objects.get()


def refund(counter, purchase, refund_id="RF-1", **fields):
    return counter.client.post(url("refund", purchase.pk),
                               {"refund_id": refund_id, **fields}, headers=HX)


def test_the_refund_form_shows_what_can_be_refunded(counter, purchase):
    response = counter.client.get(url("refund", purchase.pk))
    assert response.status_code == 200
    assert re.fullmatch(rf"RF-{counter.terminal.pk}-\d{{6}}-[2-9A-Z]{{8}}",
                        response.context["form"]["refund_id"].value())
    assert response.context["refundable"] == 150000


def test_refunding_half_takes_back_half_of_the_points(counter, purchase, member, shop):
    response = refund(counter, purchase, mode="amount", amount="750")
    assert response.status_code == 200
    row = Refund.objects.get()
    assert (row.amount, row.points_reversed, row.points_returned) == (75000, 3750, 0)
    assert shop.balance(member) == (3750, 0)
    assert response.context["result"].available == 3750
    again = refund(counter, purchase, mode="amount", amount="750")  # a retry: the same refund
    assert again.context["result"].replayed
    assert Refund.objects.count() == 1


def test_refunding_the_whole_returns_spent_points(counter, member, shop):
    shop.buy(member, 200_000)  # 100 points
    sell(counter, member, points="100")
    purchase = Purchase.objects.get(receipt_id="W-TEST-1")
    response = refund(counter, purchase, mode="whole")
    assert response.status_code == 200
    row = Refund.objects.get()
    # The part paid with points is refunded as money too: the whole check, 1 500.
    assert (row.amount, row.points_reversed, row.points_returned) == (150000, 7000, 10000)
    assert shop.balance(member) == (10000, 0)
    assert "This purchase has been refunded in full." in counter.client.get(
        url("refund", purchase.pk)).content.decode()


def test_refunding_by_lines(counter, shop):
    shop.program(rules=[{"code": "coffee", "name": "Coffee x2",
                         "conditions": {"product_groups": ["coffee"]},
                         "effects": {"multiply_accrual": "2"}}])
    member = shop.join(phone="+79990000015")
    sell(counter, member, amount="1000", group_1="400")
    purchase = Purchase.objects.get()
    coffee = purchase.lines.get(product_group="coffee")
    response = refund(counter, purchase, mode="lines", **{f"line_{coffee.line_id}": "400"})
    assert response.status_code == 200
    assert Refund.objects.get().points_reversed == 4000  # the coffee line's 10 %
    assert shop.balance(member) == (3000, 0)


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"mode": "amount", "amount": "2000"}, "amount", "At most RUB1,500.00 can be refunded."),
    ({"mode": "amount", "amount": "x"}, "amount", "Enter a number such as 1500 or 1500.50."),
    ({"mode": "amount", "amount": ""}, "amount", "Enter the amount to refund."),
    ({"mode": "nonsense"}, "mode",
     "Select a valid choice. nonsense is not one of the available choices."),
])
def test_junk_refunds_are_form_errors(counter, purchase, fields, field, message):
    response = refund(counter, purchase, **fields)
    assert response.status_code == 422
    assert errors(response) == {field: [message]}
    assert not Refund.objects.exists()


# --- grants and deductions by hand ------------------------------------------------------------


def adjust(counter, member, key="A-1", **fields):
    body = {"direction": "grant", "points": "10", "reason": "Spilled coffee", "key": key,
            **fields}
    return counter.client.post(url("adjust", member.pk), body, headers=HX)


def allow(alice, counter, points: int):
    manual.set_allowance(alice.merchant, staff=counter.staff, points=points, by=alice.owner,
                         actor=Actor.cli())


def test_a_grant_within_the_allowance(alice, counter, member, shop):
    allow(alice, counter, 5000)
    page = counter.client.get(url("adjust", member.pk))
    assert "You may grant up to 50\u00a0bonuses more" in page.content.decode()
    response = adjust(counter, member)
    assert response.status_code == 200
    assert "Granted 10\u00a0bonuses." in response.content.decode()
    assert shop.balance(member) == (1000, 0)
    assert Allowance.objects.get(staff=counter.staff).remaining == 4000
    again = adjust(counter, member)  # a double click: the same change
    assert again.context["done"].replayed
    assert Adjustment.objects.count() == 1
    assert response.context["form"]["key"].value() != "A-1"  # the next change gets a new key


def test_a_grant_beyond_the_allowance_is_a_form_error_and_writes_nothing(alice, counter,
                                                                           member, shop):
    allow(alice, counter, 500)
    response = adjust(counter, member, points="10")
    assert response.status_code == 422
    assert errors(response) == {
        "points": ["Your allowance has 5\u00a0bonuses left. Ask a manager for more."]}
    assert not Adjustment.objects.exists()
    assert shop.balance(member) == (0, 0)
    assert Allowance.objects.get(staff=counter.staff).remaining == 500


def test_a_deduction(counter, member, shop):
    shop.buy(member, 200_000)  # 100 points
    response = adjust(counter, member, direction="deduct", points="30,5")
    assert response.status_code == 200
    assert shop.balance(member) == (6950, 0)
    response = adjust(counter, member, key="A-2", direction="deduct", points="100")
    assert errors(response) == {"points": ["Only 69.5\u00a0bonuses can be deducted."]}


@pytest.mark.parametrize(("fields", "field"), [
    ({"reason": "  "}, "reason"), ({"points": "0"}, "points"), ({"points": "-5"}, "points"),
    ({"points": "abc"}, "points"), ({"points": "9" * 25}, "points"),
    ({"direction": "steal"}, "direction"),
])
def test_junk_changes_are_form_errors(alice, counter, member, fields, field):
    allow(alice, counter, 10**6)
    response = adjust(counter, member, **fields)
    assert response.status_code == 422
    assert list(errors(response)) == [field]
    assert not Adjustment.objects.exists()


def test_an_owner_at_the_counter_grants_without_an_allowance(alice, member, shop):
    counter = at_counter(alice, Staff.Role.OWNER)
    assert "data-allowance" not in counter.client.get(url("adjust", member.pk)).content.decode()
    assert adjust(counter, member, points="1000").status_code == 200
    assert shop.balance(member) == (100000, 0)


# --- tenants ----------------------------------------------------------------------------------


def test_another_merchants_member_and_purchase_are_not_found(counter, bob, unscoped):
    theirs = bob.member
    for name in ("sale", "adjust"):
        assert counter.client.get(url(name, theirs.pk)).status_code == 404
    assert counter.client.post(url("quote", theirs.pk), {"amount": "1"}).status_code == 404
    assert counter.client.post(url("code", theirs.pk)).status_code == 404
    assert sell(counter, theirs).status_code == 404
    assert adjust(counter, theirs).status_code == 404
    bobs = at_counter(bob)
    sell(bobs, theirs, receipt="W-BOB")
    their_purchase = Purchase.objects.get(receipt_id="W-BOB")
    assert counter.client.get(url("refund", their_purchase.pk)).status_code == 404
    assert refund(counter, their_purchase, mode="whole").status_code == 404
    assert not Refund.objects.exists()
    assert counter.client.get(url("sale", 10**30)).status_code == 404

