"""The member wallet on a phone, a tablet and a desktop: sign in with the code from the SMS,
see the card with its QR for the first shop, switch to the second, the list of both shops
with their figures, a shop's history."""

import re

import pytest
from django_scopes import scope, scopes_disabled
from playwright.sync_api import expect

from kopilka.core.actor import Actor
from kopilka.members.models import Member
from kopilka.messaging import tasks
from kopilka.processing import services as processing
from kopilka.programs import services as programs
from kopilka.web.wallet import signin
from tests.shop import Shop

PHONE = "+79160000001"  # alice's member (the conftest), who joins bob as well


@pytest.fixture
def two_shops(alice, bob, outbox):
    with scopes_disabled():
        programs.save_program(alice.merchant, {
            "type": "bonus", "expiry": {"mode": "after_accrual", "days": 5},
            "tiers": [
                {"code": "base", "name": "Base", "accrual": {"kind": "percent", "percent": "5"}},
                {"code": "gold", "name": "Gold", "threshold": 500000,
                 "accrual": {"kind": "percent", "percent": "7"}},
            ]}, actor=Actor.cli())
        programs.save_program(bob.merchant, {
            "type": "bonus", "activation_delay_days": 14,
            "tiers": [{"code": "base", "name": "Base",
                       "accrual": {"kind": "percent", "percent": "5"}}]}, actor=Actor.cli())
        at_bob = processing.enrol(bob.merchant, phone=PHONE, actor=Actor.cli(),
                                  channel=Member.Channel.CASHIER)
    with scope(merchant=alice.merchant):
        Shop(alice).buy(alice.member, 100000)  # 1 000.00 at 5%: 50.00 points
        Shop(alice).buy(alice.member, 25000, spend=2000)  # 20.00 spent, 11.50 accrued on 230
    with scope(merchant=bob.merchant):
        Shop(bob).buy(at_bob, 30000)  # 300.00 at 5%: 15.00 points, waiting 14 days
    return alice.member, at_bob


def sms_code(outbox) -> str:
    with scopes_disabled():
        tasks.deliver_due()
    return re.search(r"\d{6}", outbox[-1].body)[0]


def test_sign_in_by_code_and_see_both_shops(screen, two_shops, outbox):
    page = screen.page
    screen.go("/my/")
    expect(page).to_have_url(re.compile(r"/my/signin/$"))
    screen.shot("wallet-signin")
    page.get_by_label("Phone number").fill("8 916 000-00-01")
    page.get_by_role("button", name="Get a code").click()
    expect(page.get_by_role("heading", name="Enter the code")).to_be_visible()
    page.get_by_label("Code from the SMS").fill(sms_code(outbox))
    page.get_by_role("button", name="Sign in").click()

    card = page.locator(".wallet-card")
    expect(card.locator("h1")).to_have_text("Alice Coffee")
    expect(card.locator("svg.wallet-qr__svg")).to_be_visible()
    expect(card.locator("[data-card-number]")).to_have_text("79160000001")
    expect(card.locator("[data-available]")).to_have_text("41.5 bonuses")  # 50 - 20 + 11.50
    switcher = page.locator(".wallet-switcher__shop")
    expect(switcher).to_have_text(["Alice Coffee", "Bob Bakery"])
    screen.shot("wallet-card")
    switcher.nth(1).click()
    expect(card.locator("h1")).to_have_text("Bob Bakery")
    expect(card.locator("[data-available]")).to_have_text("0 bonuses")

    page.get_by_role("link", name="My shops").click()
    shops = page.locator(".wallet-shop")
    expect(shops).to_have_count(2)
    expect(shops.nth(0).locator("[data-fact=available]")).to_have_text(
        re.compile(r"^41\.5\sbonuses\s·\sRUB\s?41\.50$"))
    expect(shops.nth(0).locator("[data-fact=spend]")).to_have_text(
        re.compile(r"^RUB\s?1,250\.00$"))
    expect(shops.nth(0).locator("[data-fact=expiring]")).to_have_text(
        re.compile(r"^41\.5\sbonuses until \w{3} \d{1,2}, \d{4}$"))  # all of it, 5 days after today
    expect(shops.nth(0).locator("[data-fact=tier]")).to_have_text(
        re.compile(r"^Base\s·\sRUB\s?3,750\.00 more to Gold$"))
    expect(shops.nth(1).locator("[data-fact=available]")).to_have_text(
        re.compile(r"^0\sbonuses\s·\sRUB\s?0\.00$"))
    expect(shops.nth(1).locator("[data-fact=pending]")).to_have_text(
        re.compile(r"^15\sbonuses from \w{3} \d{1,2}, \d{4}$"))
    push = page.locator("[data-push]")  # Chromium can take push: the card offers it
    expect(push.get_by_role("button")).to_have_text("Turn on notifications")
    expect(push).to_contain_text("free, instead of SMS")
    screen.shot("wallet-merchants")

    shops.nth(0).get_by_role("link", name="Alice Coffee").click()
    history = page.locator(".wallet-history .row")
    expect(history).to_have_count(3)  # newest first: accrued 11.50, spent 20.00, accrued 50.00
    expect(page.locator(".wallet-history__points")).to_have_text(
        ["+11.5 bonuses", "-20 bonuses", "+50 bonuses"])
    screen.shot("wallet-history")


@pytest.mark.parametrize("viewport", ["pixel-7"])
def test_sign_in_by_sms_link_once_and_turn_messages_on(screen, two_shops):
    at_alice, _at_bob = two_shops
    with scopes_disabled():
        token = signin.issue_link(at_alice.person)
    page = screen.page
    screen.go(f"/m/{token}")
    page.get_by_role("button", name="Open my cards").click()
    expect(page.locator(".wallet-card h1")).to_have_text("Alice Coffee")

    page.get_by_role("link", name="History and details").click()
    page.get_by_role("link", name="Messages and data").click()
    expect(page.locator("[data-messages]")).to_have_attribute("data-messages", "off")
    page.get_by_role("button", name="Turn messages on").click()
    expect(page.locator("[data-messages]")).to_have_attribute("data-messages", "on")
    expect(page.locator("#toasts .toast__text")).to_have_text("Messages from this shop are on.")
    screen.shot("wallet-settings")

    screen.expect_console(r"status of 410")
    other = screen.context.new_page()
    other.goto(f"{screen.url}/m/{token}")
    other.get_by_role("button", name="Open my cards").click()
    expect(other.get_by_text("This link no longer works")).to_be_visible()
