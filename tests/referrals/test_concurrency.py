"""Referral rewards under real concurrent transactions (SQLite file or PostgreSQL): the same
receipt sent at once by several tills pays one reward; a chain's members buying at the same
moment as their friends never deadlock and every reward lands once."""

import pytest
from django_scopes import scope, scopes_disabled

from kopilka.ledger.verify import verify
from kopilka.referrals import services as referrals
from kopilka.referrals.models import Reward
from tests.clients import run_in_threads

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_the_same_receipt_at_once_pays_one_reward(shop):
    shop.program(referral={"basis": "purchase", "levels": [{"percent": "5"}]})
    anna = shop.join("+79990000001")
    friend = shop.join("+79990000002", referrer_code=referrals.code_for(anna))
    merchant = shop.merchant

    def commit(n):
        with scope(merchant=merchant):
            return shop.buy(friend, 100_000, receipt="SAME")

    outcomes = run_in_threads(6, commit)
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    with scope(merchant=merchant):
        assert Reward.objects.count() == 1
        assert shop.balance(anna) == (5_000, 0)


def test_a_chain_buying_all_at_once_gets_every_reward_once(shop):
    shop.program(referral={"basis": "fixed", "period": "days", "days": 30,
                           "levels": [{"points": 100}, {"points": 10}]})
    a = shop.join("+79990000001")
    b = shop.join("+79990000002", referrer_code=referrals.code_for(a))
    c = shop.join("+79990000003", referrer_code=referrals.code_for(b))
    merchant = shop.merchant
    buyers = [a, b, c] * 4

    def buy(n):
        with scope(merchant=merchant):
            return shop.buy(buyers[n], 10_000, receipt=f"R{n}")

    outcomes = run_in_threads(len(buyers), buy)
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    with scope(merchant=merchant):
        # a: own 4 × 500, from b 4 × 100, from c 4 × 10; b: own 4 × 500, from c 4 × 100.
        assert [shop.balance(m)[0] for m in (a, b, c)] == [2_440, 2_400, 2_000]
        assert Reward.objects.count() == 12
    with scopes_disabled():
        assert verify()[1] == []
