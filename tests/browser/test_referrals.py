"""Referrals on a phone (#18): the member sees their code, link and QR; a friend opens the
link, joins with the newcomer's gift, and the friend's first purchase pays the member; the
owner sees it on the cabinet's referrals page."""

import re

import pytest
from django_scopes import scope, scopes_disabled
from playwright.sync_api import expect

from kopilka.core.actor import Actor
from kopilka.members.models import Member, Person
from kopilka.messaging import tasks
from kopilka.processing import services as processing
from kopilka.programs import services as programs
from kopilka.referrals import services as referrals
from kopilka.web.wallet import signin
from tests.cabinet.tools import owner_of
from tests.wallet.tools import wallet_cookie

pytestmark = pytest.mark.parametrize("viewport", ["pixel-7", "desktop"])

PROGRAM = {
    **programs.DEFAULT_PROGRAM,
    "referral": {"basis": "purchase", "levels": [{"percent": "5"}, {"percent": "2"}],
                 "newcomer_gift": {"points": 10_000, "validity_days": 30}},
}


def sms_code(outbox) -> str:
    with scopes_disabled():
        tasks.deliver_due()
    return re.search(r"\d{6}", outbox[-1].body)[0]


def test_the_member_shares_the_link_and_a_friend_joins_by_it(screen, screen_in, alice, outbox):
    programs.save_program(alice.merchant, PROGRAM, actor=Actor.cli())
    with scopes_disabled():
        anna = Person.objects.get(phone="+79160000001")
    screen.context.add_cookies([{"name": signin.COOKIE, "value": wallet_cookie(anna),
                                 "url": f"{screen.url}/my/", "httpOnly": True}])
    page = screen.page
    screen.go(f"/my/shops/{alice.member.pk}/")
    page.get_by_role("link", name="Invite friends").click()
    expect(page.get_by_role("heading", name="Invite friends", exact=True)).to_be_visible()
    code = page.locator("[data-referral-code]").inner_text()
    assert re.fullmatch(r"[2-9A-HJ-NP-Z]{8}", code)
    link = page.locator("[data-referral-link]").input_value()
    assert link == f"{screen.url}/my/join/alice-coffee/?ref={code}"
    expect(page.locator(".wallet-qr__svg")).to_be_visible()
    expect(page.locator("[data-terms]")).to_have_text(
        "Your friend gets 100 bonuses for joining. You get 5% of what they pay for your "
        "friend's first purchase. And a share of the purchases of the friends they bring, "
        "2 levels deep.")
    screen.shot("wallet-invite")

    friend = screen_in("en")  # the friend's own phone, not signed in
    friend.page.goto(link)
    expect(friend.page.locator("[data-invited]")).to_have_text(
        "Alice Coffee invited you. You get 100 bonuses for joining.")
    friend.page.get_by_label("Phone number").fill("8 916 000-00-09")
    friend.page.get_by_label("I agree that the shop processes my personal data").check()
    friend.page.get_by_role("button", name="Get a code").click()
    friend.page.get_by_label("Code from the SMS").fill(sms_code(outbox))
    friend.shot("wallet-join-invited")
    friend.page.get_by_role("button", name="Get my card").click()
    expect(friend.page.locator(".wallet-card [data-available]")).to_have_text("100 bonuses")

    with scopes_disabled():
        newcomer = Member.objects.get(person__phone="+79160000009")
    with scope(merchant=alice.merchant):
        processing.commit_purchase(alice.merchant, newcomer, processing.sale_from(
            [{"line_id": "1", "amount": 100_000}]), receipt_id="R1", source="test",
            actor=Actor.cli())
    screen.go(f"/my/shops/{alice.member.pk}/invite/")
    expect(page.locator("[data-invite-figures]")).to_have_text(
        "1 friend joined by your recommendation; you got 50 bonuses for them.")
    screen.go(f"/my/shops/{alice.member.pk}/")
    expect(page.locator(".wallet-history .row").first).to_contain_text(
        "Bonus for a recommendation")
    expect(page.locator(".wallet-history .row").first).to_contain_text("+50 bonuses")


def test_the_owner_sees_the_referral_figures(screen, alice):
    programs.save_program(alice.merchant, PROGRAM, actor=Actor.cli())
    with scope(merchant=alice.merchant):
        friend = processing.enrol(alice.merchant, phone="+79160000009", actor=Actor.cli(),
                                  channel=Member.Channel.CASHIER, first_name="Dana",
                                  referrer_code=referrals.code_for(alice.member))
        processing.commit_purchase(alice.merchant, friend, processing.sale_from(
            [{"line_id": "1", "amount": 100_000}]), receipt_id="R1", source="test",
            actor=Actor.cli())
    owner = owner_of(alice)  # signed in with the owner's password (tests/cabinet/tools.py)
    screen.context.add_cookies([{"name": name, "value": morsel.value, "url": screen.url}
                                for name, morsel in owner.cookies.items()])
    page = screen.page
    screen.go("/cabinet/")
    page.get_by_role("link", name="Referrals").first.click()
    expect(page.get_by_role("heading", name="Referrals", exact=True)).to_be_visible()
    expect(page.locator("[data-referral-figures]")).to_contain_text("50 bonuses")
    expect(page.locator("[data-top-referrers]")).to_contain_text("Alice Coffee")
    screen.shot("cabinet-referrals")
