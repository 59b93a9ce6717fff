"""The cabinet's member base in Chromium, on a phone and a desktop: the list, a filter, the
member's page, points granted by hand; and a manager who sees masked phones only."""

from datetime import date

import pytest
from django_scopes import scope, scopes_disabled
from playwright.sync_api import expect

from kopilka.ledger.models import Account
from kopilka.tenancy.models import Staff
from tests.cabinet.tools import owner_of, staff_client
from tests.shop import Shop


@pytest.fixture
def base(alice):
    """Alice's members: Maria (female, 1 200.00 bought), Ivan (male), Olga (female)."""
    with scope(merchant=alice.merchant):
        shop = Shop(alice).program(welcome_bonus=10_000)
        maria = shop.join("+79161234567", first_name="Maria", last_name="Ivanova",
                          gender="female", birth_date=date(1991, 3, 8))
        shop.join("+79161234568", first_name="Ivan", gender="male")
        shop.join("+79161234569", first_name="Olga", gender="female")
        shop.buy(maria, 120_000)
    return maria


def signed_in(screen, client):
    screen.context.add_cookies([{"name": name, "value": morsel.value, "url": screen.url}
                                for name, morsel in client.cookies.items()])


@pytest.mark.parametrize("viewport", ["pixel-7", "desktop"])
def test_list_filter_member_adjust(screen, alice, base, viewport):
    signed_in(screen, owner_of(alice))
    page = screen.page
    screen.go("/cabinet/members/")
    expect(page.locator("[data-members] .row__title")).to_have_count(4)
    screen.shot("cabinet-members-list")

    page.get_by_text("Filters", exact=False).first.click()
    page.get_by_label("Gender").select_option("female")
    page.get_by_label("Total spend from").fill("1000")
    page.get_by_role("button", name="Show").click()
    titles = page.locator("[data-members] .row__title")
    expect(titles).to_have_count(1)
    expect(titles.first).to_have_text("Maria Ivanova")
    screen.shot("cabinet-members-filtered")

    titles.first.click()
    expect(page.locator("h1")).to_contain_text("Maria Ivanova")
    balance = page.locator("[data-balance] .figure__value").first
    expect(balance).to_have_text("160\xa0bonuses")  # 100 welcome + 5 % of 1 200.00
    adjust = page.locator("[data-adjust]")
    adjust.get_by_label("Points").fill("25.5")
    adjust.get_by_label("Reason").fill("Birthday cake was late")
    adjust.get_by_role("button", name="Apply").click()
    expect(balance).to_have_text("185.5\xa0bonuses")
    expect(page.locator("[data-history]")).to_contain_text("Granted by the shop")
    screen.shot("cabinet-member-page")
    with scopes_disabled():
        assert Account.objects.get(member=base).available == 18_550

    # Bad input: the form says why, on its field (answered 422).
    screen.expect_console(r"status of 422")
    adjust = page.locator("[data-adjust]")
    adjust.get_by_label("Points").fill("abc")
    adjust.get_by_label("Reason").fill("x")
    adjust.get_by_role("button", name="Apply").click()
    expect(page.locator("[data-adjust] .errorlist")).to_contain_text("Enter a number.")


@pytest.mark.parametrize("viewport", ["pixel-7"])
def test_a_manager_sees_masked_phones(screen_in, alice, base, viewport):
    screen = screen_in("ru")
    _staff, client = staff_client(alice, Staff.Role.MANAGER, language="ru")
    signed_in(screen, client)
    screen.go("/cabinet/members/")
    rows = screen.page.locator("[data-members]")
    expect(rows).to_contain_text("+7916***4567")
    assert "+79161234567" not in screen.page.content()
    screen.shot("cabinet-members-manager")


@pytest.mark.parametrize("viewport", ["pixel-7", "desktop"])
def test_the_sales_book(screen, alice, base, viewport):
    with scope(merchant=alice.merchant):
        shop = Shop(alice)
        purchase = shop.buy(base, 45_000, 5_000, spend=2_000, receipt="R-2").purchase
        shop.refund(purchase, refund_id="F-1", amount=5_000)
    signed_in(screen, owner_of(alice))
    page = screen.page
    screen.go("/cabinet/sales/")
    totals = page.locator("[data-totals]")
    expect(totals).to_contain_text("RUB1,700.00")  # 1 200.00 + 500.00
    expect(page.locator("[data-rows] .row__link")).to_have_count(2)
    screen.shot("cabinet-sales")
    page.locator("[data-rows] .row__link").first.click()
    expect(page.locator("h1")).to_contain_text("Purchase, receipt R-2")
    expect(page.locator("[data-refunds]")).to_contain_text("−RUB50.00")
    expect(page.locator("[data-entries] tbody tr")).to_have_count(4)
    screen.shot("cabinet-sale")
