"""`processing.wallet.summaries`, the wallet's figures for all of a person's memberships at
once, against `summary` (one membership as the counter's look-up reads it): equal field by
field, at moments that cross expiry, activation and an inactivity deadline, with tiers, pending
and expiring points, a plastic card and a hold. And the wallet's pages: statements that do not
grow with the number of memberships."""

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django_scopes import scope, scopes_disabled

from kopilka.core.actor import Actor
from kopilka.ledger import services as ledger
from kopilka.members import services as members
from kopilka.members import wallet
from kopilka.members.models import Member
from kopilka.processing import services as processing
from kopilka.processing import wallet as cards
from kopilka.processing.wallet import Dated
from kopilka.programs import services as programs
from kopilka.tenancy import access
from tests.conftest import make_tenant
from tests.shop import Shop
from tests.wallet.tools import person, signed_in

pytestmark = pytest.mark.django_db

PHONE = "+79160000001"  # alice's member, who joins bob and dora too
T0 = datetime(2027, 1, 11, 9, 0, tzinfo=UTC)  # 12:00 in Moscow, the shops' time zone
DAY = timedelta(days=1)
ACTOR = Actor.cli()


@pytest.fixture
def dora(db):
    return make_tenant("Dora Deli", "dora@example.com", "+79160000003")


@pytest.fixture
def three_shops(alice, bob, dora):
    """One person at three shops:
    - alice: Base 5% / Gold from 5 000.00, points burn 5 days after accrual; 1 000.00 on T0,
      2 × 200.00 a day later (5 000 + 2 × 1 000 points);
    - bob: 10%, points wait 14 days; 300.00 on T0, 100.00 a day later (3 000 + 1 000 pending);
    - dora: Base 5% / Silver from 100.00 at 10%, every point burns 30 days after the last
      purchase (the account's inactivity deadline), the warning 40 days ahead; 200.00 on T0
      (10 000... 1 000 points at Base), a plastic card, 300 points held by an order."""
    with time_machine.travel(T0 - DAY, tick=False), scopes_disabled():
        programs.save_program(alice.merchant, {
            "type": "bonus", "expiry": {"mode": "after_accrual", "days": 5},
            "tiers": [
                {"code": "base", "name": "Base", "accrual": {"kind": "percent", "percent": "5"}},
                {"code": "gold", "name": "Gold", "threshold": 500000,
                 "accrual": {"kind": "percent", "percent": "7"}},
            ]}, actor=ACTOR)
        programs.save_program(bob.merchant, {
            "type": "bonus", "activation_delay_days": 14,
            "tiers": [{"code": "base", "name": "Base",
                       "accrual": {"kind": "percent", "percent": "10"}}]}, actor=ACTOR)
        programs.save_program(dora.merchant, {
            "type": "bonus", "expiry": {"mode": "after_last_purchase", "days": 30},
            "expiry_warning_days": 40,
            "tiers": [
                {"code": "base", "name": "Base", "accrual": {"kind": "percent", "percent": "5"}},
                {"code": "silver", "name": "Silver", "threshold": 10000,
                 "accrual": {"kind": "percent", "percent": "10"}},
            ]}, actor=ACTOR)
        at_bob = processing.enrol(bob.merchant, phone=PHONE, actor=ACTOR,
                                  channel=Member.Channel.CASHIER)
        at_dora = processing.enrol(dora.merchant, phone=PHONE, actor=ACTOR,
                                   channel=Member.Channel.CASHIER)
    at_alice = alice.member
    with time_machine.travel(T0, tick=False):
        with scope(merchant=alice.merchant):
            Shop(alice).buy(at_alice, 100000)
        with scope(merchant=bob.merchant):
            Shop(bob).buy(at_bob, 30000)
        with scope(merchant=dora.merchant):
            Shop(dora).buy(at_dora, 20000)
            members.issue_card(at_dora, number="7770001", actor=ACTOR)
            with transaction.atomic():
                book = ledger.Book.open(member_id=at_dora.pk)
                book.hold(300, cause=ledger.Cause("reward_order", "1"), at=T0)
                book.save()
    with time_machine.travel(T0 + DAY, tick=False):
        with scope(merchant=alice.merchant):
            Shop(alice).buy(at_alice, 20000)
            Shop(alice).buy(at_alice, 20000)
        with scope(merchant=bob.merchant):
            Shop(bob).buy(at_bob, 10000)
    return at_alice, at_bob, at_dora


def one_by_one(memberships, at):
    """`summary` of each membership in its own merchant's scope (the reference)."""
    found = []
    for member in memberships:
        with access.enter(access.Principal.for_member(member)):
            found.append(cards.summary(member, at))
    return found


def assert_same(batched, single):
    assert len(batched) == len(single)
    for one, other in zip(batched, single, strict=True):
        for field in dataclasses.fields(cards.Summary):
            assert getattr(one, field.name) == getattr(other, field.name), (
                one.member.merchant.name, field.name)


@pytest.mark.parametrize("joined", [True, False], ids=["joined", "plain"])
@pytest.mark.parametrize("after", [
    DAY + timedelta(hours=1),  # everything live; bob's both pending
    6 * DAY,  # alice's first 5 000 burnt at local midnight, the two 1 000s not
    14 * DAY + timedelta(hours=1),  # bob's 3 000 spendable (no job has activated them)
    31 * DAY,  # dora's deadline passed: all her points burnt (the hold sets nothing aside)
])
def test_batched_summaries_equal_the_single_ones(three_shops, after, joined):
    at = T0 + after
    memberships = wallet.memberships(person(PHONE), joined=cards.joins() if joined else ())
    assert [m.merchant.name for m in memberships] == ["Alice Coffee", "Bob Bakery", "Dora Deli"]
    assert_same(cards.summaries(memberships, at), one_by_one(memberships, at))


def test_the_batched_figures(three_shops):
    memberships = wallet.memberships(person(PHONE), joined=cards.joins())
    alice, bob, dora = cards.summaries(memberships, T0 + DAY + timedelta(hours=1))
    assert (alice.available, alice.value) == (7000, 7000)
    # the last day each can be spent: 5 days after Jan 11, and after Jan 12 (both together)
    assert alice.expiring == (Dated(5000, datetime(2027, 1, 16).date()),
                              Dated(2000, datetime(2027, 1, 17).date()))
    assert (alice.tier, alice.next_tier, alice.to_next_tier) == ("Base", "Gold", 360000)
    assert (alice.spend, alice.purchases, alice.pending) == (140000, 2 + 1, ())
    assert alice.card_number == "79160000001"
    assert (bob.available, bob.expiring) == (0, ())
    assert bob.pending == (Dated(3000, datetime(2027, 1, 25).date()),
                           Dated(1000, datetime(2027, 1, 26).date()))
    assert (dora.available, dora.value) == (700, 700)  # 1 000 accrued, 300 held
    # the last day: 30 days after the purchase (the hint counts held points too, as the counter)
    assert dora.expiring == (Dated(1000, datetime(2027, 2, 10).date()),)
    assert (dora.tier, dora.next_tier, dora.to_next_tier) == ("Silver", "", 0)
    assert dora.card_number == "7770001"  # the plastic card before the phone card


def test_summaries_of_nobody_and_of_a_member_without_an_account(three_shops, bob):
    assert cards.summaries([]) == []
    with pytest.raises(ValueError):  # across merchants only for one person's own rows
        cards.summaries([three_shops[1], bob.member])
    # Registered by the members layer alone (as before the shop had a program): no account
    # yet. Its summary opens one (the single path); the others are still batched.
    with scope(merchant=bob.merchant):
        members.register_member(bob.merchant, phone="+79160000004", actor=ACTOR,
                                channel=Member.Channel.CASHIER)
    with scope(merchant=bob.merchant):
        Shop(bob).buy(bob.member, 10000)
    newcomer = wallet.memberships(person("+79160000004"), joined=cards.joins())
    with scopes_disabled():
        assert not hasattr(newcomer[0], "account")
    [found] = cards.summaries(newcomer)
    assert (found.available, found.spend, found.tier, found.pending) == (0, 0, "Base", ())
    with scopes_disabled():
        assert newcomer[0].account.lifetime_spend == 0  # opened


def statements(client, path: str) -> int:
    client.get(path)  # warm: the first request of a process reads more (catalogues, ...)
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).status_code == 200
    return len(captured)


def test_my_shops_costs_the_same_statements_for_one_membership_or_three(three_shops, bob):
    with time_machine.travel(T0 + 2 * DAY, tick=False):
        one = statements(signed_in(person(bob.member.person.phone)), "/my/shops/")
        three = statements(signed_in(person(PHONE)), "/my/shops/")
    # the person (with their session generation), the memberships (accounts and programs
    # joined), the open lots, the cards; and for the three, the open holds (dora holds some)
    assert (one, three) == (4, 4 + 1)


def test_my_shops_statements_do_not_grow_with_memberships(db):
    """1 to 4 memberships, the same phone joining one shop after another: 4 statements."""
    counts = []
    with scopes_disabled():
        tenants = [make_tenant(f"Shop {n}", f"owner{n}@example.com", f"+7916555000{n}")
                   for n in range(4)]
    for tenant in tenants:
        with scopes_disabled():
            processing.enrol(tenant.merchant, phone="+79160000009", actor=ACTOR,
                             channel=Member.Channel.CASHIER)
        counts.append(statements(signed_in(person("+79160000009")), "/my/shops/"))
    assert counts == [4, 4, 4, 4]


def test_a_card_and_a_history_page_in_few_statements(three_shops):
    at_alice = three_shops[0]
    client = signed_in(person(PHONE))
    with time_machine.travel(T0 + 2 * DAY, tick=False):
        # the person, the memberships, the lots, the cards; the rewards on offer (a card)
        assert statements(client, f"/my/cards/{at_alice.pk}/") == 5
        # ... and on a shop's page its history and its stores
        assert statements(client, f"/my/shops/{at_alice.pk}/") == 6
