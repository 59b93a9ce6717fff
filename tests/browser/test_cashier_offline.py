"""The counter without network, in a real browser (Playwright's offline mode): an accrual-only
sale kept on the device, "waiting to upload", spending points refused, the upload when the
network returns with the purchase's exact points, a refused sale fixed or dropped; then the
shift with that sale and its printable close."""

import re

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django_scopes import scope
from playwright.sync_api import expect

from kopilka.processing.models import Purchase, Shift
from kopilka.tenancy.models import Staff
from kopilka.web.cashier import counter
from tests.cashier.tools import device_cookie, new_device
from tests.shop import Shop
from tests.tenancy.tools import make_staff

PHONE = "+79990000001"


def open_counter(screen, tenant):
    """This tab is a counter device of `tenant` with a new cashier switched in: the device's
    signed cookie and a session, as the sign-in screens would leave them."""
    terminal, key = new_device(tenant)
    staff = make_staff(tenant.merchant, f"offline-{terminal.pk}@alice.test", Staff.Role.CASHIER)
    session = SessionStore()
    session[counter.SESSION_KEY] = {"terminal": terminal.pk, "staff": staff.pk}
    session.create()
    screen.context.add_cookies([
        {"name": counter.DEVICE_COOKIE, "value": device_cookie(key), "url": screen.url},
        {"name": settings.SESSION_COOKIE_NAME, "value": session.session_key, "url": screen.url},
    ])
    return terminal, staff


@pytest.fixture
def anna(alice):
    with scope(merchant=alice.merchant):
        shop = Shop(alice).program()  # 5 % accrual
        return shop.join(PHONE)


def test_a_sale_kept_offline_is_uploaded_when_the_network_returns(screen, alice, anna):
    terminal, staff = open_counter(screen, alice)
    page = screen.page
    screen.go("/cashier/")
    panel = page.locator("[data-offline-panel]")
    expect(panel).to_be_hidden()

    screen.context.set_offline(True)
    expect(panel).to_be_visible()
    expect(page.locator("#offline-member")).to_be_focused()
    # Paying with points needs the server: said at once, and nothing is kept.
    page.get_by_label("Pay with points").check()
    error = page.locator("[data-offline-error]")
    expect(error).to_have_text("Paying with points needs the server. Sell with accrual only "
                               "now, or wait for the network.")
    page.get_by_role("button", name="Keep the sale on this device").click()
    expect(page.locator("[data-offline-queue] li")).to_have_count(0)
    page.get_by_label("Pay with points").uncheck()

    page.fill("#offline-member", PHONE)
    page.fill("#offline-amount", "1 500,00")
    page.get_by_role("radio", name="Cash").check()
    page.keyboard.press("Enter")  # the keyboard alone keeps the sale
    page.fill("#offline-member", "+79995554433")  # nobody has this phone
    page.fill("#offline-amount", "200")
    page.get_by_role("button", name="Keep the sale on this device").click()
    rows = page.locator("[data-offline-queue] li")
    expect(rows).to_have_count(2)
    expect(rows.locator(".offline__status")).to_have_text(["Waiting to upload"] * 2)
    expect(rows.first.locator(".row__value")).to_have_text(re.compile(r"1,500\.00"))
    receipt = rows.first.locator('[data-field="receipt"]').inner_text()
    assert re.fullmatch(rf"OFF-{terminal.key_prefix}-\d{{14}}-[0-9a-z]+", receipt)
    screen.shot("cashier-offline")

    screen.context.set_offline(False)  # the `online` event: the queue goes up
    expect(rows).to_have_count(1)
    expect(rows.locator(".offline__status")).to_have_text(
        "Not uploaded: No member with this phone or card number.")
    expect(page.locator("#toasts")).to_contain_text("1 sale kept offline was uploaded.")
    expect(panel).to_be_hidden()
    screen.shot("cashier-offline-uploaded")
    with scope(merchant=alice.merchant):
        purchase = Purchase.objects.get()
        assert (purchase.receipt_id, purchase.member_id, purchase.total, purchase.points_accrued,
                purchase.points_spent, purchase.payment_method) == (
            receipt, anna.pk, 150_000, 7_500, 0, "cash")
        assert (purchase.terminal_id, purchase.cashier_id) == (terminal.pk, staff.pk)
        assert purchase.occurred_at <= purchase.recorded_at

    # The refused one: fixed (the phone was mistyped), kept again with its receipt id, uploaded.
    refused = rows.first.locator('[data-field="receipt"]').inner_text()
    rows.first.get_by_role("button", name="Fix").click()
    expect(page.locator("#offline-amount")).to_have_value("200.00")
    page.fill("#offline-member", PHONE)
    page.get_by_role("button", name="Keep the sale on this device").click()
    expect(rows).to_have_count(0)
    expect(page.locator("[data-offline-queue-box]")).to_be_hidden()
    with scope(merchant=alice.merchant):
        assert Purchase.objects.get(receipt_id=refused).points_accrued == 1_000

    # The shift has both, and closes with a printable summary.
    screen.go("/cashier/shift/")
    expect(page.locator(".shift-sales tbody tr")).to_have_count(2)
    expect(page.locator(".shift-sales .badge")).to_have_text(["offline", "offline"])
    screen.shot("cashier-shift-live")
    page.get_by_role("button", name="Close shift").click()
    page.locator("#close-shift").get_by_role("button", name="Close shift").click()
    expect(page.locator("#shift-closed-title")).to_have_text("Shift closed")
    expect(page.locator(".shift-print .figure__value")).to_have_text(
        ["RUB1,700.00", "2", "85 bonuses", "0 bonuses"])
    with scope(merchant=alice.merchant):
        assert Shift.objects.get().summary["points_accrued"] == 8_500
    screen.shot("cashier-shift")
    page.emulate_media(media="print")
    expect(page.get_by_role("button", name="Print")).to_be_hidden()
    expect(page.locator(".navbar")).to_be_hidden()
    screen.shot("cashier-shift-print")
