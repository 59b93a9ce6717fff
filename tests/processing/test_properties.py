"""Property tests: random histories of purchases, refunds, transfers and the passing of time
keep the ledger's invariants, never go negative, and refunds never create points."""

import contextlib
import itertools
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db.models import Sum
from django_scopes import scopes_disabled
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kopilka.core.errors import Conflict
from kopilka.ledger.models import Account
from kopilka.ledger.verify import verify_account

pytestmark = [pytest.mark.django_db, pytest.mark.slow]
START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
phones = itertools.count(1_000_000)

operation = st.one_of(
    # From 1: a purchase whose lines add up to zero is refused (#13), and changes nothing.
    st.tuples(st.just("buy"), st.integers(1, 300_000), st.integers(0, 6_000)),
    st.tuples(st.just("refund"), st.integers(0, 30), st.one_of(st.none(),
                                                                st.integers(1, 300_000))),
    st.tuples(st.just("wait"), st.integers(0, 40), st.just(0)),
    st.tuples(st.just("transfer"), st.integers(1, 3_000), st.just(0)),
)


def check_invariants(account: Account):
    with scopes_disabled():
        account.refresh_from_db()
        assert verify_account(account) is None
        assert account.available >= 0 and account.pending >= 0
        lots = account.lots.aggregate(total=Sum("remaining"))["total"] or 0
        entries = account.entries.aggregate(
            a=Sum("available_delta"), p=Sum("pending_delta")
        )
        assert (account.available, account.pending) == (entries["a"] or 0, entries["p"] or 0)
        assert lots == account.available + account.pending


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(operation, min_size=1, max_size=12))
def test_random_histories_keep_the_ledger_right(shop, operations):
    shop.program(
        welcome_bonus=1_000, max_redeem_percent="50", activation_delay_days=3,
        expiry={"mode": "after_accrual", "days": 30},
        transfers={"enabled": True, "min_points": 1},
        tiers=[
            {"code": "std", "name": "Standard", "accrual": {"kind": "percent", "percent": "3"}},
            {"code": "gold", "name": "Gold", "threshold": 500_000,
             "accrual": {"kind": "progressive", "brackets": [
                 {"from": 0, "percent": "5"}, {"from": 100_000, "percent": "10"}]}},
        ],
    )
    with time_machine.travel(START, tick=False) as clock:
        member = shop.join(phone=f"+7999{next(phones)}")
        friend = shop.join(phone=f"+7999{next(phones)}")
        with scopes_disabled():
            account = Account.objects.get(member=member)
        purchases = []
        for kind, a, b in operations:
            if kind == "buy":
                available = shop.balance(member)[0]
                # More than the check allows is refused, and nothing is written.
                with contextlib.suppress(Conflict):
                    purchases.append(shop.buy(member, a, spend=min(b, available)).purchase)
            elif kind == "refund" and purchases:
                purchase = purchases[a % len(purchases)]
                before = shop.balance(member)[0]
                try:
                    result = shop.refund(purchase, f"F{len(purchases)}-{a}-{b}", amount=b)
                except Conflict:
                    continue  # more than is left to refund
                refund = result.refund
                # Refunds never create points: at most what the purchase spent comes back.
                assert shop.balance(member)[0] <= before + refund.points_returned
                purchase.refresh_from_db()
                assert purchase.points_returned <= purchase.points_spent
                assert purchase.points_reversed <= purchase.points_accrued
            elif kind == "wait":
                clock.shift(timedelta(days=a))
            elif kind == "transfer":
                available = shop.balance(member)[0]
                if available:
                    shop.send(member, friend, min(a, available))
            check_invariants(account)
        with scopes_disabled():
            check_invariants(Account.objects.get(member=friend))
