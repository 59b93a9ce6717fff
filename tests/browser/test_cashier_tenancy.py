"""Another merchant's cashier, in a real browser: Alice's member is nobody at Bob's counter —
not found by phone, QR or card, and every page naming them is the site's 404 page."""

import re

from django_scopes import scope
from playwright.sync_api import expect

from tests.browser.counter import open_counter
from tests.shop import Shop


def test_another_merchants_member_is_a_stranger_at_this_counter(screen, alice, bob):
    with scope(merchant=alice.merchant):
        purchase = Shop(alice).buy(alice.member, 10_000).purchase
    open_counter(screen, bob)
    page = screen.page
    screen.go("/cashier/")
    field = page.locator("[data-search-field]")
    field.fill(alice.member.qr_token)
    field.press("Enter")
    expect(page.get_by_text("No member has this card or QR code.")).to_be_visible()
    field.fill("+7 916 000-00-01")  # Alice's member's phone: at Bob's, someone to register
    field.press("Enter")
    register = page.get_by_role("link", name=re.compile(r"^Register \+7 916 000-00-01"))
    expect(register).to_be_visible()

    screen.expect_console(r"status of 404")
    for path in (f"/cashier/members/{alice.member.pk}/",
                 f"/cashier/members/{alice.member.pk}/sale/",
                 f"/cashier/members/{alice.member.pk}/adjust/",
                 f"/cashier/purchases/{purchase.pk}/refund/"):
        response = screen.go(path)
        assert response.status == 404, path
        expect(page.locator("h1")).to_have_text("Not found")
        assert alice.member.first_name not in page.content()
    screen.shot("cashier-not-found")
