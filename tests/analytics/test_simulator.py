"""The program simulator on the hand-made shop: the last 14 days replayed under the current
program and a proposal with the real engine, exact totals, nothing written."""

import copy
import json

import pytest
import time_machine

from kopilka.analytics import simulator
from kopilka.core.errors import InvalidInput
from kopilka.ledger.models import Entry
from kopilka.processing.models import Purchase
from kopilka.tenancy.models import Staff
from tests.analytics.scenario import PROGRAM, hand_made_shop, msk
from tests.cabinet.tools import owner_of, staff_client

pytestmark = pytest.mark.django_db
RICHER = copy.deepcopy(PROGRAM)
RICHER["tiers"][0]["discount"]["percent"] = 20
RICHER["tiers"][0]["accrual"]["percent"] = 1


@pytest.fixture
def march(shop, charlie):
    return hand_made_shop(shop, charlie.staff)


def test_the_last_two_weeks_under_two_programs(shop, march):
    rows = (Purchase.objects.count(), Entry.objects.count())
    with time_machine.travel(msk(2030, 3, 8, 12), tick=False):
        result = simulator.simulate(shop.merchant, RICHER, days=14)
    assert (Purchase.objects.count(), Entry.objects.count()) == rows  # nothing written
    # 25 February to 6 March: Anna 100 + 200 + 100, Boris 500 + 300, Vera 400, Gleb 200.
    assert (result.purchases, result.cut) == (7, False)
    current, proposed = result.current, result.proposed
    assert (current.total, current.discount, current.points_spent) == (180_000, 18_000, 1_000)
    # 5 % of what was paid in money, as the real sales accrued (the refunds left out).
    assert current.points_issued == 450 + 900 + 2_250 + 1_300 + 1_800 + 900 + 450
    assert (current.liability, current.cost) == (7_050, 18_000 + 1_000 + 7_050)
    assert (proposed.discount, proposed.points_issued) == (36_000, 80 + 160 + 400 + 230 + 320
                                                           + 160 + 80)
    assert (proposed.points_spent, proposed.liability) == (1_000, 430)
    assert current.tiers == proposed.tiers == {"base": 7}


def test_a_bad_proposal_or_window(shop):
    with pytest.raises(InvalidInput) as bad:
        simulator.simulate(shop.merchant, {"type": "nonsense"}, days=30)
    assert bad.value.field
    with pytest.raises(InvalidInput) as long:
        simulator.simulate(shop.merchant, PROGRAM, days=400)
    assert long.value.field == "days"


def test_the_cabinet_page(alice, march):
    client = owner_of(alice, language="ru")
    page = client.get("/cabinet/analytics/simulator/").content.decode()
    assert "&quot;max_redeem_percent&quot;" in page  # the current program, ready to change
    # The session lives in real time (2026): the shop's sales (2029-30) are all "recent".
    answer = client.post("/cabinet/analytics/simulator/",
                         {"days": "14", "config": json.dumps(RICHER)})
    html = answer.content.decode()
    assert answer.status_code == 200, html
    # All eight checks (1 900.00 ₽): discounts 190.00 now, 380.00 proposed.
    assert "190,00\xa0₽" in html and "380,00\xa0₽" in html
    assert client.post("/cabinet/analytics/simulator/",
                       {"days": "14", "config": "{nope"}).status_code == 422
    assert client.post("/cabinet/analytics/simulator/",
                       {"days": "14", "config": "{\"type\": 1}"}).status_code == 422
    _staff, cashier = staff_client(alice, Staff.Role.CASHIER)
    assert cashier.get("/cabinet/analytics/simulator/").status_code == 403
