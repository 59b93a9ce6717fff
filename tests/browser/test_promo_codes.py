"""Promo codes in real browsers, on a phone and a desktop: the owner creates COFFEE2X (double
points, a minimum check of 500.00, once per customer) in the cabinet; the cashier types it
with a 1 000.00 sale and the live quote shows 100 points instead of 50; the receipt says what
the code added; the same customer's second try is refused on the field; the owner sees the
use and the revenue.

The program (tests/conftest.py, DEFAULT_PROGRAM): 5 %, points worth a kopeck each."""

import pytest
from django_scopes import scopes_disabled
from playwright.sync_api import expect

from kopilka.campaigns.models import PromoCode, PromoUse
from kopilka.processing.models import Purchase
from tests.browser.counter import open_counter
from tests.cabinet.tools import owner_of


def signed_in_owner(screen, tenant):
    client = owner_of(tenant)
    screen.context.add_cookies([{"name": name, "value": morsel.value, "url": screen.url}
                                for name, morsel in client.cookies.items()])


@pytest.mark.parametrize("viewport", ["pixel-7", "desktop"])
def test_the_owner_makes_a_code_and_the_cashier_sells_with_it(screen_in, alice, viewport):
    owner = screen_in("en")
    signed_in_owner(owner, alice)
    page = owner.page
    owner.go("/cabinet/campaigns/")
    page.locator("[data-promo-link]").click()
    expect(page.get_by_role("heading", name="Promo codes")).to_be_visible()
    page.get_by_role("link", name="New promo code").first.click()
    page.get_by_label("Code", exact=True).fill("coffee2x")
    page.get_by_label("What it is for").fill("December flyers")
    page.get_by_text("Points multiplied (e.g. 2 = double points)").click()
    page.get_by_label("How much").fill("2")
    page.get_by_label("Minimum check").fill("500")
    expect(page.get_by_label("Uses per customer")).to_have_value("1")
    owner.shot("promo-new")
    page.get_by_role("button", name="Create the promo code").click()
    expect(page.locator("[data-promo-code]")).to_have_text("COFFEE2X")
    with scopes_disabled():
        promo = PromoCode.objects.get()
    assert (promo.rule, promo.min_check, promo.per_member) == ({"multiply_accrual": "2"},
                                                               50_000, 1)

    counter = screen_in("en")
    at = open_counter(counter, alice)
    till = counter.page
    counter.go(f"/cashier/members/{alice.member.pk}/sale/")
    till.locator("#id_amount").fill("1000")
    expect(till.locator('#quote [data-quote="accrual"]')).to_contain_text("+50\u00a0bonuses")
    till.locator("#id_promo").fill("coffee2x")
    expect(till.locator('#quote [data-quote="accrual"]')).to_contain_text("+100\u00a0bonuses")
    expect(till.locator('#quote [data-quote="promo"]')).to_have_text("+50\u00a0bonuses")
    counter.shot("promo-sale")
    till.get_by_role("button", name="Sell").click()
    expect(till.locator('[data-receipt="accrued"]')).to_have_text("+100\u00a0bonuses")
    expect(till.locator('[data-receipt="promo"]')).to_have_text("+50\u00a0bonuses")
    counter.shot("promo-receipt")
    with scopes_disabled():
        purchase = Purchase.objects.get(terminal=at.terminal)
        assert (purchase.points_accrued, PromoUse.objects.get().purchase_id) == (10_000,
                                                                                purchase.pk)

    # The same customer again: once per customer, said on the field before anything is sold.
    counter.go(f"/cashier/members/{alice.member.pk}/sale/")
    till.locator("#id_amount").fill("1000")
    till.locator("#id_promo").fill("COFFEE2X")
    refusal = "This customer has used the promo code COFFEE2X already (1 time is the most)."
    expect(till.locator('#quote [data-quote="promo-error"]')).to_have_text(refusal)
    counter.expect_console(r"status of 422")
    till.get_by_role("button", name="Sell").click()
    expect(till.locator("#id_promo_error")).to_have_text(refusal)
    counter.shot("promo-refused")
    with scopes_disabled():
        assert Purchase.objects.filter(terminal=at.terminal).count() == 1

    owner.go("/cabinet/campaigns/promo/")
    row = page.locator('[data-promo="COFFEE2X"]')
    expect(row.locator("[data-uses]")).to_have_text("1")
    expect(row.locator("[data-revenue]")).to_have_text("RUB1,000.00")
    owner.shot("promo-list")
