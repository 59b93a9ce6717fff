"""The merchants' daily jobs through `kopilka tick`: expiry reminders and expiry (AUT-3),
birthday gifts (AUT-1), activation, in the merchant's time zone, and nothing done twice
(AUT-4) — a repeated tick, a forgotten run record or a run that died half-way."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import override_settings

from kopilka.automation import tick
from kopilka.automation.models import Effect, JobRun
from kopilka.core.actor import Actor
from kopilka.ledger.models import Account, Entry, Lot
from kopilka.members.services import ConsentGiven
from kopilka.messaging.models import Message

pytestmark = pytest.mark.django_db

MSK = ZoneInfo("Europe/Moscow")  # alice's merchant's zone
# Reminders and birthday messages advertise: only members who agreed to messages get them.
AGREED = [ConsentGiven("messages", "v1")]
# A merchant's daily jobs (automation/schedule.py): from 00:00 materialise and
# winback_attribution; from 10:00 also expiry_reminders, birthday_gifts,
# relative_birthday_gifts, activation_notices, inactivity_chains and rolling_tiers.
NIGHT_JOBS, ALL_JOBS = 2, 8


def at(*moment) -> datetime:
    return datetime(*moment, tzinfo=MSK)


def tick_at(moment: datetime) -> int:
    """One tick at `moment`; how many merchant job runs it did."""
    with time_machine.travel(moment, tick=False):
        return tick.run()["merchant jobs run"]


def account(member) -> Account:
    return Account.objects.get(member=member)


def bodies(event: str) -> list[str]:
    return list(Message.objects.filter(event=event).order_by("pk").values_list("body", flat=True))


def test_reminder_seven_days_ahead_then_the_tick_journals_the_expiry(shop):
    with time_machine.travel(at(2027, 3, 1, 12, 0), tick=False):
        shop.program(expiry={"mode": "after_accrual", "days": 30})
        anna = shop.join(first_name="Анна", consents=AGREED)
        shop.buy(anna, 100_000)  # 5 % of 1 000.00 = 50.00 points, valid through 31 March
    lot = Lot.objects.get(account__member=anna)
    assert (lot.amount, lot.expires_at) == (5_000, at(2027, 4, 1))

    assert tick_at(at(2027, 3, 24, 10, 30)) == ALL_JOBS
    assert bodies("expiry_soon") == []
    assert tick_at(at(2027, 3, 25, 9, 59)) == NIGHT_JOBS  # reminders wait for 10:00
    assert bodies("expiry_soon") == []
    assert tick_at(at(2027, 3, 25, 10, 0)) == ALL_JOBS - NIGHT_JOBS
    assert bodies("expiry_soon") == [
        "Анна, 31 марта 2027 г. сгорят 50 бонусов. Ждём вас в Alice Coffee!"
    ]
    assert Message.objects.get(event="expiry_soon").recipient == "+79990000001"

    assert tick_at(at(2027, 3, 31, 23, 59)) == ALL_JOBS
    assert account(anna).available == 5_000
    assert tick_at(at(2027, 4, 1, 0, 30)) == NIGHT_JOBS  # materialise runs from 00:00 local
    assert account(anna).available == 0
    expired = Entry.objects.get(account__member=anna, kind=Entry.Kind.EXPIRE)
    assert (expired.available_delta, expired.occurred_at, expired.cause_type) == (
        -5_000, at(2027, 4, 1), "time")
    assert Lot.objects.get(pk=lot.pk).remaining == 0
    assert tick_at(at(2027, 4, 2, 0, 30)) == NIGHT_JOBS
    assert Entry.objects.filter(account__member=anna, kind=Entry.Kind.EXPIRE).count() == 1
    assert len(bodies("expiry_soon")) == 1


def test_after_last_purchase_deadline_is_reminded_and_expired(shop):
    with time_machine.travel(at(2027, 3, 1, 12, 0), tick=False):
        shop.program(expiry={"mode": "after_last_purchase", "days": 10})
        anna = shop.join(first_name="Анна", consents=AGREED)
        shop.buy(anna, 100_000)
        shop.buy(anna, 40_000)  # 20.00 more: 70.00 in two lots, both burn with the deadline
    assert account(anna).inactivity_deadline == at(2027, 3, 12)

    tick_at(at(2027, 3, 4, 10, 0))
    assert bodies("expiry_soon") == []
    tick_at(at(2027, 3, 5, 10, 0))
    assert bodies("expiry_soon") == [
        "Анна, 11 марта 2027 г. сгорят 70 бонусов. Ждём вас в Alice Coffee!"
    ]
    tick_at(at(2027, 3, 12, 0, 5))
    assert account(anna).available == 0
    assert sorted(Entry.objects.filter(account__member=anna, kind=Entry.Kind.EXPIRE)
                  .values_list("available_delta", flat=True)) == [-5_000, -2_000]


def test_pending_points_are_activated_by_the_tick(shop):
    with time_machine.travel(at(2027, 3, 1, 12, 0), tick=False):
        shop.program(activation_delay_days=3)
        anna = shop.join(first_name="Анна", consents=AGREED)
        shop.buy(anna, 100_000)
    assert (account(anna).available, account(anna).pending) == (0, 5_000)
    tick_at(at(2027, 3, 3, 12, 0))
    assert (account(anna).available, account(anna).pending) == (0, 5_000)
    tick_at(at(2027, 3, 4, 12, 0))
    assert (account(anna).available, account(anna).pending) == (5_000, 0)
    activated = Entry.objects.get(account__member=anna, kind=Entry.Kind.ACTIVATE)
    assert (activated.available_delta, activated.pending_delta) == (5_000, -5_000)


def birthday_shop(shop, **profile):
    with time_machine.travel(at(2027, 1, 10, 12, 0), tick=False):
        shop.program(birthday_gift={"points": 30_000, "validity_days": 14})
        return shop.join(first_name="Анна", consents=AGREED, **profile)


def test_birthday_gift_once_with_its_own_validity_and_the_message(shop):
    anna = birthday_shop(shop, birth_date=date(1990, 4, 10))

    tick_at(at(2027, 4, 10, 9, 30))
    assert not Lot.objects.filter(kind=Lot.Kind.GIFT).exists()
    tick_at(at(2027, 4, 10, 10, 30))
    gift = Lot.objects.get(account__member=anna, kind=Lot.Kind.GIFT)
    assert (gift.amount, gift.remaining, gift.activated) == (30_000, 30_000, True)
    assert gift.expires_at == at(2027, 4, 25)  # good through the birthday + 14 days
    granted = Entry.objects.get(lot=gift)
    assert (granted.kind, granted.available_delta, granted.cause_type, granted.cause_id) == (
        Entry.Kind.GRANT, 30_000, "birthday", f"{anna.pk}:2027")
    assert account(anna).available == 30_000
    assert bodies("birthday") == [
        "Анна, с днём рождения! Alice Coffee дарит 300 бонусов до 24 апреля 2027 г."
    ]

    tick_at(at(2027, 4, 10, 18, 0))  # the same day again
    JobRun.objects.all().delete()  # even with the day's run records lost
    assert tick_at(at(2027, 4, 10, 18, 5)) == ALL_JOBS
    tick_at(at(2027, 4, 11, 10, 30))
    assert Lot.objects.filter(kind=Lot.Kind.GIFT).count() == 1
    assert Entry.objects.filter(cause_type="birthday").count() == 1
    assert len(bodies("birthday")) == 1
    assert account(anna).available == 30_000

    tick_at(at(2028, 4, 10, 10, 30))  # next year: the next gift
    assert list(Entry.objects.filter(cause_type="birthday").order_by("pk")
                .values_list("cause_id", flat=True)) == [f"{anna.pk}:2027", f"{anna.pk}:2028"]


def test_twenty_ninth_of_february_is_celebrated_on_the_28th_in_common_years(shop):
    anna = birthday_shop(shop, birth_date=date(2004, 2, 29))
    tick_at(at(2027, 2, 27, 12, 0))
    assert not Lot.objects.filter(kind=Lot.Kind.GIFT).exists()
    tick_at(at(2027, 2, 28, 12, 0))
    assert Lot.objects.get(kind=Lot.Kind.GIFT).account.member == anna
    tick_at(at(2027, 3, 1, 12, 0))
    assert Lot.objects.filter(kind=Lot.Kind.GIFT).count() == 1


@override_settings(AUTOMATION_HOUR=2)
def test_the_merchants_time_zone_decides_the_day(shop):
    anna = birthday_shop(shop, birth_date=date(1990, 4, 11))
    boris = shop.join(phone="+79990000002", first_name="Борис", consents=AGREED,
                      birth_date=date(1990, 4, 10))
    # 23:30 UTC on 10 April is 02:30 on 11 April in Moscow: Anna's birthday, not Boris's.
    tick_at(datetime(2027, 4, 10, 23, 30, tzinfo=ZoneInfo("UTC")))
    assert [lot.account.member for lot in Lot.objects.filter(kind=Lot.Kind.GIFT)] == [anna]
    assert JobRun.objects.get(job="birthday_gifts").day == date(2027, 4, 11)
    assert account(boris).available == 0


def test_a_run_that_died_half_way_is_finished_without_doubling(shop):
    anna = birthday_shop(shop, birth_date=date(1990, 4, 10))
    boris = shop.join(phone="+79990000002", first_name="Борис", consents=AGREED)
    tick_at(at(2027, 4, 10, 10, 0))
    # What a run killed after its first chunk leaves: Anna's gift committed, Boris (born on
    # the same day) not reached, the run record claimed but never finished.
    type(boris).objects.filter(pk=boris.pk).update(birth_date=date(1990, 4, 10))
    JobRun.objects.filter(job="birthday_gifts").update(finished_at=None)

    tick_at(at(2027, 4, 10, 10, 30))  # within the lease: the run may still be working
    assert Lot.objects.filter(kind=Lot.Kind.GIFT).count() == 1
    tick_at(at(2027, 4, 10, 11, 1))  # the lease is over: taken over and finished
    assert sorted(lot.account.member.first_name
                  for lot in Lot.objects.filter(kind=Lot.Kind.GIFT)) == ["Анна", "Борис"]
    assert account(anna).available == account(boris).available == 30_000
    assert len(bodies("birthday")) == 2
    assert Effect.objects.filter(kind=Effect.Kind.BIRTHDAY_GIFT, key="2027").count() == 2
    run = JobRun.objects.get(job="birthday_gifts")
    assert run.finished_at == at(2027, 4, 10, 11, 1)
    assert run.counts == {"gifts": 1, "messages": 1}


def test_tick_twice_and_lost_run_records_double_nothing(shop):
    with time_machine.travel(at(2027, 3, 1, 12, 0), tick=False):
        shop.program(expiry={"mode": "after_accrual", "days": 30},
                     birthday_gift={"points": 30_000, "validity_days": 14})
        anna = shop.join(first_name="Анна", consents=AGREED, birth_date=date(1990, 3, 25))
        shop.buy(anna, 100_000)

    def figures():
        return (Lot.objects.count(), Entry.objects.count(), Message.objects.count(),
                account(anna).available)

    assert tick_at(at(2027, 3, 25, 10, 0)) == ALL_JOBS
    once = figures()
    assert once == (2, 2, 2, 35_000)  # purchase + gift lots; reminder + birthday messages
    assert tick_at(at(2027, 3, 25, 10, 1)) == 0
    JobRun.objects.all().delete()
    assert tick_at(at(2027, 3, 25, 10, 2)) == ALL_JOBS
    assert figures() == once


def test_member_jobs_wait_for_the_days_materialise_of_another_tick(shop):
    """Two ticks overlapping (e.g. catching up after downtime): while one still journals the
    day's activations and expiries, the other must not remind or notify from stale balances."""
    with time_machine.travel(at(2027, 3, 1, 12, 0), tick=False):
        shop.program(expiry={"mode": "after_accrual", "days": 30})
        anna = shop.join(first_name="Анна", consents=AGREED)
        shop.buy(anna, 100_000)
    # Another tick claimed the day's materialise at 09:55 and is still running it.
    JobRun.objects.create(merchant=shop.merchant, job="materialise", day=date(2027, 3, 25),
                          started_at=at(2027, 3, 25, 9, 55))

    assert tick_at(at(2027, 3, 25, 10, 0)) == 1  # winback_attribution only
    assert sorted(JobRun.objects.values_list("job", flat=True)) == [
        "materialise", "winback_attribution"]
    assert bodies("expiry_soon") == []

    JobRun.objects.filter(job="materialise").update(finished_at=at(2027, 3, 25, 10, 1))
    assert tick_at(at(2027, 3, 25, 10, 2)) == ALL_JOBS - NIGHT_JOBS
    assert len(bodies("expiry_soon")) == 1


def test_the_reminder_announces_points_expiring_to_webhooks_once(shop):
    from kopilka.webhooks import services as webhooks
    from kopilka.webhooks.models import Delivery

    with time_machine.travel(at(2027, 3, 1, 12, 0), tick=False):
        shop.program(expiry={"mode": "after_accrual", "days": 30})
        webhooks.create_endpoint(shop.merchant, url="https://hooks.example.com/expiry",
                                 events=["points.expiring"], actor=Actor.cli())
        anna = shop.join(first_name="Анна")  # no consent to messages: the webhook goes anyway
        shop.buy(anna, 100_000)
    assert tick_at(at(2027, 3, 25, 10, 0)) == ALL_JOBS
    assert tick_at(at(2027, 3, 26, 10, 0)) == ALL_JOBS  # the next day: announced already
    [delivery] = Delivery.objects.filter(event="points.expiring")
    assert delivery.payload["data"] == {
        "member_id": anna.pk, "points": 5_000, "last_day": "2027-03-31",
        "occurred_at": "2027-03-25T07:00:00Z",
    }
    assert bodies("expiry_soon") == []
