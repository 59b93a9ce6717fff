"""A whole day at the counter in Chromium, on a phone, a tablet and a desktop, with the demo's
program (kopilka/demo.py: 5 % on Bronze, at most 50 % of a check in points, 50 bonuses welcome
bonus; without its "9-12 double bonuses" rule, which would make the figures depend on the hour
the test runs at):

1. the manager signs the device in for the store;        2. the cashier switches in with her PIN;
3. a new member registers with the code from the SMS: 50 bonuses at once;
4. a 1 000 ₽ sale by card earns 50: balance 100;
5. a 600 ₽ sale in cash pays 100 bonuses (half of it would be allowed): 500 ₽ paid, earns 25;
6. 400 ₽ of the first sale refunded from the member card: 20 bonuses taken back, balance 5;
7. the shift: 2 sales, 1 600 ₽ sold, 1 500 ₽ taken (card 1 000, cash 500), 100 ₽ in points,
   75 bonuses accrued, 100 spent, 400 ₽ refunded; 8. closed, its summary printed.

Screenshots: cashier-day-<n>-<step>-<viewport>.png."""

import re
from zoneinfo import ZoneInfo

import pytest
from django_scopes import scope, scopes_disabled
from playwright.sync_api import expect

from kopilka.core.actor import Actor
from kopilka.demo import DEMO_PROGRAM
from kopilka.processing.models import Purchase, Refund
from kopilka.programs import services as programs
from kopilka.tenancy import counter as counters
from kopilka.tenancy.models import Staff
from tests.browser.test_cashier_members import sms_code
from tests.tenancy.tools import PASSWORD, make_staff

NBSP = "\u00a0"
MOSCOW = ZoneInfo("Europe/Moscow")  # alice's time zone: the counter shows times in it


@pytest.fixture
def cafe(alice):
    """Alice's café with the demo's program, a manager and a cashier with PIN 2580."""
    manager = make_staff(alice.merchant, "maria@alice.test", Staff.Role.MANAGER)
    cashier = make_staff(alice.merchant, "darya@alice.test", Staff.Role.CASHIER)
    cashier.user.first_name, cashier.user.last_name = "Darya", "Petrenko"
    cashier.user.save(update_fields=["first_name", "last_name"])
    with scope(merchant=alice.merchant):
        programs.save_program(alice.merchant, {**DEMO_PROGRAM, "rules": []}, actor=Actor.cli())
        counters.set_pin(cashier, "2580", actor=Actor.cli())
    return alice, manager, cashier


def bonuses(figure: str) -> str:
    return f"{figure}{NBSP}bonuses"


def test_a_whole_day_at_the_counter(screen, cafe, outbox):
    alice, _manager, cashier = cafe
    page = screen.page
    shot = iter(range(1, 100))

    def step(name: str) -> None:
        screen.shot(f"cashier-day-{next(shot)}-{name}")

    # 1. The manager makes this tablet the store's counter.
    screen.go("/cashier/")
    expect(page).to_have_url(screen.url + "/cashier/device/")
    page.fill("#id_email", "maria@alice.test")
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("h1")).to_have_text("Which counter is this?")
    page.get_by_role("button", name="Make this device a counter").click()
    expect(page).to_have_url(screen.url + "/cashier/switch/")

    # 2. Darya switches in with her PIN (the only one with a PIN: her pad comes at once).
    expect(page.locator(".pinpad__name")).to_have_text("Darya Petrenko")
    page.wait_for_load_state("load")
    for digit in "2580":
        page.locator(f".pinpad__key[data-digit='{digit}']").click()
    step("pin")
    page.get_by_role("button", name="OK").click()
    expect(page).to_have_url(screen.url + "/cashier/")
    expect(page.locator(".navbar__place")).to_have_text("Main · Darya Petrenko")

    # 3. A new customer: registered with the code from the SMS, the welcome bonus at once.
    field = page.get_by_label("Phone, card or QR")
    expect(field).to_be_focused()
    field.fill("8 916 555-44-33")
    field.press("Enter")
    page.get_by_role("link", name="Register +7 916 555-44-33").click()
    page.get_by_label("First name").fill("Ivan")
    page.get_by_role("button", name="Send code").click()
    code_field = page.get_by_label("Code from the SMS")
    expect(code_field).to_be_focused()
    page.get_by_label(re.compile("processing of their personal data")).check()
    code_field.fill(sms_code(outbox))
    step("register")
    code_field.press("Enter")
    expect(page.get_by_text("Registered. Welcome to the program!")).to_be_visible()
    expect(page.locator("#member-name")).to_have_text("Ivan")
    expect(page.locator("[data-available]")).to_have_text(bonuses("50"))
    expect(page.locator("[data-pending]")).to_have_text(bonuses("0"))
    step("welcome")

    # 4. 1 000 ₽ by card: 5 % of it.
    page.get_by_role("link", name="Sell").click()
    expect(page.locator("#id_amount")).to_be_focused()
    page.wait_for_load_state("load")  # sale.js is deferred: a person is never this fast
    page.keyboard.type("1000")
    expect(page.locator('#quote [data-quote="payable"]')).to_have_text("RUB1,000.00")
    expect(page.locator('#quote [data-quote="accrual"]')).to_contain_text("+" + bonuses("50"))
    page.get_by_text("Card", exact=True).click()
    step("sale")
    page.get_by_role("button", name="Sell").click()
    expect(page.locator('[data-receipt="payable"]')).to_have_text("RUB1,000.00")
    expect(page.locator('[data-receipt="accrued"]')).to_have_text("+" + bonuses("50"))
    expect(page.locator('[data-receipt="balance"]')).to_have_text(bonuses("100"))
    step("receipt")

    # 5. The same customer, 600 ₽ in cash, paying with all 100 bonuses (up to 300 allowed).
    page.get_by_role("link", name="Member card").click()
    page.get_by_role("link", name="Sell").click()
    expect(page.locator("#id_amount")).to_be_focused()
    page.wait_for_load_state("load")
    page.keyboard.type("600")
    expect(page.locator('#quote [data-quote="payable"]')).to_have_text("RUB600.00")
    page.get_by_role("button", name="Max").click()
    expect(page.locator("#id_points")).to_have_value("100")
    expect(page.locator('#quote [data-quote="payable"]')).to_have_text("RUB500.00")
    expect(page.locator('#quote [data-quote="accrual"]')).to_contain_text("+" + bonuses("25"))
    page.get_by_text("Cash", exact=True).click()
    step("sale-points")
    page.get_by_role("button", name="Sell").click()
    expect(page.locator('[data-receipt="payable"]')).to_have_text("RUB500.00")
    expect(page.locator('[data-receipt="accrued"]')).to_have_text("+" + bonuses("25"))
    expect(page.locator('[data-receipt="balance"]')).to_have_text(bonuses("25"))
    step("receipt-points")

    # 6. 400 ₽ of the first purchase come back, from the member card's purchase list.
    page.get_by_role("link", name="Member card").click()
    rows = page.locator(".member-card__purchases .row")
    expect(rows.locator(".row__title")).to_have_text(["RUB600.00", "RUB1,000.00"])
    expect(rows.locator(".row__value")).to_have_text(
        [f"+{bonuses('25')} −{bonuses('100')}", "+" + bonuses("50")])
    step("card")
    rows.nth(1).click()
    expect(page.locator('[data-refund="left"]')).to_have_text("RUB1,000.00")
    page.get_by_text("An amount", exact=True).click()
    page.locator("#id_amount").fill("400")
    step("refund-form")
    page.get_by_role("button", name="Refund").click()
    expect(page.locator('[data-refund="reversed"]')).to_have_text(bonuses("20"))
    expect(page.locator('[data-refund="returned"]')).to_have_text(bonuses("0"))
    expect(page.locator('[data-refund="balance"]')).to_have_text(bonuses("5"))
    step("refund")

    # 7. The shift: this device's and Darya's sales book.
    page.get_by_role("link", name="Shift").click()
    with scopes_disabled():
        first, last = (f"{at.astimezone(MOSCOW):%-m/%-d/%y, %-I:%M}\u202f{at.astimezone(MOSCOW):%p}"
                       for at in Purchase.objects.order_by("pk").values_list("occurred_at",
                                                                             flat=True))
    figures = page.locator(".figure__value")
    expect(figures).to_have_text(["RUB1,500.00", "2", bonuses("75"), bonuses("100")])
    summary = page.locator(".shift-summary tr")
    expect(summary).to_have_text([  # in the merchant's time zone (Moscow): no zone argument
        re.compile(r"^\s*Card\s+· 1 sale\s+RUB1,000\.00\s*$"),
        re.compile(r"^\s*Cash\s+· 1 sale\s+RUB500\.00\s*$"),
        re.compile(r"^Receipts before discounts\s*RUB1,600\.00$"),
        re.compile(r"^Discounts\s*RUB0\.00$"),
        re.compile(r"^Paid with points\s*RUB100\.00$"),
        re.compile(r"^Refunds\s+· 1\s+RUB400\.00$"),
        re.compile(r"^Points taken back by refunds\s*20\sbonuses$"),
        re.compile(r"^Points given back by refunds\s*0\sbonuses$"),
        f"First sale{first}",
        f"Last sale{last}",
    ])
    sales = page.locator(".shift-sales tbody tr")
    expect(sales).to_have_count(2)
    expect(sales.locator("td.num")).to_have_text([
        "RUB600.00", f"+{bonuses('25')} −{bonuses('100')}",
        "RUB1,000.00", "+" + bonuses("50")])
    expect(sales.nth(0).locator(".shift-sales__member")).to_have_text("+7916***4433")
    step("shift")

    # 8. Closed: the summary to print; the next sale opens a new shift.
    page.get_by_role("button", name="Close shift").click()
    page.locator("dialog").get_by_role("button", name="Close shift").click()
    expect(page.locator("h1")).to_have_text("Shift closed")
    closed = page.locator(".shift-print")
    expect(closed.locator(".figure__value")).to_have_text(
        ["RUB1,500.00", "2", bonuses("75"), bonuses("100")])
    expect(closed).to_contain_text("Main · Counter 1 · Darya Petrenko")
    step("shift-closed")

    with scopes_disabled():
        purchases = list(Purchase.objects.order_by("pk").values_list(
            "total", "points_spent", "points_accrued", "payment_method", "cashier_id"))
        assert purchases == [(100_000, 0, 5_000, "card", cashier.pk),
                             (60_000, 10_000, 2_500, "cash", cashier.pk)]
        assert list(Refund.objects.values_list("amount", "points_reversed")) == [(40_000, 2_000)]
