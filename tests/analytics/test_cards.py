"""Each figure computed on its own (what the cabinet loads lazily) equals the report's, on the
hand-made shop, for the whole merchant, a store and a cashier; the charts' series."""

from datetime import date

import pytest
from django_scopes import scope

from kopilka.analytics import cards, figures
from kopilka.automation import winback
from tests.analytics.scenario import hand_made_shop

pytestmark = pytest.mark.django_db
MARCH = (date(2030, 3, 1), date(2030, 3, 7))


@pytest.fixture
def march(shop, charlie):
    return hand_made_shop(shop, charlie.staff)


@pytest.mark.parametrize("which", ["merchant", "store", "cashier"])
def test_every_figure_alone_is_the_reports(shop, march, charlie, which):
    selected = {"merchant": {}, "store": {"store_id": march["stores"]["second"].pk},
                "cashier": {"cashier_id": charlie.staff.pk}}[which]
    report = figures.report(shop.merchant, *MARCH, winback=winback.figures, **selected)
    selection = cards.select(shop.merchant, *MARCH, **selected)
    alone = [one for number in cards.NUMBERS
             for one in cards.figure(selection, number, winback=winback.figures)]
    assert alone == report.figures


def test_series_by_day(shop, march):
    selection = cards.select(shop.merchant, *MARCH)
    series = cards.by_day(selection)
    assert series["days"] == [date(2030, 3, day) for day in range(1, 8)]
    # 1st: Anna 18 000; 2nd: Boris 45 000; 3rd: Boris 27 000; 4th: Vera, refunded in full;
    # 5th: Gleb 18 000; 6th: Anna 9 000 - 2 250 refunded.
    assert series["revenue"] == [18_000, 45_000, 27_000, 0, 18_000, 6_750, 0]
    assert series["checks"] == [1, 1, 1, 0, 1, 1, 0]
    assert series["points_accrued"] == [900, 2_250, 1_300, 0, 900, 338, 0]
    assert series["points_spent"] == [0, 0, 1_000, 0, 0, 0, 0]
    second = cards.select(shop.merchant, *MARCH, store_id=march["stores"]["second"].pk)
    assert cards.by_day(second)["revenue"] == [0, 45_000, 27_000, 0, 0, 0, 0]


def test_tiers(shop, march):
    # The four of the scenario joined the hand-made program's one tier; alice's own member
    # joined under the default program's first tier.
    assert cards.tiers(shop.merchant) == [("base", 4), ("standard", 1)]


def test_a_figure_number_must_exist(shop):
    with scope(merchant=shop.merchant), pytest.raises(ValueError):
        cards.figure(cards.select(shop.merchant, *MARCH), 18)
