"""The owner's money view on the hand-made shop: the liability at the end of a day from the
ledger's rows, what expires soon, breakage; the cabinet page."""

from datetime import date

import pytest
import time_machine

from kopilka.analytics import liability
from kopilka.ledger.models import Lot
from kopilka.tenancy.models import Staff
from tests.analytics.scenario import hand_made_shop, msk
from tests.cabinet.tools import owner_of, staff_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def march(shop, charlie):
    return hand_made_shop(shop, charlie.staff)


def test_liability_at_the_end_of_a_day(shop, march):
    # 5 % of what each paid: Anna 450 + 900 + 450 - 112 refunded, Boris 2 250 + 1 300 - 1 000
    # spent, Gleb 450 + 900; Vera's 1 800 went back with her refund. The point value is 1:1.
    found = liability.liability(shop.merchant, date(2030, 3, 8))
    assert (found.available, found.pending, found.money) == (5_588, 0, 5_588)
    assert (found.issued, found.expired, found.breakage_percent) == (8_500, 0, 0.0)
    before = liability.liability(shop.merchant, date(2030, 2, 28))
    assert (before.points, before.issued) == (900, 900)  # Gleb's first, Anna's first


def test_expiring_and_breakage(shop, march):
    lots = Lot.objects.filter(merchant=shop.merchant, remaining__gt=0).order_by("pk")
    first, second = lots[0], lots[1]
    with time_machine.travel(msk(2030, 3, 10, 12), tick=False):
        Lot.objects.filter(pk=first.pk).update(expires_at=msk(2030, 3, 20))
        Lot.objects.filter(pk=second.pk).update(expires_at=msk(2030, 5, 20))
        found = liability.liability(shop.merchant)
    assert found.expiring == {30: (first.remaining, first.remaining),
                              90: (first.remaining + second.remaining,
                                   first.remaining + second.remaining)}
    assert found.day == date(2030, 3, 10)


def test_the_page(alice, march):
    client = owner_of(alice, language="ru")
    page = client.get("/cabinet/analytics/money/?day=2030-03-08").content.decode()
    assert "55,88\xa0₽" in page and "Нет" not in page
    assert client.get("/cabinet/analytics/money/?day=nonsense").status_code == 422
    _staff, cashier = staff_client(alice, Staff.Role.CASHIER)
    assert cashier.get("/cabinet/analytics/money/").status_code == 403
