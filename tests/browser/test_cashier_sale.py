"""Selling at the counter in a real browser, on a phone, a tablet and a desktop: type the
amount, watch the live quote, pay with points, sell, read the receipt, refund half, grant
points by hand — and on the desktop the whole sale with the keyboard alone.

The program: 5 % accrual, at most 50 % of a check paid with points, points worth a kopeck
each. The member has 100 points; a 1 500 ₽ sale paying all of them costs 1 400 ₽ and earns
70 points (the part paid with points earns nothing)."""

import pytest
from django_scopes import scope, scopes_disabled
from playwright.sync_api import expect

from kopilka.core.actor import Actor
from kopilka.processing import manual
from kopilka.processing.models import Adjustment, Purchase, Refund
from tests.browser.counter import open_counter
from tests.conftest import make_tenant
from tests.shop import Shop


@pytest.fixture
def counter_shop(transactional_db):
    tenant = make_tenant("Alice Coffee", "alice@example.com", "+79160000001")
    with scope(merchant=tenant.merchant):
        shop = Shop(tenant).program(max_redeem_percent="50")
        member = shop.join(phone="+79990000021", first_name="Olga")
        shop.buy(member, 200_000)  # 100 points
    return shop, member


def quote_payable(page):
    return page.locator('#quote [data-quote="payable"]')


def test_sale_with_points_then_refund_and_grant(screen, counter_shop):
    shop, member = counter_shop
    at = open_counter(screen, shop.tenant)
    page = screen.page
    screen.go(f"/cashier/members/{member.pk}/sale/")
    expect(page.locator("#id_amount")).to_be_focused()
    page.keyboard.type("15OO")  # letter O for zero: a form error, not a sale
    screen.expect_console(r"status of 422")
    page.get_by_role("button", name="Sell").click()
    expect(page.locator("#id_amount_error")).to_have_text(
        "Enter a number such as 1500 or 1500.50.")
    expect(page.locator("#id_amount")).to_be_focused()
    page.locator("#id_amount").fill("")
    page.keyboard.type("1500")
    expect(quote_payable(page)).to_have_text("RUB1,500.00")
    expect(page.locator('#quote [data-quote="accrual"]')).to_contain_text("+75\u00a0bonuses")

    page.get_by_role("button", name="Max").click()
    expect(page.locator("#id_points")).to_have_value("100")
    expect(quote_payable(page)).to_have_text("RUB1,400.00")
    expect(page.locator('#quote [data-quote="accrual"]')).to_contain_text("+70\u00a0bonuses")
    page.get_by_text("Cash", exact=True).click()
    screen.shot("cashier-sale")

    page.get_by_role("button", name="Sell").click()
    expect(page.locator('[data-receipt="payable"]')).to_have_text("RUB1,400.00")
    expect(page.locator('[data-receipt="accrued"]')).to_have_text("+70\u00a0bonuses")
    expect(page.locator('[data-receipt="balance"]')).to_have_text("70\u00a0bonuses")
    screen.shot("cashier-receipt")
    with scopes_disabled():
        purchase = Purchase.objects.get(terminal=at.terminal)
    assert (purchase.total, purchase.points_spent, purchase.payment_method) == (150000, 10000,
                                                                                "cash")

    page.get_by_role("link", name="Refund").click()
    expect(page.locator('[data-refund="left"]')).to_have_text("RUB1,500.00")
    page.get_by_text("An amount", exact=True).click()
    page.locator("#id_amount").fill("750")
    screen.shot("cashier-refund-form")
    page.get_by_role("button", name="Refund").click()
    expect(page.locator('[data-refund="reversed"]')).to_have_text("35\u00a0bonuses")
    expect(page.locator('[data-refund="returned"]')).to_have_text("50\u00a0bonuses")
    expect(page.locator('[data-refund="balance"]')).to_have_text("85\u00a0bonuses")
    screen.shot("cashier-refund")
    with scopes_disabled():
        assert Refund.objects.get().amount == 75000

    with scope(merchant=shop.merchant):
        manual.set_allowance(shop.merchant, staff=at.staff, points=2000, by=shop.tenant.owner,
                             actor=Actor.cli())
    screen.go(f"/cashier/members/{member.pk}/adjust/")
    page.locator("#id_points").fill("30")
    page.locator("#id_reason").fill("Spilled coffee")
    page.get_by_role("button", name="Save").click()  # beyond the allowance of 20
    screen.expect_console(r"status of 422")
    expect(page.locator("#id_points_error")).to_have_text(
        "Your allowance has 20\u00a0bonuses left. Ask a manager for more.")
    expect(page.locator("#id_points")).to_be_focused()
    page.locator("#id_points").fill("15")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#adjust-done")).to_contain_text("Granted 15\u00a0bonuses.")
    expect(page.locator("#adjust-done")).to_contain_text("Balance now: 100\u00a0bonuses.")
    screen.shot("cashier-adjust")
    with scopes_disabled():
        assert Adjustment.objects.get().points == 1500


@pytest.mark.parametrize("viewport", ["desktop"])
def test_the_keyboard_alone_sells_and_a_double_enter_sells_once(screen, counter_shop):
    shop, member = counter_shop
    at = open_counter(screen, shop.tenant)
    page = screen.page
    screen.go(f"/cashier/members/{member.pk}/sale/")
    keys = page.keyboard
    keys.type("1 500,50")
    keys.press("Tab")  # the payment: card is chosen; the arrows would switch it
    expect(page.locator("#id_payment_0")).to_be_focused()
    keys.press("Tab")
    expect(page.locator("#id_points")).to_be_focused()
    keys.press("Tab")  # Max
    keys.press("Enter")
    expect(page.locator("#id_points")).to_have_value("100")
    expect(quote_payable(page)).to_have_text("RUB1,400.50")
    keys.press("Enter")
    keys.press("Enter")  # a second press while the first is on its way
    expect(page.locator('[data-receipt="payable"]')).to_have_text("RUB1,400.50")
    expect(page.get_by_role("link", name="Next customer")).to_be_focused()
    with scopes_disabled():
        assert Purchase.objects.filter(terminal=at.terminal).count() == 1
    keys.press("Enter")
    page.wait_for_url("**/cashier/")


@pytest.mark.parametrize("viewport", ["desktop"])
def test_the_sale_speaks_the_cashiers_language(screen_in, counter_shop):
    shop, member = counter_shop
    screen = screen_in("ru")
    open_counter(screen, shop.tenant)
    screen.go(f"/cashier/members/{member.pk}/sale/")
    screen.page.keyboard.type("1500,5")
    expect(quote_payable(screen.page)).to_have_text("1\u00a0500,50\u00a0₽")
    expect(screen.page.locator("#quote")).to_contain_text("К оплате")
    expect(screen.page.locator("#quote")).to_contain_text("+75,02\u00a0бонуса")
    screen.shot("cashier-sale-ru")


@pytest.mark.parametrize("viewport", ["pixel-7"])
def test_a_sale_split_by_product_group_refunded_by_line(screen, counter_shop):
    shop, _member = counter_shop
    with scope(merchant=shop.merchant):
        shop.program(rules=[{"code": "coffee", "name": "Coffee x2",
                             "conditions": {"product_groups": ["coffee"]},
                             "effects": {"multiply_accrual": "2"}}])
        member = shop.join(phone="+79990000022")
    open_counter(screen, shop.tenant)
    page = screen.page
    screen.go(f"/cashier/members/{member.pk}/sale/")
    expect(page.locator("#id_group_1")).to_be_hidden()  # collapsed until asked for
    page.keyboard.type("1000")
    page.get_by_text("Split by product group").click()
    page.locator("#id_group_1").fill("400")
    expect(page.locator('#quote [data-quote="accrual"]')).to_contain_text("+70\u00a0bonuses")
    screen.shot("cashier-sale-groups")
    page.get_by_role("button", name="Sell").click()
    expect(page.locator('[data-receipt="accrued"]')).to_have_text("+70\u00a0bonuses")

    page.get_by_role("link", name="Refund").click()
    expect(page.locator(".refund__lines")).to_be_hidden()
    page.get_by_text("By lines", exact=True).click()
    page.get_by_label("coffee").fill("400")
    screen.shot("cashier-refund-lines")
    page.get_by_role("button", name="Refund").click()
    expect(page.locator('[data-refund="reversed"]')).to_have_text("40\u00a0bonuses")
    expect(page.locator('[data-refund="balance"]')).to_have_text("30\u00a0bonuses")
