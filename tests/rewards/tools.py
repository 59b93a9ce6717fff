"""Reward catalogue helpers for tests of every face."""

from kopilka.core.actor import Actor
from kopilka.rewards import services as rewards

ACTOR = Actor.cli()
CAFE = (("Coffee", 100), ("Donut", 200), ("Cheesecake", 300))


def add_items(merchant, items=CAFE, **kwargs):
    return [rewards.create_item(merchant, rewards.ItemInput(name=name, price=price, **kwargs),
                                actor=ACTOR) for name, price in items]


def bobs_reward_order(tenant):
    """An item of `tenant` and an order of its fixture member for it (call in its scope):
    the member gets the points by hand first."""
    from tests.shop import Shop

    shop = Shop(tenant)
    item = add_items(tenant.merchant, (("Bob's secret coffee", 1),))[0]
    shop.buy(tenant.member, 10_000)
    order = rewards.place_order(tenant.merchant, tenant.member, item.pk, actor=ACTOR)
    return item, order
