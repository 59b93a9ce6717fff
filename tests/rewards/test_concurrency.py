"""Reward orders in real concurrent transactions (SQLite file or PostgreSQL)."""

import pytest
from django_scopes import scope, scopes_disabled

from kopilka.core.errors import Conflict
from kopilka.ledger.models import Account
from kopilka.ledger.verify import verify
from kopilka.rewards import services as rewards
from kopilka.rewards.models import Order
from tests.clients import run_in_threads
from tests.rewards.tools import ACTOR, add_items

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_a_double_tap_at_once_is_one_order(shop):
    shop.program(welcome_bonus=500)
    member = shop.join()
    (coffee,) = add_items(shop.merchant, (("Coffee", 100),))
    merchant = shop.merchant

    def tap(n):
        with scope(merchant=merchant):
            return rewards.place_order(merchant, member, coffee.pk, actor=ACTOR, key="same")

    outcomes = run_in_threads(6, tap)
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    assert len({o.pk for o in outcomes}) == 1
    with scopes_disabled():
        account = Account.objects.get(member=member)
        assert (account.available, account.held) == (500, 100)


def test_the_last_cheesecake_is_ordered_once(shop):
    shop.program(welcome_bonus=1_000)
    members = [shop.join(f"+7999000000{n}") for n in range(4)]
    (cake,) = add_items(shop.merchant, (("Cheesecake", 300),), stock=1)
    merchant = shop.merchant

    def order(n):
        with scope(merchant=merchant):
            return rewards.place_order(merchant, members[n], cake.pk, actor=ACTOR)

    outcomes = run_in_threads(4, order)
    placed = [o for o in outcomes if isinstance(o, Order)]
    assert len(placed) == 1 and all(isinstance(o, Conflict) for o in outcomes
                                    if not isinstance(o, Order)), outcomes
    with scopes_disabled():
        assert sum(Account.objects.values_list("held", flat=True)) == 300
        assert verify()[1] == []
