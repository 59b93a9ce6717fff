"""The web foundation in a real browser, on a phone, a tablet and a desktop: the vendored
scripts load and run under the Content-Security-Policy, the language switch, htmx's 4xx/5xx
rules, history restore, Alpine's CSP build, and QR decoding with our own WebAssembly. Nothing
may leave the test server (conftest.py's guard)."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.utils.csp import build_policy
from playwright.sync_api import expect

from tests.browser.conftest import POLICY
from tests.browser.urls import QR_TEXT

HOME = {  # the sign-up, the cashier's place, the cabinet, the wallet, the API documentation,
    # the lead text
    "ru": ("Запустить программу лояльности", "Рабочее место кассира", "Кабинет компании",
           "Мои карты", "Документация API",
           "Бонусные баллы, карты и сообщения для магазинов и их покупателей."),
    "uk": ("Розпочати програму лояльності", "Робоче місце касира", "Кабінет компанії",
           "Мої картки", "Документація API",
           "Бонусні бали, картки та повідомлення для магазинів і їхніх покупців."),
    "en": ("Start a loyalty program", "Cashier workplace", "Merchant cabinet", "My cards",
           "API documentation",
           "Bonus points, cards and messages for shops and their customers."),
}


def toast_texts(screen) -> list[str]:
    return screen.page.locator("#toasts .toast__text").all_inner_texts()


def test_root_page_in_each_language_runs_the_vendored_scripts(screen_in):
    for language, (*places, lead) in HOME.items():
        screen = screen_in(language)
        response = screen.go("/")
        assert response.status == 200
        assert response.headers["content-security-policy"] == build_policy(POLICY)
        page = screen.page
        assert page.locator("html").get_attribute("lang") == language
        assert page.locator(".card__title").all_inner_texts() == places
        assert page.locator(".lead").inner_text() == lead
        assert page.evaluate("window.htmx.version").startswith("2.0.")
        assert page.evaluate("window.Alpine.version").startswith("3.")
        assert page.evaluate("typeof window.gettext") == "function"  # the JS catalogue
        screen.shot(f"home-{language}")


def test_language_switch(screen):
    screen.go("/")
    screen.page.get_by_role("button", name="Русский").click()
    screen.page.wait_for_selector('html[lang="ru"]')
    assert screen.page.locator('.lang-switch [aria-current="true"]').inner_text() == "Рус"
    assert screen.page.locator(".card__title").last.inner_text() == "Документация API"
    screen.page.get_by_role("button", name="Українська").click()
    screen.page.wait_for_selector('html[lang="uk"]')
    assert screen.page.locator(".card__title").last.inner_text() == "Документація API"
    screen.shot("home-after-switch-uk")


def test_form_errors_come_back_as_422_and_are_swapped_in(screen):
    screen.expect_console(r"status of 422")
    screen.go("/test/form/")
    page = screen.page
    page.fill("#id_phone", "12")
    page.fill("#id_amount", "0")
    page.get_by_role("button", name="Save").click()
    page.wait_for_selector("#id_phone_error")
    assert page.locator("#id_phone_error").inner_text() == "Enter the phone with its country code."
    assert page.locator("#id_amount").get_attribute("aria-invalid") == "true"
    expect(page.locator("#id_phone")).to_be_focused()  # the first wrong field, ready to type
    assert page.locator(".navbar").count() == 1  # swapped into the form, not over the page
    assert toast_texts(screen) == []
    screen.shot("form-errors")

    page.fill("#id_phone", "+79161234567")
    page.fill("#id_amount", "1500")
    page.get_by_role("button", name="Save").click()  # a POST with the CSRF header from app.js
    page.wait_for_selector("#saved")
    assert page.locator("#saved").inner_text() == "Saved +79161234567: 1500"
    assert page.locator("#id_phone_error").count() == 0


def test_other_failures_show_a_message_and_swap_nothing(screen):
    for status in (500, 409, 403):
        screen.expect_console(rf"status of {status}")
    screen.expect_console(r"ERR_INTERNET_DISCONNECTED")
    screen.expect_console(r"^htmx:(afterRequest|sendError), ")  # htmx logs a failed send itself
    screen.go("/test/form/")
    page = screen.page
    form_before = page.locator("#card-form").inner_html()

    page.click("#crash")
    page.wait_for_selector("#toasts .toast")
    assert toast_texts(screen) == ["Something went wrong on the server. Try again in a minute."]
    assert page.locator("#toasts .toast").get_attribute("role") == "alert"
    page.click("#conflict")  # the server's own message, in the user's language
    expect(page.locator("#toasts .toast")).to_have_count(2)
    page.click("#forbidden")
    expect(page.locator("#toasts .toast")).to_have_count(3)
    screen.context.set_offline(True)
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#toasts .toast").last).to_contain_text("No connection")
    screen.context.set_offline(False)
    assert toast_texts(screen) == [  # the oldest went: three at most
        "Your role does not allow this.",
        "You may not do this.",
        "No connection to the server. Check the network and try again.",
    ]
    assert page.locator("#card-form").inner_html() == form_before
    screen.shot("toasts")
    page.get_by_role("button", name="Close").first.click()
    expect(page.locator("#toasts .toast")).to_have_count(2)


def test_failure_message_in_the_users_language(screen_in):
    screen = screen_in("ru")
    screen.expect_console(r"status of 500")
    screen.go("/test/form/")
    screen.page.click("#crash")
    screen.page.wait_for_selector("#toasts .toast")
    assert toast_texts(screen) == [
        "На сервере что-то пошло не так. Попробуйте ещё раз через минуту."]
    assert screen.page.locator("#toasts .toast__close").get_attribute("aria-label") == "Закрыть"
    screen.shot("toast-ru")


def test_back_button_gets_the_full_page(screen):
    restores = []
    screen.page.on("request", lambda request: restores.append(request.url) if request.headers.get(
        "hx-history-restore-request") == "true" else None)
    screen.go("/test/components/")
    screen.page.click("#to-home")
    screen.page.wait_for_url(screen.url + "/")
    assert screen.page.locator("main .card__title").last.inner_text() == "API documentation"
    screen.page.go_back()
    screen.page.wait_for_selector("h1:text('Components')")
    assert restores == [screen.url + "/test/components/"]
    assert screen.page.locator(".navbar").count() == 1
    assert screen.page.locator("main h1").inner_text() == "Components"


def test_components_alpine_and_dialog(screen):
    screen.go("/test/components/")
    page = screen.page
    page.click("#count")
    page.click("#count")
    expect(page.locator("#count")).to_have_text("Clicked 2")
    screen.shot("components")
    page.get_by_role("button", name="Delete card").click()
    assert page.locator("#confirm-refund").is_visible()
    screen.shot("components-dialog")
    page.locator("#confirm-refund").get_by_role("button", name="Cancel").click()
    assert not page.locator("#confirm-refund").is_visible()


@pytest.mark.parametrize("viewport", ["desktop"])
def test_the_policy_is_enforced(screen):
    """A control for the checks above: an inline script is refused and the test sees it."""
    screen.expect_console(r"^Executing inline script violates")
    screen.go("/test/inline/")
    assert screen.page.evaluate("window.inlineRan === undefined")
    assert [v.split(" at ")[0] for v in screen.violations()] == ["script-src-elem inline"]
    screen.go("/")  # a fresh document: nothing left for the final check


@pytest.mark.parametrize("viewport", ["desktop"])
def test_the_guard_stops_outside_requests(screen, settings):
    """A control for the guard: with no policy to stop it first, a request to another host is
    aborted by the guard and recorded."""
    settings.SECURE_CSP = {}
    screen.expect_console(r"ERR_FAILED|Failed to fetch")
    screen.go("/")
    result = screen.page.evaluate(
        "fetch('http://outside.invalid/track').then(() => 'sent', () => 'aborted')")
    assert result == "aborted"
    assert screen.outside == ["http://outside.invalid/track"]
    screen.outside.clear()


@pytest.mark.parametrize("viewport", ["desktop"])
def test_operator_signs_in_and_finds_the_admin(screen):
    get_user_model().objects.create_superuser("op", "op@example.com", "a-long-pass-phrase")
    screen.go("/")
    screen.page.get_by_role("link", name="Operator sign-in").click()
    screen.page.fill("#id_username", "op")
    screen.page.fill("#id_password", "a-long-pass-phrase")
    screen.page.locator("input[type=submit]").click()
    screen.page.wait_for_url(screen.url + "/")
    assert screen.page.locator(".card__title").all_inner_texts() == [
        "Cashier workplace", "Merchant cabinet", "My cards", "Operator admin",
        "API documentation"]
    screen.shot("home-operator")


def test_qr_is_read_with_our_own_webassembly(screen):
    wasm = []
    screen.page.on("response", lambda response: response.url.endswith(".wasm") and wasm.append(
        (response.url, response.status, response.headers["content-type"])))
    screen.go("/test/scan/")
    value = screen.page.evaluate("""async () => {
        const image = document.getElementById("qr");
        await image.decode();
        const detector = await window.Kopilka.barcodeDetector(["qr_code"]);
        const found = await detector.detect(image);
        return found.map((code) => code.format + ":" + code.rawValue);
    }""")
    assert value == [f"qr_code:{QR_TEXT}"]
    assert wasm == [(screen.url + "/static/vendor/zxing-wasm/zxing_reader.wasm", 200,
                     "application/wasm")]
    assert re.search(r"script-src 'self' 'wasm-unsafe-eval'",
                     screen.go("/test/scan/").headers["content-security-policy"])


@pytest.mark.parametrize("viewport", ["desktop"])
def test_the_api_documentation_the_root_page_links_to_loads_from_this_site(screen):
    screen.go("/")
    screen.page.get_by_role("link", name="API documentation").click()
    screen.page.wait_for_url(screen.url + "/api/v1/docs")
    # Swagger UI renders late on a busy machine.
    expect(screen.page.locator(".swagger-ui .info .title")).to_contain_text("Kopilka",
                                                                            timeout=15_000)
    screen.shot("api-docs")
