"""The peers' rules that came with referrals (#18): a minimum check for accrual (Open
Loyalty's minOrderValue, Spree's min_amount_required) and tiers on a rolling window with a
downgrade after a grace period (Open Loyalty's level recalculation), run by the daily tick."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from kopilka.automation import tick
from kopilka.core.actor import Actor
from kopilka.ledger.models import Account
from kopilka.messaging import services as messaging
from kopilka.messaging.models import Message
from kopilka.processing import tiers

pytestmark = pytest.mark.django_db

MSK = ZoneInfo("Europe/Moscow")  # alice's merchant's zone
TIERS = [{"code": "base", "name": "Base", "accrual": {"kind": "percent", "percent": "5"}},
         {"code": "gold", "name": "Gold", "threshold": 50_000,
          "accrual": {"kind": "percent", "percent": "10"}}]


def at(*moment) -> datetime:
    return datetime(*moment, tzinfo=MSK)


def tier_of(member) -> str:
    return Account.objects.get(member=member).tier_code


def test_no_accrual_below_the_minimum_check(shop):
    shop.program(min_check_for_accrual=50_000)  # 500.00
    anna = shop.join()
    below = shop.buy(anna, 49_999)
    assert below.purchase.points_accrued == 0
    exactly = shop.buy(anna, 50_000)
    assert exactly.purchase.points_accrued == 2_500
    assert shop.balance(anna) == (2_500, 0)


def test_the_minimum_is_of_the_check_after_the_discount(shop):
    shop.program(type="hybrid", min_check_for_accrual=50_000, tiers=[{
        "code": "base", "name": "Base", "accrual": {"kind": "percent", "percent": "5"},
        "discount": {"kind": "percent", "percent": "10"}}])
    anna = shop.join()
    assert shop.buy(anna, 55_000).purchase.points_accrued == 0  # 495.00 after the discount
    assert shop.buy(anna, 60_000).purchase.points_accrued == 2_700  # 540.00


def test_months_before_keeps_the_month_end():
    assert tiers.months_before(at(2027, 5, 31, 12), 3) == at(2027, 2, 28, 12)
    assert tiers.months_before(at(2027, 1, 15), 13) == at(2025, 12, 15)


def tick_at(moment):
    with time_machine.travel(moment, tick=False):
        return tick.run()


def test_rolling_tier_goes_down_after_the_window_and_the_grace(shop):
    with time_machine.travel(at(2027, 1, 10, 12), tick=False):
        shop.program(tiers=TIERS, tier_window={"months": 3, "grace_days": 7})
        messaging.save_settings(shop.merchant, transactional="all",
                                quiet_from=at(1, 1, 1, 23).time(),
                                quiet_to=at(1, 1, 1, 23, 1).time(), actor=Actor.cli())
        anna = shop.join(first_name="Анна")
        shop.buy(anna, 60_000)  # 600.00 in the window: gold at once
    assert tier_of(anna) == "gold"
    # 10 April: the purchase left the window (10 Jan - 10 Apr]; the grace lasts 7 days more.
    tick_at(at(2027, 4, 12, 10, 30))
    tick_at(at(2027, 4, 17, 10, 30))
    assert tier_of(anna) == "gold"
    done = tick_at(at(2027, 4, 18, 10, 30))  # below on every day since 11 April: down
    assert done["merchant jobs run"] == 8
    assert tier_of(anna) == "base"
    told = Message.objects.filter(member=anna, event="tier_change").order_by("pk")
    assert list(told.values_list("body", flat=True)) == [
        "Анна, ваш уровень в Alice Coffee: Gold", "Анна, ваш уровень в Alice Coffee: Base"]
    tick_at(at(2027, 4, 19, 10, 30))  # nothing twice
    assert told.count() == 2


def test_rolling_tier_purchase_counts_the_window_not_the_lifetime(shop):
    with time_machine.travel(at(2027, 1, 10, 12), tick=False):
        shop.program(tiers=TIERS, tier_window={"months": 3})
        anna = shop.join()
        shop.buy(anna, 40_000)
    with time_machine.travel(at(2027, 5, 1, 12), tick=False):
        shop.buy(anna, 40_000)  # lifetime 800.00, but only 400.00 in the window
        assert tier_of(anna) == "base"
        shop.buy(anna, 10_000)  # 500.00 in the window: gold
        assert tier_of(anna) == "gold"


def test_a_recent_purchase_keeps_the_tier(shop):
    with time_machine.travel(at(2027, 1, 10, 12), tick=False):
        shop.program(tiers=TIERS, tier_window={"months": 1})
        anna = shop.join()
        shop.buy(anna, 60_000)
    with time_machine.travel(at(2027, 2, 5, 12), tick=False):
        shop.buy(anna, 50_000)
    tick_at(at(2027, 2, 20, 10, 30))  # 500.00 since 20 Jan: still gold
    assert tier_of(anna) == "gold"
    tick_at(at(2027, 3, 6, 10, 30))  # nothing since 6 Feb, no grace: down
    assert tier_of(anna) == "base"
