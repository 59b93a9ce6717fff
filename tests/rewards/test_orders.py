"""The reward catalogue's orders: held, handed over (spent), cancelled, lapsed; refusals.
Exact balances and ledger entries."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import translation

from kopilka.core import clock
from kopilka.core.actor import Actor
from kopilka.core.errors import Conflict, NotFound
from kopilka.ledger.models import Entry, Hold
from kopilka.ledger.verify import verify
from kopilka.rewards import services as rewards
from kopilka.rewards.models import Order
from kopilka.tenancy.models import Store

ACTOR = Actor.cli()
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def _item(shop, name="Coffee", price=100, **kwargs):
    return rewards.create_item(shop.merchant, rewards.ItemInput(name=name, price=price, **kwargs),
                               actor=ACTOR)


def _card(shop, member):
    member.account.refresh_from_db()
    available, _pending = shop.balance(member)
    return available, member.account.available, member.account.held


def test_an_order_holds_the_price_then_the_hand_over_spends_it(shop):
    shop.program(welcome_bonus=250)
    member = shop.join()
    coffee = _item(shop, stock=5)
    order = rewards.place_order(shop.merchant, member, coffee.pk, actor=ACTOR)
    assert (order.status, order.points, len(order.code)) == (Order.Status.HELD, 100, 12)
    assert rewards.looks_like_code(order.code.lower())
    assert order.expires_at == order.created_at + timedelta(hours=24)
    assert _card(shop, member) == (150, 250, 100)  # available drops, the total stays
    assert Entry.objects.filter(account=member.account).count() == 1

    found = rewards.order_of(shop.merchant, code=f" {order.code.lower()} ")
    store = shop.tenant.terminal.store
    done = rewards.hand_over(shop.merchant, found, store=store, staff=shop.tenant.owner,
                             actor=ACTOR)
    assert (done.status, done.store_id) == (Order.Status.HANDED_OVER, store.pk)
    assert _card(shop, member) == (150, 150, 0)
    assert list(Entry.objects.filter(account=member.account, kind=Entry.Kind.REDEEM)
                .values_list("available_delta", "cause_type", "cause_id")) == [
        (-100, "reward_order", str(order.pk))]
    coffee.refresh_from_db()
    assert coffee.stock == 4
    with pytest.raises(rewards.Refused, match="already handed over"):
        rewards.hand_over(shop.merchant, found, store=store, staff=None, actor=ACTOR)
    assert _card(shop, member) == (150, 150, 0)
    assert verify() == (2, [])


def test_cancel_releases_the_points(shop):
    shop.program(welcome_bonus=250)
    member = shop.join()
    order = rewards.place_order(shop.merchant, member, _item(shop).pk, actor=ACTOR)
    rewards.cancel_order(shop.merchant, order, actor=ACTOR)
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    assert _card(shop, member) == (250, 250, 0)
    assert Hold.objects.get().state == Hold.State.RELEASED
    with pytest.raises(rewards.Refused, match="cancelled"):
        rewards.hand_over(shop.merchant, order, store=None, staff=None, actor=ACTOR)
    with pytest.raises(Conflict):
        rewards.cancel_order(shop.merchant, order, actor=ACTOR)
    assert verify() == (2, [])


def test_an_expired_order_releases_the_points_and_is_refused(shop):
    shop.program(welcome_bonus=250)
    member = shop.join()
    order = rewards.place_order(shop.merchant, member, _item(shop, valid_hours=2).pk,
                                actor=ACTOR)
    with time_machine.travel(clock.now() + timedelta(hours=2, minutes=1), tick=False):
        assert _card(shop, member) == (250, 250, 100)  # nothing written yet, already spendable
        with pytest.raises(rewards.Refused, match="expired"):
            rewards.hand_over(shop.merchant, order, store=None, staff=None, actor=ACTOR)
    order.refresh_from_db()
    assert order.status == Order.Status.EXPIRED
    assert _card(shop, member) == (250, 250, 0)
    assert Entry.objects.filter(account=member.account, kind=Entry.Kind.REDEEM).count() == 0
    assert verify() == (2, [])


def test_expire_lapsed_closes_due_orders_only(shop):
    shop.program(welcome_bonus=500)
    member = shop.join()
    short = rewards.place_order(shop.merchant, member, _item(shop, valid_hours=1).pk,
                                actor=ACTOR)
    long = rewards.place_order(shop.merchant, member, _item(shop, "Donut", 200).pk,
                               actor=ACTOR)
    with time_machine.travel(clock.now() + timedelta(hours=1, minutes=1), tick=False):
        assert rewards.expire_lapsed(shop.merchant) == 1
        assert rewards.expire_lapsed(shop.merchant) == 0
    short.refresh_from_db()
    long.refresh_from_db()
    assert (short.status, long.status) == (Order.Status.EXPIRED, Order.Status.HELD)
    assert _card(shop, member) == (300, 500, 200)


def test_refusals_not_enough_points_out_of_stock_other_store(shop):
    shop.program(welcome_bonus=250)
    member = shop.join()
    cake = _item(shop, "Cheesecake", 300)
    with pytest.raises(Conflict, match="Not enough points for Cheesecake"):
        rewards.place_order(shop.merchant, member, cake.pk, actor=ACTOR)
    assert Order.objects.count() == 0
    other = Store.objects.create(merchant=shop.merchant, name="Station kiosk",
                                 created_at=clock.now())
    last = _item(shop, "Donut", 100, stock=1, stores=(other,))
    order = rewards.place_order(shop.merchant, member, last.pk, actor=ACTOR)
    with pytest.raises(Conflict, match="Donut is out of stock"):  # the one is promised
        rewards.place_order(shop.merchant, member, last.pk, actor=ACTOR)
    with pytest.raises(rewards.Refused, match="only at: Station kiosk"):
        rewards.hand_over(shop.merchant, order, store=shop.tenant.terminal.store, staff=None,
                          actor=ACTOR)
    rewards.hand_over(shop.merchant, order, store=other, staff=None, actor=ACTOR)
    assert _card(shop, member) == (150, 150, 0)


def test_the_catalogue_shows_affordable_items_apart(shop):
    shop.program(welcome_bonus=150)
    shop.join()
    for name, price in (("Coffee", 100), ("Donut", 200), ("Cheesecake", 300)):
        _item(shop, name, price)
    _item(shop, "Hidden", 50, active=False)
    _item(shop, "Later", 50, starts_on=rewards.local_today(shop.merchant) + timedelta(days=1))
    affordable, later = rewards.catalogue(shop.merchant, 150)
    assert [(o.item.name, o.missing) for o in affordable] == [("Coffee", 0)]
    assert [(o.item.name, o.missing) for o in later] == [("Donut", 50), ("Cheesecake", 150)]


def test_another_merchants_order_is_not_found(shop, bob):
    shop.program(welcome_bonus=150)
    member = shop.join()
    order = rewards.place_order(shop.merchant, member, _item(shop).pk, actor=ACTOR)
    with pytest.raises(NotFound):
        rewards.order_of(bob.merchant, code=order.code)
    with pytest.raises(NotFound):
        rewards.place_order(bob.merchant, member, order.item_id, actor=ACTOR)


def test_a_refund_that_takes_back_held_points_makes_the_hand_over_fail_cleanly(shop):
    shop.program()
    member = shop.join()
    purchase = shop.buy(member, 2_000).purchase  # 5 % of 20.00: 100 points
    order = rewards.place_order(shop.merchant, member, _item(shop).pk, actor=ACTOR)
    assert _card(shop, member) == (0, 100, 100)
    shop.refund(purchase)  # the refund reverses its accrual, held or not
    assert _card(shop, member) == (0, 0, 100)
    with pytest.raises(Conflict, match="taken back by a refund"):
        rewards.hand_over(shop.merchant, order, store=None, staff=None, actor=ACTOR)
    order.refresh_from_db()
    assert order.status == Order.Status.HELD
    rewards.cancel_order(shop.merchant, order, actor=ACTOR)
    assert _card(shop, member) == (0, 0, 0)
    assert verify() == (2, [])


def test_the_same_key_twice_is_one_order_and_one_hold(shop):
    shop.program(welcome_bonus=500)
    member = shop.join()
    coffee = _item(shop)
    first = rewards.place_order(shop.merchant, member, coffee.pk, actor=ACTOR, key="k-1")
    again = rewards.place_order(shop.merchant, member, coffee.pk, actor=ACTOR, key="k-1")
    assert again.pk == first.pk
    assert _card(shop, member) == (400, 500, 100)
    other = rewards.place_order(shop.merchant, member, coffee.pk, actor=ACTOR, key="k-2")
    assert other.pk != first.pk
    assert _card(shop, member) == (300, 500, 200)
