"""Win-back attribution (ANL-1 figures 16-17): purchases within the window after a contact
that reached the member, each credited once to the latest such contact; the figures."""

from datetime import date

import pytest
import time_machine

from kopilka.automation import winback
from kopilka.automation.models import JobRun, WinbackContact, WinbackPurchase
from kopilka.core.errors import InvalidInput
from kopilka.members.models import Member
from kopilka.messaging.models import Message
from tests.automation.helpers import AGREED, at, tick_at

pytestmark = pytest.mark.django_db

START = at(2027, 1, 1, 12, 0)
CHAIN = {
    "code": "comeback", "name": "Come back", "segment": {"kind": "all"},
    "steps": [
        {"after_days": 20, "message": {"ru": "{name}, ждём вас в {merchant}"}},
        {"after_days": 25, "gift": {"points": 20_000, "validity_days": 10}},
    ],
}


def buy(shop, member, amount, *moment, receipt):
    with time_machine.travel(at(*moment), tick=False):
        return shop.buy(member, amount, receipt=receipt).purchase


@pytest.fixture
def january(shop):
    """Five members who bought on 1 January, their contacts on the 21st (day 20) and 26th
    (day 25), and what they bought after them."""
    Member.objects.filter(pk=shop.tenant.member.pk).update(status=Member.Status.LEFT)
    people = {}
    with time_machine.travel(START, tick=False):
        shop.program(chains=[CHAIN], winback_window_days=10)
        for n, (name, consents) in enumerate([("Анна", AGREED), ("Борис", AGREED),
                                              ("Глеб", AGREED), ("Вера", []), ("Дарья", [])],
                                             start=1):
            people[name] = shop.join(phone=f"+7999000000{n}", first_name=name,
                                     consents=consents)
            shop.buy(people[name], 100_000, receipt=f"start-{n}")  # before any contact
    days = [at(2027, 1, day, 10, 30) for day in range(20, 32)]
    days += [at(2027, 2, day, 10, 30) for day in range(1, 13)]
    purchases = {}
    for moment in days:
        tick_at(moment)
        match (moment.month, moment.day):
            case (1, 22):  # Дарья's contact reached her not (no consent, no gift)
                purchases["dasha"] = buy(shop, people["Дарья"], 20_000, 2027, 1, 22, 12,
                                         receipt="dasha")
            case (1, 23):
                purchases["anna-1"] = buy(shop, people["Анна"], 100_000, 2027, 1, 23, 12,
                                          receipt="anna-1")
                shop.refund(purchases["anna-1"], amount=40_000)
            case (1, 24):
                purchases["anna-2"] = buy(shop, people["Анна"], 50_000, 2027, 1, 24, 12,
                                          receipt="anna-2")
            case (1, 28):  # Глеб: after both contacts, credited to the later one
                purchases["gleb"] = buy(shop, people["Глеб"], 30_000, 2027, 1, 28, 12,
                                        receipt="gleb")
            case (1, 30):  # Вера: reached by the gift alone
                purchases["vera"] = buy(shop, people["Вера"], 80_000, 2027, 1, 30, 12,
                                        receipt="vera")
            case (2, 10):  # Борис: 15 days after his last contact, the window is 10
                purchases["boris"] = buy(shop, people["Борис"], 60_000, 2027, 2, 10, 12,
                                         receipt="boris")
    # What SMS billing charges when the messages are sent: 2.50 a message.
    Message.objects.filter(event="gift").update(cost=250)
    return people, purchases


def test_each_purchase_is_credited_once_to_the_latest_contact_that_reached_the_member(
        shop, january):
    people, purchases = january
    rows = WinbackContact.objects.select_related("member")
    assert sorted((c.member.first_name, c.step, c.sent, c.points) for c in rows) == [
        ("Анна", 0, True, 0),
        ("Борис", 0, True, 0), ("Борис", 1, True, 20_000),
        ("Вера", 0, False, 0), ("Вера", 1, False, 20_000),
        ("Глеб", 0, True, 0), ("Глеб", 1, True, 20_000),
        ("Дарья", 0, False, 0),
        ("Дарья", 0, False, 0),  # again on 11 February, 20 days after her purchase
    ]
    contacts = {(contact.member_id, contact.step): contact for contact in rows}
    anna, gleb, vera = people["Анна"].pk, people["Глеб"].pk, people["Вера"].pk
    assert dict(WinbackPurchase.objects.values_list("purchase__receipt_id", "contact")) == {
        "anna-1": contacts[anna, 0].pk, "anna-2": contacts[anna, 0].pk,
        "gleb": contacts[gleb, 1].pk, "vera": contacts[vera, 1].pk,
    }
    assert WinbackPurchase.objects.get(purchase=purchases["gleb"]).occurred_at == at(
        2027, 1, 28, 12)

    JobRun.objects.all().delete()  # the days again: nothing is credited twice
    tick_at(at(2027, 2, 12, 10, 31))
    tick_at(at(2027, 2, 11, 10, 31))
    assert WinbackPurchase.objects.count() == 4


def test_the_figures_of_a_period(shop, january):
    assert winback.figures(shop.merchant, date(2027, 1, 1), date(2027, 1, 31)) == (
        winback.Figures(participants=4, contacts=6, messages=5, sms_parts=5, sms_cost=1_250,
                        gifts=3, gift_points=60_000, purchases=4, buyers=3,
                        revenue=60_000 + 50_000 + 30_000 + 80_000))
    assert winback.figures(shop.merchant, date(2027, 1, 23), date(2027, 1, 23)) == (
        winback.Figures(participants=0, contacts=0, messages=0, sms_parts=0, sms_cost=0,
                        gifts=0, gift_points=0, purchases=1, buyers=1, revenue=60_000))
    assert winback.figures(shop.merchant, date(2027, 1, 26), date(2027, 2, 28)) == (
        winback.Figures(participants=3, contacts=3, messages=2, sms_parts=2, sms_cost=500,
                        gifts=3, gift_points=60_000, purchases=2, buyers=2, revenue=110_000))


def test_a_period_that_ends_before_it_starts_is_refused(shop):
    with pytest.raises(InvalidInput) as refused:
        winback.figures(shop.merchant, date(2027, 2, 1), date(2027, 1, 31))
    assert refused.value.field == "end"
