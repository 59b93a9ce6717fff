"""Notices from the daily jobs (AUT-3): points that became spendable, told the next morning,
once per member and day."""

import pytest
import time_machine

from kopilka.automation.models import JobRun
from tests.automation.helpers import AGREED, at, receipts_for_everyone, sent, tick_at

pytestmark = pytest.mark.django_db


def pending_shop(shop):
    with time_machine.travel(at(2027, 3, 1, 12, 0), tick=False):
        shop.program(activation_delay_days=3)
        anna = shop.join(first_name="Анна", consents=AGREED)
        shop.buy(anna, 100_000)  # 50.00 points, spendable from 4 March 12:00
    with time_machine.travel(at(2027, 3, 1, 15, 0), tick=False):
        shop.buy(anna, 40_000)  # 20.00 more, from 15:00
    return anna


def test_points_that_became_spendable_yesterday_are_told_in_one_message(shop):
    receipts_for_everyone(shop.merchant)
    anna = pending_shop(shop)
    with time_machine.travel(at(2027, 3, 4, 13, 0), tick=False):
        shop.buy(anna, 20_000)  # journals the 12:00 activation at once; 10.00 pending
    tick_at(at(2027, 3, 4, 10, 30))
    assert sent("activation") == []
    tick_at(at(2027, 3, 5, 10, 30))
    assert sent("activation") == [
        ("+79990000001", "Alice Coffee: 70 бонусов теперь доступны. Баланс: 70 бонусов")]
    JobRun.objects.all().delete()
    tick_at(at(2027, 3, 5, 18, 0))
    tick_at(at(2027, 3, 6, 10, 30))
    assert len(sent("activation")) == 1
    tick_at(at(2027, 3, 8, 10, 30))  # the 4 March 13:00 purchase's points, from the 7th
    assert sent("activation")[1:] == [
        ("+79990000001", "Alice Coffee: 10 бонусов теперь доступны. Баланс: 80 бонусов")]


def test_no_notices_when_the_merchant_sends_no_transactional_messages(shop):
    pending_shop(shop)  # the default setting: transactional messages off
    tick_at(at(2027, 3, 5, 10, 30))
    assert sent("activation") == []
    assert JobRun.objects.get(job="activation_notices").counts == {"members": 0, "messages": 0}
