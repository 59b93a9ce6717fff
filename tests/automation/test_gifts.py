"""Gifts (AUT-1): with the first purchase (at the counter, once per member) and on relatives'
birthdays (a daily job, once a year per relative)."""

from datetime import date

import pytest
import time_machine

from kopilka.automation.models import Effect, JobRun
from kopilka.core.actor import Actor
from kopilka.ledger.models import Entry, Lot
from kopilka.members import services as members
from kopilka.members.models import Member
from kopilka.messaging import services as messaging
from tests.automation.helpers import AGREED, at, balance, receipts_for_everyone, sent, tick_at

pytestmark = pytest.mark.django_db


def test_the_first_purchase_gift_comes_with_the_receipt_once(shop):
    receipts_for_everyone(shop.merchant)
    with time_machine.travel(at(2027, 3, 1, 12, 0), tick=False):
        shop.program(first_purchase_gift={"points": 20_000, "validity_days": 30})
        anna = shop.join(first_name="Анна", consents=AGREED)
        first = shop.buy(anna, 100_000, receipt="R-1")  # 5 % = 50.00 points, and the gift
    assert first.available == 25_000
    gift = Lot.objects.get(account__member=anna, kind=Lot.Kind.GIFT)
    assert (gift.amount, gift.expires_at) == (20_000, at(2027, 4, 1))  # through 31 March
    granted = Entry.objects.get(lot=gift)
    assert (granted.kind, granted.cause_type, granted.cause_id, granted.available_delta) == (
        Entry.Kind.GRANT, "first_purchase", str(first.purchase.pk), 20_000)
    assert sent("first_purchase") == [
        ("+79990000001", "Анна, спасибо за первую покупку! Начислено 250 бонусов. "
                         "Баланс: 250 бонусов.")]

    with time_machine.travel(at(2027, 3, 2, 12, 0), tick=False):
        assert shop.buy(anna, 100_000, receipt="R-1").replayed  # the same receipt again
        second = shop.buy(anna, 40_000)
    assert second.available == 27_000
    assert Lot.objects.filter(kind=Lot.Kind.GIFT).count() == 1
    assert len(sent("first_purchase")) == 1


def test_no_first_purchase_gift_without_the_setting(shop):
    with time_machine.travel(at(2027, 3, 1, 12, 0), tick=False):
        shop.program()
        anna = shop.join(first_name="Анна")
        assert shop.buy(anna, 100_000).available == 5_000
    assert not Lot.objects.filter(kind=Lot.Kind.GIFT).exists()


def relatives_shop(shop):
    with time_machine.travel(at(2027, 1, 10, 12, 0), tick=False):
        shop.program(relative_birthday_gift={"points": 10_000, "validity_days": 7})
        anna = shop.join(first_name="Анна", consents=AGREED)
        for name, born in [("Мария", date(2015, 5, 20)), ("Пётр", date(2018, 5, 20)),
                           ("Олег", date(2019, 6, 1)), ("Без даты", None)]:
            members.add_relative(anna, name=name, birth_date=born, actor=Actor.cli())
    return anna


def test_a_gift_for_each_relative_born_today_once_a_year(shop):
    anna = relatives_shop(shop)
    maria, petr = anna.relatives.order_by("pk")[:2]
    tick_at(at(2027, 5, 19, 10, 30))
    assert balance(anna) == 0

    tick_at(at(2027, 5, 20, 10, 30))
    assert balance(anna) == 20_000
    gifts = Lot.objects.filter(account__member=anna, kind=Lot.Kind.GIFT).order_by("pk")
    assert [(lot.amount, lot.expires_at) for lot in gifts] == [(10_000, at(2027, 5, 28))] * 2
    assert list(Entry.objects.filter(cause_type="relative_birthday").order_by("pk")
                .values_list("cause_id", flat=True)) == [f"{maria.pk}:2027", f"{petr.pk}:2027"]
    # The shipped text has no {relative}: the same words for both.
    assert sent("relative_birthday") == [
        ("+79990000001", "Анна, у ваших близких праздник! Alice Coffee дарит 100 бонусов "
                         "до 27 мая 2027 г."),
    ] * 2

    tick_at(at(2027, 5, 20, 18, 0))  # the same day again,
    JobRun.objects.all().delete()  # even with the day's run records lost
    tick_at(at(2027, 5, 20, 18, 5))
    tick_at(at(2027, 5, 21, 10, 30))
    assert balance(anna) == 20_000
    assert len(sent("relative_birthday")) == 2
    assert sorted(Effect.objects.filter(kind=Effect.Kind.RELATIVE_BIRTHDAY_GIFT)
                  .values_list("key", flat=True)) == sorted([f"2027:{maria.pk}",
                                                             f"2027:{petr.pk}"])

    tick_at(at(2027, 6, 1, 10, 30))  # Олег
    tick_at(at(2028, 5, 20, 10, 30))  # next year: Мария and Пётр again
    assert Entry.objects.filter(cause_type="relative_birthday").count() == 5


def test_the_relatives_name_goes_where_the_merchants_text_says(shop):
    anna = relatives_shop(shop)
    messaging.save_template(shop.merchant, event="relative_birthday", language="ru",
                            body="{name}, {relative} празднует день рождения! "
                                 "Дарим {points} до {date}", actor=Actor.cli())
    tick_at(at(2027, 5, 20, 10, 30))
    assert [body for _to, body in sent("relative_birthday")] == [
        "Анна, Мария празднует день рождения! Дарим 100 бонусов до 27 мая 2027 г.",
        "Анна, Пётр празднует день рождения! Дарим 100 бонусов до 27 мая 2027 г.",
    ]
    assert balance(anna) == 20_000


def test_no_relative_gift_for_a_blocked_member_or_without_the_setting(shop):
    anna = relatives_shop(shop)
    Member.objects.filter(pk=anna.pk).update(status=Member.Status.BLOCKED)
    tick_at(at(2027, 5, 20, 10, 30))
    assert not Lot.objects.filter(kind=Lot.Kind.GIFT).exists()
    Member.objects.filter(pk=anna.pk).update(status=Member.Status.ACTIVE)
    shop.program()  # the gift switched off
    tick_at(at(2027, 5, 21, 10, 30))
    JobRun.objects.all().delete()
    tick_at(at(2027, 5, 20, 10, 30))
    assert not Lot.objects.filter(kind=Lot.Kind.GIFT).exists()
    assert sent("relative_birthday") == []
