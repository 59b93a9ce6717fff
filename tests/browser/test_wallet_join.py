"""The wallet on a phone: a newcomer joins a shop by its link (code, consent, the
self-registration gift), a member takes an alias, joins another shop showing only the alias,
and that shop's counter finds them by it without the phone number."""

import re

import pytest
from django.core.cache import cache
from django_scopes import scopes_disabled
from playwright.sync_api import expect

from kopilka.members.models import Person
from kopilka.messaging import tasks
from kopilka.web.wallet import signin
from tests.browser.counter import open_counter
from tests.shop import Shop
from tests.wallet.tools import wallet_cookie

pytestmark = pytest.mark.parametrize("viewport", ["pixel-7"])


def sms_code(outbox) -> str:
    with scopes_disabled():
        tasks.deliver_due()
    return re.search(r"\d{6}", outbox[-1].body)[0]


@pytest.fixture
def gifts(bob):
    """bob: 25.00 welcome bonus, 15.00 more for joining by oneself."""
    with scopes_disabled():
        Shop(bob).program(welcome_bonus=2500,
                          self_registration_gift={"points": 1500, "validity_days": 30})
    cache.clear()  # alias look-ups are counted there
    return bob


def test_a_newcomer_joins_by_the_shops_link(screen, gifts, outbox):
    page = screen.page
    screen.go("/my/join/bob-bakery/")
    expect(page.get_by_role("heading", name="A card at Bob Bakery")).to_be_visible()
    page.get_by_label("Phone number").fill("8 916 000-00-09")
    page.get_by_label("First name (if you like)").fill("Dana")
    page.get_by_label("I agree that the shop processes my personal data").check()
    page.get_by_role("button", name="Get a code").click()
    expect(page.locator("[data-step=code]")).to_contain_text("+7916***0009")
    page.get_by_label("Code from the SMS").fill(sms_code(outbox))
    screen.shot("wallet-join")
    page.get_by_role("button", name="Get my card").click()
    card = page.locator(".wallet-card")
    expect(card.locator("h1")).to_have_text("Bob Bakery")
    expect(card.locator("[data-available]")).to_have_text("40 bonuses")  # 25 + 15
    expect(page.locator("#toasts .toast__text")).to_have_text(
        "Welcome to Bob Bakery! 40 bonuses are already yours.")


def test_an_alias_found_at_another_shops_counter_without_the_phone(screen, alice, gifts,
                                                                    outbox):
    with scopes_disabled():
        person = Person.objects.get(phone="+79160000001")  # alice's member
    screen.context.add_cookies([{"name": signin.COOKIE, "value": wallet_cookie(person),
                                 "url": f"{screen.url}/my/", "httpOnly": True}])
    page = screen.page
    screen.go("/my/")
    page.get_by_role("link", name="Alias").click()
    page.get_by_label("Alias", exact=True).fill("Anna")
    page.get_by_role("button", name="Send me a code to confirm").click()
    page.get_by_label("Code from the SMS").fill(sms_code(outbox))
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("[data-alias]")).to_have_text("@Anna")
    screen.shot("wallet-alias")

    screen.go("/my/join/bob-bakery/")
    page.get_by_label("I agree that the shop processes my personal data").check()
    page.get_by_label("Show the shop only my alias, not my phone number").check()
    page.get_by_role("button", name="Get my card").click()
    expect(page.locator(".wallet-card h1")).to_have_text("Bob Bakery")

    open_counter(screen, gifts)  # the same phone as bob's counter, for the picture
    screen.go("/cashier/")
    page.locator("#counter-q").fill("@anna")
    page.locator("#counter-q").press("Enter")
    member = page.locator(".member-card")
    expect(member.locator(".member-card__phone")).to_have_text("@Anna")
    expect(member).not_to_contain_text("0001")
    expect(member.locator("[data-available]")).to_contain_text("40")
    screen.shot("wallet-alias-counter")


def test_the_card_shows_offline_as_of_when_it_was_kept(screen, alice):
    with scopes_disabled():
        person = Person.objects.get(phone="+79160000001")
    screen.context.add_cookies([{"name": signin.COOKIE, "value": wallet_cookie(person),
                                 "url": f"{screen.url}/my/", "httpOnly": True}])
    page = screen.page
    screen.go(f"/my/cards/{alice.member.pk}/")
    # Not wait_for_function: it evaluates a string, which the page's CSP refuses.
    for _ in range(100):
        if page.evaluate("navigator.serviceWorker.controller !== null"):
            break
        page.wait_for_timeout(100)
    assert page.evaluate("navigator.serviceWorker.controller !== null")
    page.reload()  # now through the worker, which keeps the page
    expect(page.locator(".wallet-card h1")).to_have_text("Alice Coffee")
    expect(page.locator("[data-offline]")).to_be_hidden()
    screen.context.set_offline(True)
    page.goto(f"{screen.url}/my/")
    expect(page.locator(".wallet-card h1")).to_have_text("Alice Coffee")
    expect(page.locator("[data-offline]")).to_be_visible()
    expect(page.locator("[data-offline]")).to_contain_text("No connection: your card as of")
    expect(page.locator(".wallet-qr__svg")).to_be_visible()
    screen.shot("wallet-offline")
    screen.context.set_offline(False)
