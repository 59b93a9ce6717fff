"""The counter's sign-in in a real browser on a phone, a tablet and a desktop: a manager signs
the device in, a cashier sets a PIN, the counter is locked, and a cashier switches in with the
PIN pad by keyboard (a wrong PIN first) and by taps."""

from importlib import import_module

import pytest
from django_scopes import scope
from playwright.sync_api import expect

from kopilka.core.actor import Actor
from kopilka.tenancy import counter as counters
from kopilka.tenancy.models import Staff
from kopilka.web.cashier import counter
from tests.cashier.tools import device_cookie, new_device
from tests.tenancy.tools import PASSWORD, make_staff


def staff_named(tenant, email: str, role: str, first: str, last: str) -> Staff:
    staff = make_staff(tenant.merchant, email, role)
    staff.user.first_name, staff.user.last_name = first, last
    staff.user.save(update_fields=["first_name", "last_name"])
    return staff


def test_sign_the_device_in_set_a_pin_and_switch_with_the_pin_pad(screen, alice):
    screen.expect_console(r"status of 422")
    staff_named(alice, "maria@alice.test", Staff.Role.MANAGER, "Maria", "Ivanova")
    cashier = staff_named(alice, "dana@alice.test", Staff.Role.CASHIER, "Dana", "Petrenko")
    other = staff_named(alice, "oleg@alice.test", Staff.Role.CASHIER, "Oleg", "Sidorov")
    with scope(merchant=alice.merchant):
        counters.set_pin(other, "1397", actor=Actor.cli())
    page = screen.page

    screen.go("/cashier/")
    expect(page).to_have_url(screen.url + "/cashier/device/")
    expect(page.locator("h1")).to_have_text("This device is not a counter yet")
    screen.shot("cashier-device")
    page.fill("#id_email", "maria@alice.test")
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("h1")).to_have_text("Which counter is this?")
    expect(page.locator("#id_name")).to_have_value("Counter 1")
    screen.shot("cashier-device-name")
    page.get_by_role("button", name="Make this device a counter").click()
    expect(page).to_have_url(screen.url + "/cashier/switch/")
    expect(page.locator(".navbar__place")).to_have_text("Main · Counter 1")

    # Dana has no PIN yet: she sets one with her password and is at the counter.
    page.get_by_role("link", name="Set or change my PIN").click()
    page.fill("#id_email", "dana@alice.test")
    page.fill("#id_password", PASSWORD)
    page.fill("#id_pin", "2580")
    page.fill("#id_pin_again", "2580")
    screen.shot("cashier-pin")
    page.get_by_role("button", name="Save my PIN").click()
    expect(page).to_have_url(screen.url + "/cashier/")
    expect(page.locator(".navbar__place")).to_have_text("Main · Dana Petrenko")
    screen.shot("cashier-switched-in")

    # She steps away: the counter asks who is there.
    page.get_by_role("button", name="Switch cashier").click()
    expect(page).to_have_url(screen.url + "/cashier/switch/")
    expect(page.locator(".person__name")).to_have_text(["Dana Petrenko", "Oleg Sidorov"])
    screen.shot("cashier-switch")

    # By keyboard: a wrong PIN, then the right one.
    page.get_by_role("link", name="Dana Petrenko").click()
    expect(page.locator(".pinpad__name")).to_have_text("Dana Petrenko")
    page.locator("body").click(position={"x": 5, "y": 200})  # focus anywhere but the field
    page.wait_for_load_state("load")  # signin.js is deferred: a person is never this fast
    page.keyboard.type("1111")
    expect(page.locator("#id_pin")).to_have_value("1111")
    page.keyboard.press("Enter")
    expect(page.locator(".pinpad__error")).to_have_text("Wrong PIN. 4 attempts left.")
    page.wait_for_load_state("load")
    screen.shot("cashier-switch-pin")
    page.keyboard.type("2580")
    page.keyboard.press("Backspace")
    page.keyboard.type("0")
    page.keyboard.press("Enter")
    expect(page).to_have_url(screen.url + "/cashier/")
    with scope(merchant=alice.merchant):
        cashier.refresh_from_db()
    assert cashier.pin_failures == 0

    # By taps: Oleg takes over.
    page.get_by_role("button", name="Switch cashier").click()
    page.get_by_role("link", name="Oleg Sidorov").click()
    expect(page.locator(".pinpad__name")).to_have_text("Oleg Sidorov")
    page.wait_for_load_state("load")
    for digit in "1397":
        page.locator(f".pinpad__key[data-digit='{digit}']").click()
    page.get_by_role("button", name="OK").click()
    expect(page.locator(".navbar__place")).to_have_text("Main · Oleg Sidorov")


def switched_in(screen, tenant, settings, staff: Staff) -> None:
    """The tab's browser is a counter device of `tenant` with `staff` switched in."""
    terminal, key = new_device(tenant)
    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session[counter.SESSION_KEY] = {"terminal": terminal.pk, "staff": staff.pk}
    session.save()
    screen.context.add_cookies([
        {"name": counter.DEVICE_COOKIE, "value": device_cookie(key), "url": screen.url},
        {"name": settings.SESSION_COOKIE_NAME, "value": session.session_key, "url": screen.url},
    ])


@pytest.mark.parametrize("viewport", ["desktop"])
def test_an_idle_counter_locks_itself(screen, alice, settings):
    """signin.js submits the header's lock form after the idle time the page was given."""
    settings.COUNTER_IDLE_LOCK = 2
    switched_in(screen, alice, settings,
                make_staff(alice.merchant, "dana@alice.test", Staff.Role.CASHIER))
    screen.go("/cashier/")
    expect(screen.page.locator(".navbar__lock")).to_have_attribute("data-idle-lock", "2")
    expect(screen.page).to_have_url(screen.url + "/cashier/switch/", timeout=10_000)
    screen.go("/cashier/")  # and the server agrees: nobody is switched in
    expect(screen.page).to_have_url(screen.url + "/cashier/switch/")


@pytest.mark.parametrize("viewport", ["pixel-7"])
def test_the_counter_in_russian_on_a_phone(screen_in, alice, settings):
    screen = screen_in("ru")
    dana = staff_named(alice, "dana@alice.test", Staff.Role.CASHIER, "Дарья", "Петренко")
    staff_named(alice, "oleg@alice.test", Staff.Role.CASHIER, "Олег", "Сидоров")
    with scope(merchant=alice.merchant):
        for staff, pin in ((dana, "2580"), (Staff.objects.get(user__email="oleg@alice.test"),
                                            "1397")):
            counters.set_pin(staff, pin, actor=Actor.cli())
    switched_in(screen, alice, settings, dana)
    screen.go("/cashier/")
    page = screen.page
    expect(page.locator(".navbar__place")).to_have_text("Main · Дарья Петренко")
    screen.shot("cashier-switched-in-ru")
    page.get_by_role("button", name="Сменить кассира").click()
    expect(page.locator("h1")).to_have_text("Кто на кассе?")
    screen.shot("cashier-switch-ru")
    page.get_by_role("link", name="Олег Сидоров").click()
    expect(page.locator(".pinpad__label")).to_have_text("Введите ПИН-код")
    screen.shot("cashier-pinpad-ru")
    page.get_by_role("link", name="Не вы? Выберите своё имя").click()
    page.get_by_role("link", name="Отключить это устройство").click()
    expect(page.locator("h1")).to_have_text("Отключить это устройство")
    screen.shot("cashier-sign-out-ru")
