"""Holds (pending-out): points set aside cannot be spent twice; a capture spends them from the
lots in the usual order; a release or a lapse gives them back. Exact balances and entries."""

from datetime import timedelta

import pytest
import time_machine

from kopilka.core import clock
from kopilka.core.actor import Actor
from kopilka.core.errors import Conflict
from kopilka.ledger.models import Entry, Hold
from kopilka.ledger.verify import verify
from kopilka.processing import holds

ACTOR = Actor.cli()
pytestmark = pytest.mark.django_db


def _hold(shop, member, points, *, hours=24, cause_id="1"):
    return holds.hold_points(shop.merchant, member, points=points, cause_type="reward_order",
                             cause_id=cause_id,
                             expires_at=clock.now() + timedelta(hours=hours), actor=ACTOR)


def test_held_points_stay_in_the_total_but_cannot_be_spent(shop):
    shop.program(welcome_bonus=500, max_redeem_percent="100")
    member = shop.join()
    result = _hold(shop, member, 300)
    assert (result.available, result.held) == (200, 300)
    assert shop.balance(member) == (200, 0)  # what quotes and the counter see
    member.account.refresh_from_db()
    assert (member.account.available, member.account.held) == (500, 300)  # total stays
    assert Entry.objects.filter(account=member.account).count() == 1  # the welcome only
    with pytest.raises(Conflict, match="200"):  # the quote offers only the unheld 200
        shop.buy(member, 100_000, spend=201)
    purchase = shop.buy(member, 100_000, spend=200).purchase
    assert (purchase.points_spent, purchase.points_accrued) == (200, 4_990)
    member.account.refresh_from_db()
    assert (member.account.available, member.account.held) == (5_290, 300)
    assert shop.balance(member) == (4_990, 0)
    with pytest.raises(holds.InsufficientPoints):
        _hold(shop, member, 4_991, cause_id="2")
    assert verify() == (2, [])


def test_capture_spends_the_held_points_soonest_expiring_first(shop):
    shop.program(welcome_bonus=100)
    member = shop.join()
    shop.buy(member, 100_000)  # +5 000 accrued (5 %)
    hold = _hold(shop, member, 300).hold
    spent = holds.capture_hold(shop.merchant, hold.pk, cause_type="reward_order",
                               cause_id="1", actor=ACTOR)
    assert (spent.available, spent.held) == (4_800, 0)
    member.account.refresh_from_db()
    assert (member.account.available, member.account.held) == (4_800, 0)
    redeems = list(Entry.objects.filter(account=member.account, kind=Entry.Kind.REDEEM)
                   .order_by("seq").values_list("available_delta", "cause_type", "cause_id",
                                                "lot__kind"))
    # Neither lot expires: the older one (the welcome bonus) goes first.
    assert redeems == [(-100, "reward_order", "1", "welcome"),
                       (-200, "reward_order", "1", "accrual")]
    assert Hold.objects.get().state == Hold.State.CAPTURED
    with pytest.raises(holds.HoldClosed):
        holds.capture_hold(shop.merchant, hold.pk, cause_type="reward_order", cause_id="1",
                           actor=ACTOR)
    assert verify() == (2, [])


def test_release_gives_the_points_back_once(shop):
    shop.program(welcome_bonus=500)
    member = shop.join()
    hold = _hold(shop, member, 500).hold
    assert shop.balance(member) == (0, 0)
    released = holds.release_hold(shop.merchant, hold.pk)
    assert (released.available, released.held) == (500, 0)
    assert holds.release_hold(shop.merchant, hold.pk) is None  # already released: nothing
    assert shop.balance(member) == (500, 0)
    assert Hold.objects.get().state == Hold.State.RELEASED
    assert Entry.objects.filter(account=member.account).count() == 1
    assert verify() == (2, [])


def test_a_lapsed_hold_stops_counting_at_once_and_the_next_write_releases_it(shop):
    shop.program(welcome_bonus=500)
    member = shop.join()
    hold = _hold(shop, member, 400, hours=2).hold
    assert shop.balance(member) == (100, 0)
    with time_machine.travel(clock.now() + timedelta(hours=2, seconds=1), tick=False):
        assert shop.balance(member) == (500, 0)  # a read: no job needed
        with pytest.raises(holds.HoldClosed):
            holds.capture_hold(shop.merchant, hold.pk, cause_type="reward_order",
                               cause_id="1", actor=ACTOR)
        shop.buy(member, 1_000)  # any write materialises the lapse
    hold.refresh_from_db()
    member.account.refresh_from_db()
    assert (hold.state, member.account.held) == (Hold.State.RELEASED, 0)
    assert verify() == (2, [])


def test_verify_ledger_notices_a_held_count_edited_by_hand(shop):
    shop.program(welcome_bonus=500)
    member = shop.join()
    _hold(shop, member, 100)
    type(member.account).objects.filter(pk=member.account.pk).update(held=50)
    checked, breaches = verify()
    assert [str(b) for b in breaches] == [
        f"account {member.account.pk}: account {member.account.pk}: held 50 != its open holds 100"]
