"""Real concurrent transactions against the real database (SQLite file or PostgreSQL)."""


import pytest
from django_scopes import scope, scopes_disabled

from kopilka.core.errors import Conflict
from kopilka.ledger.verify import verify
from kopilka.processing.models import Purchase
from tests.clients import run_in_threads

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_forty_cashiers_spending_100_from_1000_exactly_ten_succeed(shop):
    shop.program(welcome_bonus=1_000, max_redeem_percent="100")
    member = shop.join()
    merchant = shop.merchant

    def spend(n):
        with scope(merchant=merchant):
            return shop.buy(member, 100, spend=100, receipt=f"C{n}")

    outcomes = run_in_threads(40, spend)
    succeeded = [o for o in outcomes if not isinstance(o, Exception)]
    refused = [o for o in outcomes if isinstance(o, Conflict)]
    assert (len(succeeded), len(refused)) == (10, 30), [o for o in outcomes if o][:3]
    with scope(merchant=merchant):
        assert shop.balance(member) == (0, 0)
    with scopes_disabled():
        assert verify() == (2, [])  # with alice's fixture member


def test_the_same_receipt_committed_concurrently_is_one_purchase(shop):
    shop.program()
    member = shop.join()
    merchant = shop.merchant

    def commit(n):
        with scope(merchant=merchant):
            return shop.buy(member, 100_000, receipt="SAME")

    outcomes = run_in_threads(8, commit)
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    assert sum(1 for o in outcomes if not o.replayed) == 1
    with scope(merchant=merchant):
        assert Purchase.objects.count() == 1
        assert shop.balance(member) == (5_000, 0)


def test_the_same_phone_registered_concurrently_is_one_member(shop):
    shop.program(welcome_bonus=1_000)
    merchant = shop.merchant

    def register(n):
        with scope(merchant=merchant):
            return shop.join(phone="+79995557777")

    outcomes = run_in_threads(6, register)
    members = [o for o in outcomes if not isinstance(o, Exception)]
    assert len(members) == 1, outcomes
    assert all(isinstance(o, Conflict) for o in outcomes if o not in members)
    with scope(merchant=merchant):
        assert shop.balance(members[0]) == (1_000, 0)
