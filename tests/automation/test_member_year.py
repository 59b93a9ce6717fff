"""A member's year (issue #5): the welcome gift, purchases, the first-purchase gift, the
birthday gift once, the inactivity chain's steps at day 20 and 40 (twice: a purchase starts it
over), expiry reminders and expiries — with the tick run every day of the year, twice on the
days something happens, and the exact points and messages."""

import re
from datetime import date, timedelta

import pytest
import time_machine

from kopilka.automation.models import JobRun
from kopilka.ledger.models import Entry
from kopilka.members.models import Member
from kopilka.messaging.models import Message
from tests.automation.helpers import AGREED, at, balance, receipts_for_everyone, tick_at

pytestmark = [pytest.mark.django_db, pytest.mark.slow]  # 375 ticks: the longest test

PROGRAM = {
    "expiry": {"mode": "after_accrual", "days": 90},
    "expiry_reminder_days": 7,
    "welcome_bonus": 10_000, "welcome_validity_days": 30,
    "first_purchase_gift": {"points": 5_000, "validity_days": 60},
    "birthday_gift": {"points": 30_000, "validity_days": 14},
    "chains": [{
        "code": "comeback", "name": "Come back", "segment": {"kind": "all"},
        "steps": [
            {"after_days": 20,
             "message": {"ru": "{name}, давно не виделись! Ждём вас в {merchant}"}},
            {"after_days": 40, "gift": {"points": 20_000, "validity_days": 10}},
        ],
    }],
}

REMINDER = "Анна, {} сгорят {}. Ждём вас в Alice Coffee!"
COMEBACK = "Анна, давно не виделись! Ждём вас в Alice Coffee"
# (local day, event, text) of every message of the year, in order.
MESSAGES = [
    (date(2027, 1, 10), "registration", "Анна, вы в программе Alice Coffee! Баланс: 100 бонусов."),
    (date(2027, 1, 12), "first_purchase",  # 100.00 for the purchase, 50.00 the gift
     "Анна, спасибо за первую покупку! Начислено 150 бонусов. Баланс: 250 бонусов."),
    (date(2027, 2, 1), "gift", COMEBACK),  # day 20 after 12 January
    (date(2027, 2, 3), "expiry_soon", REMINDER.format("9 февраля 2027 г.", "100 бонусов")),
    (date(2027, 2, 21), "gift",  # day 40
     "Анна, Alice Coffee дарит вам 200 бонусов до 3 марта 2027 г."),
    (date(2027, 2, 25), "expiry_soon", REMINDER.format("3 марта 2027 г.", "200 бонусов")),
    (date(2027, 3, 7), "expiry_soon", REMINDER.format("13 марта 2027 г.", "50 бонусов")),
    (date(2027, 3, 15), "birthday",
     "Анна, с днём рождения! Alice Coffee дарит 300 бонусов до 29 марта 2027 г."),
    (date(2027, 3, 20), "redemption", "Alice Coffee: списано 300 бонусов. Баланс: 135 бонусов"),
    (date(2027, 4, 6), "expiry_soon", REMINDER.format("12 апреля 2027 г.", "100 бонусов")),
    (date(2027, 4, 9), "gift", COMEBACK),  # day 20 after 20 March
    (date(2027, 4, 29), "gift",  # day 40
     "Анна, Alice Coffee дарит вам 200 бонусов до 9 мая 2027 г."),
    (date(2027, 5, 3), "expiry_soon", REMINDER.format("9 мая 2027 г.", "200 бонусов")),
    (date(2027, 6, 12), "expiry_soon", REMINDER.format("18 июня 2027 г.", "35 бонусов")),
]
# The balance at the end of these days: gifts come, points burn.
BALANCES = {
    date(2027, 1, 10): 10_000,  # welcome, through 9 February
    date(2027, 1, 12): 25_000,  # + 100.00 accrued (through 12 April) + 50.00 gift (13 March)
    date(2027, 2, 10): 15_000,  # the welcome bonus burnt
    date(2027, 2, 21): 35_000,  # + the chain's gift, through 3 March
    date(2027, 3, 4): 15_000,  # ... burnt
    date(2027, 3, 14): 10_000,  # the first-purchase gift burnt
    date(2027, 3, 15): 40_000,  # + the birthday gift, through 29 March
    date(2027, 3, 20): 13_500,  # 300.00 spent (the birthday gift, soonest to burn) + 35.00
    date(2027, 4, 13): 3_500,  # January's accrual burnt
    date(2027, 4, 29): 23_500,  # the chain's gift again, through 9 May
    date(2027, 5, 10): 3_500,
    date(2027, 6, 19): 0,  # March's accrual burnt
    date(2027, 12, 31): 0,
}


def test_a_members_year(shop):
    Member.objects.filter(pk=shop.tenant.member.pk).update(status=Member.Status.LEFT)
    receipts_for_everyone(shop.merchant)
    with time_machine.travel(at(2027, 1, 10, 12, 0), tick=False):
        shop.program(**PROGRAM)
        anna = shop.join(first_name="Анна", birth_date=date(1990, 3, 15), consents=AGREED)
    purchases = {
        date(2027, 1, 12): {"amount": 200_000},
        date(2027, 3, 20): {"amount": 100_000, "spend": 30_000},
    }
    busy = {day for day, _event, _text in MESSAGES} | set(BALANCES)
    day = date(2027, 1, 11)
    while day <= date(2027, 12, 31):
        tick_at(at(day.year, day.month, day.day, 10, 30))
        if day in busy:  # run the day again, even with its run records lost: no change
            JobRun.objects.filter(day=day).delete()
            tick_at(at(day.year, day.month, day.day, 18, 0))
        if day in purchases:
            with time_machine.travel(at(day.year, day.month, day.day, 12, 0), tick=False):
                shop.buy(anna, purchases[day]["amount"], spend=purchases[day].get("spend", 0))
        if day in BALANCES:
            assert (day, balance(anna)) == (day, BALANCES[day])
        day += timedelta(days=1)

    messages = Message.objects.filter(member=anna).order_by("pk")
    # The registration's wallet link (a fresh token) is cut off: the rest is exact.
    assert [(message.created_at.astimezone(at(2027, 1, 1).tzinfo).date(), message.event,
             re.sub(r" http://\S+/m/\w{10}$", "", message.body))
            for message in messages] == MESSAGES
    assert {message.recipient for message in messages} == {"+79990000001"}
    assert list(Entry.objects.filter(account__member=anna, kind=Entry.Kind.EXPIRE)
                .order_by("seq").values_list("occurred_at", "available_delta")) == [
        (at(2027, 2, 10), -10_000), (at(2027, 3, 4), -20_000), (at(2027, 3, 14), -5_000),
        (at(2027, 4, 13), -10_000), (at(2027, 5, 10), -20_000), (at(2027, 6, 19), -3_500),
    ]
    assert list(Entry.objects.filter(account__member=anna, kind=Entry.Kind.GRANT)
                .order_by("seq").values_list("cause_type", "available_delta")) == [
        ("welcome", 10_000), ("first_purchase", 5_000), ("winback", 20_000),
        ("birthday", 30_000), ("winback", 20_000),
    ]
