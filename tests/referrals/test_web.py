"""Referrals on every surface (#18): the POS registration, the counter's registration form,
the wallet's code, link, QR and SMS invitation, joining by the link, the cabinet's page."""

import re

import pytest
from django.core.cache import cache
from django.test import Client
from django_scopes import scope, scopes_disabled

from kopilka.core.actor import Actor
from kopilka.members.models import Member
from kopilka.messaging.models import Message
from kopilka.processing import services as processing
from kopilka.programs import services as programs
from kopilka.referrals import services as referrals
from kopilka.referrals.models import Invitation, Referral, Reward
from kopilka.tenancy.models import Staff
from tests.cabinet.tools import owner_of, staff_client
from tests.cashier.tools import at_counter
from tests.wallet.test_wallet import text
from tests.wallet.tools import person, signed_in, sms_code

pytestmark = pytest.mark.django_db

ANNA = "+79160000001"  # alice's own member (tests/conftest.py)
NEWCOMER = "+79160000009"
PROGRAM = {
    **programs.DEFAULT_PROGRAM,
    "referral": {"basis": "purchase", "levels": [{"percent": "5"}],
                 "newcomer_gift": {"points": 10_000, "validity_days": 30}},
}


@pytest.fixture(autouse=True)
def fresh_counts():
    cache.clear()


@pytest.fixture
def referring(alice):
    programs.save_program(alice.merchant, PROGRAM, actor=Actor.cli())
    return alice


def send(client, url, body):
    return client.post(url, body, content_type="application/json")


def code_of(member) -> str:
    with scope(merchant=member.merchant):
        return referrals.code_for(member)


def available(member) -> int:
    with scope(merchant=member.merchant):
        return processing.member_card(member.merchant, member).available


def test_pos_registration_with_a_referrer_code_and_the_friends_purchase(referring):
    anna = referring.member
    joined = send(referring.pos(), "/api/v1/pos/members",
                  {"phone": NEWCOMER, "referrer_code": code_of(anna).lower()})
    assert joined.status_code == 201
    assert joined.json()["available"] == 10_000  # the newcomer's gift
    bought = send(referring.pos(), "/api/v1/pos/purchases", {
        "receipt_id": "R-1", "member": {"phone": NEWCOMER},
        "lines": [{"line_id": "1", "amount": 100_000}]})
    assert bought.status_code == 201, bought.content
    assert available(anna) == 5_000
    with scopes_disabled():
        assert Reward.objects.get(level=1).points == 5_000


def test_pos_registration_is_refused_in_an_invite_only_program(alice):
    programs.save_program(alice.merchant, {**PROGRAM, "referral": {
        **PROGRAM["referral"], "invite_only": True}}, actor=Actor.cli())
    refused = send(alice.pos(), "/api/v1/pos/members", {"phone": NEWCOMER})
    assert refused.status_code == 403
    assert refused["Content-Type"] == "application/problem+json"
    assert refused.json()["errors"][0]["field"] == "referrer_code"
    with scopes_disabled():
        assert not Member.objects.filter(person__phone=NEWCOMER).exists()
    invited = send(alice.pos(), "/api/v1/pos/members",
                   {"phone": NEWCOMER, "referrer_code": ANNA})
    assert invited.status_code == 201


def test_the_counter_registers_with_the_friends_phone(referring, outbox):
    counter = at_counter(referring)
    done = counter.client.post("/cashier/register/", {
        "phone": NEWCOMER, "personal_data": "on", "referrer": "8 916 000-00-01"})
    assert done.status_code in (200, 302), text(done)
    with scopes_disabled():
        link = Referral.objects.get(newcomer__person__phone=NEWCOMER)
    assert link.referrer_id == referring.member.pk
    assert available(link.newcomer) == 10_000


def test_the_counter_shows_the_invite_only_refusal_on_the_field(alice):
    programs.save_program(alice.merchant, {**PROGRAM, "referral": {
        **PROGRAM["referral"], "invite_only": True}}, actor=Actor.cli())
    counter = at_counter(alice)
    refused = counter.client.post("/cashier/register/", {
        "phone": NEWCOMER, "personal_data": "on", "referrer": "NOBODY99"})
    assert refused.status_code == 422
    assert "This program is by invitation only" in text(refused)


def test_the_wallet_shows_the_code_link_and_qr(referring):
    anna = referring.member
    page = signed_in(person(ANNA)).get(f"/my/shops/{anna.pk}/invite/")
    assert page.status_code == 200
    code = code_of(anna)
    body = page.content.decode()
    assert f'value="http://testserver/my/join/alice-coffee/?ref={code}"' in body
    assert 'class="wallet-qr"' in body
    assert ("Your friend gets 100 bonuses for joining. You get 5% of what they pay for your "
            "friend's first purchase.") in text(page)
    assert f"/my/shops/{anna.pk}/invite/" in signed_in(person(ANNA)).get(
        f"/my/shops/{anna.pk}/").content.decode()


def test_the_invite_page_is_the_members_own(referring, bob):
    programs.save_program(bob.merchant, PROGRAM, actor=Actor.cli())
    other = signed_in(person("+79160000002"))  # bob's member
    assert other.get(f"/my/shops/{referring.member.pk}/invite/").status_code == 404
    assert Client().get(f"/my/shops/{referring.member.pk}/invite/").status_code == 302


def test_no_invite_page_without_a_referral_program(alice):
    assert signed_in(person(ANNA)).get(
        f"/my/shops/{alice.member.pk}/invite/").status_code == 404


def test_an_invitation_by_sms(referring, outbox):
    anna = referring.member
    client = signed_in(person(ANNA))
    sent = client.post(f"/my/shops/{anna.pk}/invite/", {"phone": "8 916 000-00-09"})
    assert sent.status_code == 302
    with scopes_disabled():
        message = Message.objects.get(event="invitation")
        assert Invitation.objects.get().phone == NEWCOMER
    assert message.recipient == NEWCOMER
    assert message.body == (f"Alice Coffee приглашает вас в Alice Coffee: "
                            f"http://testserver/my/join/alice-coffee/?ref={code_of(anna)}")
    again = client.post(f"/my/shops/{anna.pk}/invite/", {"phone": NEWCOMER})
    assert again.status_code == 422
    assert "You have already invited this number today." in text(again)
    member = client.post(f"/my/shops/{anna.pk}/invite/", {"phone": "+79160000001"})
    assert "This person already has a card here." in text(member)


def test_the_right_to_invite_comes_after_points_earned(alice):
    programs.save_program(alice.merchant, {**PROGRAM, "referral": {
        **PROGRAM["referral"], "invite_after_points": 5_000}}, actor=Actor.cli())
    page = signed_in(person(ANNA)).get(f"/my/shops/{alice.member.pk}/invite/")
    assert ("You can invite friends once you have earned 50 bonuses more with your purchases."
            in text(page))
    refused = signed_in(person(ANNA)).post(f"/my/shops/{alice.member.pk}/invite/",
                                           {"phone": NEWCOMER})
    assert refused.status_code == 422 and "You cannot invite friends yet." in text(refused)


def test_a_friend_joins_by_the_link(referring, outbox, settings):
    settings.ONE_TIME_CODES = {**settings.ONE_TIME_CODES, "PHONE_LIMITS": ()}
    anna = referring.member
    link = f"/my/join/alice-coffee/?ref={code_of(anna)}"
    client = Client(headers={"Accept-Language": "en"})
    page = client.get(link)
    assert "Alice Coffee invited you. You get 100 bonuses for joining." in text(page)
    asked = client.post(link, {"phone": NEWCOMER, "personal_data": "on"})
    assert re.search(r'name="ref" value="\w{8}"', asked.content.decode())
    done = client.post(link, {"action": "join", "phone": NEWCOMER, "personal_data": "on",
                              "code": sms_code(outbox), "ref": code_of(anna)})
    assert done.status_code == 302
    with scopes_disabled():
        newcomer = Member.objects.get(person__phone=NEWCOMER)
        assert Referral.objects.get(newcomer=newcomer).referrer_id == anna.pk
    assert available(newcomer) == 10_000


def test_the_cabinet_page_shows_the_settings_and_figures(referring):
    anna = referring.member
    with scope(merchant=referring.merchant):
        friend = processing.enrol(referring.merchant, phone=NEWCOMER, actor=Actor.cli(),
                                  channel=Member.Channel.CASHIER,
                                  referrer_code=referrals.code_for(anna))
        processing.commit_purchase(referring.merchant, friend, processing.sale_from(
            [{"line_id": "1", "amount": 100_000}]), receipt_id="R1", source="test",
            actor=Actor.cli())
    page = owner_of(referring).get("/cabinet/referrals/")
    assert page.status_code == 200
    shown = text(page)
    assert "A newcomer gets 100 bonuses for joining by a recommendation." in shown
    assert "Level 1: 5% of the friend's purchase" in shown
    assert "Members who brought friends 1" in shown
    assert "Newcomers by recommendation 1 1 of them bought" in shown
    assert "Rewards paid to referrers 50 bonuses" in shown
    assert "Alice Coffee 1 friend" in shown
    _staff, cashier = staff_client(referring, Staff.Role.CASHIER)
    assert cashier.get("/cabinet/referrals/").status_code == 403


def test_an_invite_only_join_page_asks_for_the_invitation_before_any_code(alice, outbox):
    programs.save_program(alice.merchant, {**PROGRAM, "referral": {
        **PROGRAM["referral"], "invite_only": True}}, actor=Actor.cli())
    client = Client(headers={"Accept-Language": "en"})
    page = client.get("/my/join/alice-coffee/")
    assert "This program is by invitation only: open the link a member sent you" in text(page)
    refused = client.post("/my/join/alice-coffee/", {"phone": NEWCOMER,
                                                     "personal_data": "on"})
    assert refused.status_code == 422
    assert "give the code, phone or card number of the member who invited you" in text(refused)
    assert outbox == []  # no code was sent
    invited = client.post(f"/my/join/alice-coffee/?ref={code_of(alice.member)}",
                          {"phone": NEWCOMER, "personal_data": "on"})
    assert invited.status_code == 200 and "We sent a code to" in text(invited)


def test_the_join_page_of_a_shop_without_a_program(bob):
    from kopilka.programs.models import Program

    with scopes_disabled():
        Program.objects.filter(merchant=bob.merchant).delete()
    page = Client(headers={"Accept-Language": "en"}).get("/my/join/bob-bakery/?ref=ABC")
    assert page.status_code == 200
