"""Holds against spending, in real concurrent transactions (SQLite file or PostgreSQL): a held
point can't be spent twice."""

from datetime import timedelta

import pytest
from django_scopes import scope, scopes_disabled

from kopilka.core import clock
from kopilka.core.actor import Actor
from kopilka.core.errors import Conflict
from kopilka.ledger.models import Account, Hold
from kopilka.ledger.verify import verify
from kopilka.processing import holds
from tests.clients import run_in_threads

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_ten_holds_and_ten_spends_of_300_from_1000_exactly_three_succeed(shop):
    shop.program(welcome_bonus=1_000, max_redeem_percent="100")
    member = shop.join()
    merchant = shop.merchant

    def race(n):
        with scope(merchant=merchant):
            if n % 2:
                return holds.hold_points(merchant, member, points=300,
                                         cause_type="reward_order", cause_id=str(n),
                                         expires_at=clock.now() + timedelta(hours=1),
                                         actor=Actor.cli())
            return shop.buy(member, 300, spend=300, receipt=f"H{n}")

    outcomes = run_in_threads(20, race)
    succeeded = [o for o in outcomes if not isinstance(o, Exception)]
    refused = [o for o in outcomes if isinstance(o, Conflict)]
    assert (len(succeeded), len(refused)) == (3, 17), [o for o in outcomes if o][:3]
    with scope(merchant=merchant):
        account = Account.objects.get(member=member)
        held = sum(Hold.objects.filter(account=account).values_list("amount", flat=True))
        spent = 1_000 - account.available
        assert held + spent == 900
        assert account.held == held
        assert shop.balance(member) == (100, 0)
    with scopes_disabled():
        assert verify() == (2, [])


def test_capture_and_release_of_one_hold_at_once_one_wins(shop):
    shop.program(welcome_bonus=1_000)
    member = shop.join()
    merchant = shop.merchant
    hold = holds.hold_points(merchant, member, points=600, cause_type="reward_order",
                             cause_id="1", expires_at=clock.now() + timedelta(hours=1),
                             actor=Actor.cli()).hold

    def race(n):
        with scope(merchant=merchant):
            if n % 2:
                return holds.capture_hold(merchant, hold.pk, cause_type="reward_order",
                                          cause_id="1", actor=Actor.cli())
            return holds.release_hold(merchant, hold.pk)

    outcomes = run_in_threads(8, race)
    assert not [o for o in outcomes if isinstance(o, Exception)
                and not isinstance(o, holds.HoldClosed)], outcomes
    with scope(merchant=merchant):
        hold.refresh_from_db()
        account = Account.objects.get(member=member)
        expected = 400 if hold.state == Hold.State.CAPTURED else 1_000
        assert (account.available, account.held) == (expected, 0)
    with scopes_disabled():
        assert verify() == (2, [])
