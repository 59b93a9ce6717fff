"""The five-minute start in a real browser, on a desktop and a tablet: sign up from the root
page, take the café template, read the program in words and save it, add the first store and a
cashier with a PIN, open the counter on this very browser, and make a real sale on the cashier
screen (a new member registered at the counter, then 500.00 sold to them).

The time an owner needs is computed with the keystroke-level model (../shared/UI.md): every
key, tap and decision of the script below is counted; the test prints the total and checks it
stays under five minutes."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache
from django_scopes import scopes_disabled
from playwright.sync_api import expect

from kopilka.processing.models import Purchase
from kopilka.tenancy.models import Merchant

KEY, TAP, THINK = 0.28, 1.1, 1.35  # seconds: a key, a tap or a point, a decision
GOAL = 5 * 60


class Owner:
    """Drives the page like a person and counts what that person does."""

    def __init__(self, page):
        self.page = page
        self.keys = self.taps = self.decisions = 0

    def think(self, times: int = 1) -> None:
        self.decisions += times

    def tap(self, locator) -> None:
        self.taps += 1
        locator.click()

    def type_into(self, locator, text: str, *, focused: bool = False) -> None:
        if not focused:
            self.tap(locator)
        self.keys += len(text)
        locator.press_sequentially(text)

    def press(self, key: str) -> None:
        self.keys += 1
        self.page.keyboard.press(key)

    @property
    def seconds(self) -> float:
        return self.keys * KEY + self.taps * TAP + self.decisions * THINK


@pytest.mark.parametrize("viewport", ["desktop", "ipad-mini", "pixel-7"])
def test_sign_up_to_a_first_sale(screen, viewport):
    cache.clear()  # the per-address sign-up count: every viewport signs up from 127.0.0.1
    page = screen.page
    owner = Owner(page)
    screen.go("/")
    owner.think()
    owner.tap(page.get_by_role("link", name="Start a loyalty program"))

    # Sign-up: the business, the account; currency, zone and country come from the browser.
    expect(page.locator("h1")).to_have_text("Start a loyalty program")
    expect(page.get_by_label("Currency")).to_have_value("USD")
    expect(page.get_by_label("Time zone")).to_have_value("America/New_York")
    owner.type_into(page.get_by_label("Name of your business"), "Hedgehog Coffee")
    owner.type_into(page.get_by_label("Your e-mail"), "kim@hedgehog.test")
    owner.type_into(page.get_by_label("Choose a password"), "hedgehogs drink flat whites")
    owner.think()  # the defaults are right
    screen.shot("cabinet-signup")
    owner.tap(page.get_by_role("button", name="Create my business"))

    # The program: the café template, its prefilled questions, the program in words.
    expect(page.locator("h1")).to_have_text("Choose a program")
    owner.think()
    owner.tap(page.locator('a.starter[href$="/cafe/"]'))  # not "Café with a reward catalogue"
    expect(page.get_by_label("Bonus on every purchase, %")).to_have_value("5")
    expect(page.get_by_label("Double bonuses from")).to_have_value("09:00")
    owner.think()
    screen.shot("cabinet-wizard")
    owner.tap(page.get_by_role("button", name="Next: check the program"))
    expect(page.locator("[data-summary] li")).to_have_text([
        "1 bonus is worth $1.00.",
        "Guest, from the first purchase: 5\u00a0% of every purchase back.",
        "From 09:00 to 12:00 bonuses are multiplied by 2.",
        "A new member gets 100\u00a0bonuses as a welcome gift.",
        "Points can pay up to 50\u00a0% of a check.",
        "Points never expire.",
    ])
    owner.think()
    screen.shot("cabinet-summary")
    owner.tap(page.get_by_role("button", name="Save the program"))

    # The first store.
    expect(page.locator("h1")).to_have_text("Your first store")
    store_name = page.get_by_label("Store name")
    expect(store_name).to_be_focused()
    owner.type_into(store_name, "Old Town", focused=True)
    owner.type_into(page.get_by_label("Address"), "1 Market Square")
    screen.shot("cabinet-store")
    owner.tap(page.get_by_role("button", name="Add the store"))

    # The first cashier, with a PIN right away.
    expect(page.locator("h1")).to_have_text("Your first cashier")
    owner.think()
    owner.type_into(page.get_by_label("Cashier's name"), "Dana")
    owner.type_into(page.get_by_label("PIN"), "2580")
    screen.shot("cabinet-cashier")
    owner.tap(page.get_by_role("button", name="Add the cashier"))

    # This browser becomes the store's counter; Dana switches in with her PIN.
    expect(page.locator("h1")).to_have_text("Open the counter on this device")
    expect(page.get_by_label("Name of this device")).to_have_value("Counter 1")
    owner.think()
    owner.tap(page.get_by_role("button", name="Open the counter here"))
    expect(page.locator(".pinpad__name")).to_have_text("Dana")
    page.wait_for_load_state("load")
    owner.type_into(page.locator("#id_pin"), "2580", focused=True)
    owner.press("Enter")

    # A real sale: a new member registered at the counter, then 500.00.
    search = page.get_by_label("Phone, card or QR")
    expect(search).to_be_focused()
    owner.type_into(search, "2025550143", focused=True)
    owner.press("Enter")
    owner.think()
    owner.tap(page.get_by_role("link", name="Register"))
    owner.tap(page.get_by_label("processing of their personal data", exact=False))
    owner.tap(page.get_by_role("button", name="Register"))
    expect(page.locator("[data-available]")).to_have_text("100 bonuses")
    owner.tap(page.get_by_role("link", name="Sell"))
    amount = page.locator("#id_amount")
    expect(amount).to_be_focused()
    owner.type_into(amount, "500", focused=True)
    expect(page.locator('#quote [data-quote="payable"]')).to_have_text("$500.00", timeout=15_000)
    # The café template doubles bonuses from 9 to 12 in the shop's zone (New York): 5 % of
    # 500.00 is 25 bonuses, 50 in those hours. CI runs at any hour.
    doubled = 9 <= datetime.now(ZoneInfo("America/New_York")).hour < 12
    owner.press("Enter")
    expect(page.locator('[data-receipt="payable"]')).to_have_text("$500.00")
    expect(page.locator('[data-receipt="accrued"]')).to_have_text(
        "+50\u00a0bonuses" if doubled else "+25\u00a0bonuses")
    with scopes_disabled():
        purchase = Purchase.objects.get()
        merchant = Merchant.objects.get(slug="hedgehog-coffee")
    assert (purchase.merchant_id, purchase.total) == (merchant.pk, 50000)
    seconds = owner.seconds
    print(f"\nsign-up to a first sale on {viewport}: {owner.keys} keys, {owner.taps} taps, "
          f"{owner.decisions} decisions = {seconds:.1f} s of keystroke-level time "
          f"(goal {GOAL} s)")
    assert seconds < GOAL

    # The owner signs in again (the counter signed them out here) and sees the home.
    screen.go("/cabinet/")
    page.get_by_label("E-mail").fill("kim@hedgehog.test")
    page.get_by_label("Password").fill("hedgehogs drink flat whites")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("h1")).to_have_text("Hedgehog Coffee")
    expect(page.locator("#stores-title + .rows .row__meta").last).to_have_text(
        "Counters: Counter 1")
    screen.shot("cabinet-home")
