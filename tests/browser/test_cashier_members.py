"""The counter in Chromium on three viewports: finding a member by typing, by a USB scanner and
by the camera (Chromium's fake video device playing a QR code made with segno), and registering
a member with the code read from the SMS outbox."""

import re

import pytest
from django_scopes import scope, scopes_disabled
from playwright.sync_api import expect

from kopilka.messaging import tasks
from tests.cashier.tools import at_counter
from tests.shop import Shop

PHONE = "+79161234567"


@pytest.fixture
def member(alice):
    """150 bonuses available (the welcome bonus), 40 pending."""
    with scope(merchant=alice.merchant):
        shop = Shop(alice).program(welcome_bonus=15_000, activation_delay_days=14)
        joined = shop.join(PHONE, first_name="Maria")
        shop.buy(joined, 80_000)
    return joined


def sign_in_counter(screen, tenant):
    """The tab becomes a counter device with a cashier switched in (tests/cashier/tools.py)."""
    at = at_counter(tenant)
    screen.context.add_cookies([{"name": name, "value": morsel.value, "url": screen.url}
                                for name, morsel in at.client.cookies.items()])
    return at


def search_field(page):
    return page.get_by_label("Phone, card or QR")


def test_search_by_typing_and_by_a_usb_scanner(screen, alice, member):
    sign_in_counter(screen, alice)
    page = screen.page
    screen.go("/cashier/")
    field = search_field(page)
    expect(field).to_be_focused()
    field.press_sequentially("8 916 123-45-67")
    field.press("Enter")
    card = page.locator("[data-member]")
    expect(card.locator("[data-available]")).to_have_text("150 bonuses")
    expect(card.locator("[data-pending]")).to_have_text("40 bonuses")
    expect(page).to_have_url(re.compile(rf"/cashier/members/{member.pk}/$"))
    expect(field).to_have_value("")
    expect(field).to_be_focused()  # ready for the next customer
    screen.shot("cashier-card")

    page.locator("#member-name").click()  # a click elsewhere gives the focus back
    expect(field).to_be_focused()

    # A USB scanner types the member page's QR token with its control characters and Enter.
    page.keyboard.insert_text(f"\x02{member.qr_token}\x1d")
    expect(field).to_have_value(member.qr_token)
    page.keyboard.press("Enter")
    expect(field).to_have_value("")  # found: the field is cleared
    expect(page.locator("#member-name")).to_have_text("Maria")

    field.fill("+7 916 000-11-22")
    field.press("Enter")
    expect(page.get_by_role("link", name="Register +7 916 000-11-22")).to_be_visible()
    expect(field).to_be_focused()
    expect(page.locator(".htmx-settling")).to_have_count(0)
    page.keyboard.type("ZZ-404")  # what was typed is selected: the next scan replaces it
    expect(field).to_have_value("ZZ-404")
    screen.shot("cashier-search")

    field.press("Enter")
    expect(page.get_by_text("No member has this card or QR code.")).to_be_visible()


def test_enter_in_the_emptied_search_field_sells_to_the_member_found(screen, alice, member):
    sign_in_counter(screen, alice)
    page = screen.page
    screen.go("/cashier/")
    field = search_field(page)
    asked = []
    page.on("request", lambda request: "/cashier/find/" in request.url and asked.append(request))
    field.press("Enter")  # nobody on screen: an empty search asks the server nothing
    page.wait_for_timeout(500)
    assert asked == []
    expect(page).to_have_url(re.compile(r"/cashier/$"))
    page.keyboard.insert_text(member.qr_token)  # a scan
    page.keyboard.press("Enter")
    expect(page.locator("#member-name")).to_have_text("Maria")
    expect(field).to_have_value("")
    field.press("Enter")  # the next key after the scan: sell
    expect(page).to_have_url(re.compile(rf"/cashier/members/{member.pk}/sale/$"))
    expect(page.locator("#id_amount")).to_be_focused()  # the sale itself: test_cashier_sale.py


def test_registration_with_the_code_from_the_sms(screen, alice, member, outbox):
    sign_in_counter(screen, alice)
    page = screen.page
    screen.go("/cashier/")
    field = search_field(page)
    field.fill("9165554433")
    field.press("Enter")
    page.get_by_role("link", name="Register +7 916 555-44-33").click()
    send = page.get_by_role("button", name="Send code")
    expect(send).to_be_focused()
    expect(page.get_by_label("Phone", exact=True)).to_have_value("+79165554433")
    page.get_by_label("First name").fill("Ivan")
    send.click()
    expect(page.get_by_text("Code sent to +7916***4433")).to_be_visible()
    code_field = page.get_by_label("Code from the SMS")
    expect(code_field).to_be_focused()
    code = sms_code(outbox)
    page.get_by_label(re.compile("processing of their personal data")).check()
    code_field.fill(code)
    screen.shot("cashier-register")
    code_field.press("Enter")
    expect(page.get_by_text("Registered. Welcome to the program!")).to_be_visible()
    expect(page.locator("#member-name")).to_have_text("Ivan")
    expect(page.locator("[data-available]")).to_have_text("150 bonuses")
    expect(search_field(page)).to_be_focused()


def test_a_wrong_code_is_shown_on_its_field(screen, alice, member, outbox):
    sign_in_counter(screen, alice)
    screen.expect_console(r"status of 422")
    page = screen.page
    screen.go("/cashier/register/?phone=%2B79165554433")
    page.get_by_role("button", name="Send code").click()
    code_field = page.get_by_label("Code from the SMS")
    expect(code_field).to_be_focused()
    page.get_by_label(re.compile("processing of their personal data")).check()
    code_field.fill(str((int(sms_code(outbox)) + 1) % 1_000_000).zfill(6))  # not the code
    code_field.press("Enter")
    expect(page.get_by_text(re.compile("Wrong code"))).to_be_visible()
    expect(page.get_by_label("Code from the SMS")).to_be_focused()


def sms_code(outbox) -> str:
    with scopes_disabled():
        tasks.deliver_due()
    return re.search(r"код (\d{6})\.", outbox[-1].body)[1]


@pytest.mark.parametrize("viewport", ["desktop"])
def test_a_lost_card_replaced_by_scanning_the_new_one(screen, alice, member):
    sign_in_counter(screen, alice)
    page = screen.page
    screen.go(f"/cashier/members/{member.pk}/")
    page.get_by_role("link", name="Replace card").click()
    new_number = page.get_by_label("New card number")
    expect(new_number).to_be_focused()
    page.keyboard.insert_text("\x022000123456789")
    page.keyboard.press("Enter")  # the scanner's Enter
    expect(page.get_by_text("Card 2000123456789 now holds the balance.")).to_be_visible()
    expect(page.locator("[data-available]")).to_have_text("150 bonuses")
    expect(search_field(page)).to_be_focused()


# --- the camera ----------------------------------------------------------------------------------


def test_scan_the_member_qr_with_the_camera(screen_in, camera, alice, member):
    screen_in("en")  # the CSP and the URLconf of the browser tests
    screen = camera(member.qr_token)
    try:
        sign_in_counter(screen, alice)
        page = screen.page
        screen.go("/cashier/")
        page.get_by_role("button", name="Scan with camera").click()
        expect(page.locator("#member-name")).to_have_text("Maria", timeout=15_000)
        expect(page.locator("[data-available]")).to_have_text("150 bonuses")
        expect(page.locator("[data-camera]")).to_be_hidden()  # the camera is off again
        assert screen.outside == []
        assert screen.unexpected_console() == []
        assert screen.violations() == []
    finally:
        screen.context.close()
