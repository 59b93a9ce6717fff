"""The wallet and the counter together, end to end: the member shows the card on their phone,
the cashier's camera reads the QR off that very screen (a screenshot of the phone's card made
into the camera's video), the cashier sells, and the phone shows the new balance."""

import pytest
from django_scopes import scope, scopes_disabled
from playwright.sync_api import expect

from kopilka.processing.models import Purchase
from kopilka.web.wallet import signin
from tests.browser.counter import open_counter
from tests.conftest import make_tenant
from tests.shop import Shop
from tests.wallet.tools import wallet_cookie


@pytest.fixture
def member(transactional_db):
    """Olga has 100 points at a 5 % café."""
    tenant = make_tenant("Alice Coffee", "alice@example.com", "+79160000001")
    with scope(merchant=tenant.merchant):
        shop = Shop(tenant).program()
        olga = shop.join(phone="+79990000021", first_name="Olga")
        shop.buy(olga, 200_000)
    return tenant, olga


@pytest.mark.parametrize("viewport", ["pixel-7"])
def test_the_card_on_the_phone_is_scanned_at_the_counter_and_sold_to(screen, camera, member,
                                                                     tmp_path):
    tenant, olga = member
    phone = screen
    phone.context.add_cookies([{"name": signin.COOKIE, "value": wallet_cookie(olga.person),
                                "url": phone.url + "/my/", "httpOnly": True, "sameSite": "Lax"}])
    phone.go("/my/")
    expect(phone.page.locator("[data-available]")).to_have_text("100 bonuses")
    card_qr = tmp_path / "card-qr.png"
    phone.page.locator(".wallet-qr").screenshot(path=card_qr)

    till = camera(image=card_qr)
    try:
        open_counter(till, tenant)
        page = till.page
        till.go("/cashier/")
        page.get_by_role("button", name="Scan with camera").click()
        expect(page.locator("#member-name")).to_have_text("Olga", timeout=15_000)
        page.locator("[data-sell]").click()
        page.locator("#id_amount").fill("1000")
        expect(page.locator('#quote [data-quote="accrual"]')).to_contain_text(
            "+50\u00a0bonuses", timeout=10_000)
        page.get_by_role("button", name="Sell").click()
        expect(page.locator('[data-receipt="balance"]')).to_have_text("150\u00a0bonuses")
        assert till.outside == [] and till.violations() == []
        assert till.unexpected_console() == []
    finally:
        till.context.close()
    with scopes_disabled():
        sale = Purchase.objects.filter(member=olga).latest("pk")
    assert (sale.total, sale.points_accrued) == (100_000, 5_000)

    phone.go("/my/")
    expect(phone.page.locator("[data-available]")).to_have_text("150 bonuses")
