"""The distinct-buyer counts of figures 5 and 10 come from the roll-up's buyers rows: for every
period of a fortnight they equal the count over the raw purchases, whatever order the sales
were recorded in (offline uploads with earlier times), with same-day purchases, refunds in
full (the check leaves the count) and in part, two stores, sales without a store, and a
merchant far from UTC selling around its midnight."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django_scopes import scope, scopes_disabled

from kopilka.analytics import rollup
from kopilka.analytics.figures import Period, _Reader
from kopilka.analytics.models import ALL_STORES, NEVER
from kopilka.core.actor import Actor
from kopilka.processing import services
from kopilka.programs import services as programs
from kopilka.programs.engine import BasketLine
from kopilka.tenancy import services as tenancy
from tests.analytics.scenario import PROGRAM

pytestmark = pytest.mark.django_db

HONOLULU = ZoneInfo("Pacific/Honolulu")
ACTOR = Actor.cli()
NOW = datetime(2030, 3, 20, 12, tzinfo=HONOLULU)  # uploads happen "now", sales before


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2030, 3, day, hour, minute, tzinfo=HONOLULU)


class Far:
    def __init__(self):
        self.merchant = tenancy.create_merchant(
            "Aloha", owner_email="aloha@example.com", timezone="Pacific/Honolulu",
            actor=ACTOR).merchant
        self.receipts = 0

    def buy(self, member, at, store=None, amount=10_000):
        self.receipts += 1
        sale = services.Sale(lines=(BasketLine(line_id="1", amount=amount),), occurred_at=at)
        with time_machine.travel(NOW, tick=False):
            return services.commit_purchase(self.merchant, member, sale,
                                            receipt_id=f"R{self.receipts}", source="test",
                                            actor=ACTOR, store=store).purchase

    def refund(self, purchase, amount=None):
        self.receipts += 1
        with time_machine.travel(NOW, tick=False):
            services.refund_purchase(self.merchant, purchase, refund_id=f"F{self.receipts}",
                                     amount=amount, actor=ACTOR)


def test_buyers_rows_count_every_period_as_the_raw_purchases_do():
    far = Far()
    merchant = far.merchant
    with scope(merchant=merchant), time_machine.travel(local(1, 8), tick=False):
        programs.save_program(merchant, PROGRAM, actor=ACTOR)
        north = tenancy.create_store(merchant, "North", actor=ACTOR)
        south = tenancy.create_store(merchant, "South", actor=ACTOR)
        ann, ben, cat, dan = (services.enrol(merchant, phone=f"+7999000100{n}", actor=ACTOR,
                                             channel="cashier") for n in range(4))
    with scope(merchant=merchant):
        # Ann: in time order, twice on the 5th (north, then south), again on the 9th.
        far.buy(ann, local(2, 10), north)
        far.buy(ann, local(5, 9), north)
        far.buy(ann, local(5, 18), south)
        far.buy(ann, local(9, 12), north)
        # Ben: the 10th first, then offline uploads of the 4th and the 7th (south), then the
        # 6th's at midnight's edge (23:59 local is the next day in UTC).
        far.buy(ben, local(10, 10), north)
        far.buy(ben, local(4, 10), south)
        far.buy(ben, local(7, 10), south)
        ben_6 = far.buy(ben, local(6, 23, 59), north)
        # Cat: the 3rd, the 6th refunded in full (the check leaves; the purchase stays a
        # purchase for figure 10), the 8th refunded in part, the 11th without a store.
        far.buy(cat, local(3, 0, 0), south)
        cat_6 = far.buy(cat, local(6, 12), south)
        cat_8 = far.buy(cat, local(8, 12), south)
        far.buy(cat, local(11, 12))
        far.refund(cat_6)
        far.refund(cat_8, amount=1_000)
        # Ben's midnight purchase refunded in two parts: the second completes it.
        far.refund(ben_6, amount=2_000)
        far.refund(ben_6)
        # Dan: once, on the 12th, uploaded last; then a second on the 12th at another store.
        far.buy(dan, local(12, 8), north)
        far.buy(dan, local(12, 9), south)

    with scopes_disabled():
        kept = rollup.stored(merchant)
        assert kept == rollup.derive(merchant)
        # Ben's visits at the whole merchant: 4th (first), 6th after the 4th, 7th after the
        # 6th, 10th after the 7th (the 10th's row moved twice as the uploads came in).
        ben_rows = {(day, previous): counters["buyers"]
                    for (day, store, _cashier, previous), counters in kept.items()
                    if store == ALL_STORES and counters.get("buyers")}
        assert ben_rows[date(2030, 3, 10), date(2030, 3, 7)] == 1
        assert (date(2030, 3, 10), NEVER) not in ben_rows  # added first, moved since
        assert ben_rows[date(2030, 3, 4), NEVER] == 1  # Ben's first, none other on the 4th

        checks = {}
        for first in range(1, 15):
            for last in range(first, 15):
                span = Period(date(2030, 3, first), date(2030, 3, last))
                for store in (None, north.pk, south.pk):
                    reader = _Reader(merchant, store, None)
                    got = reader.buyers(span, counted_only=True, selected=True)
                    assert got == reader._raw_buyers(span, counted_only=True, selected=True), (
                        span, store)
                    checks[first, last, store] = got
                reader = _Reader(merchant, None, None)
                assert reader.buyers(span, counted_only=False, selected=False) == \
                    reader._raw_buyers(span, counted_only=False, selected=False), span
        # A few by hand: on the 6th only Ben's midnight sale and Cat's, both refunded in full.
        assert checks[6, 6, None] == 0
        assert _Reader(merchant, None, None).buyers(
            Period(date(2030, 3, 6), date(2030, 3, 6)), counted_only=False,
            selected=False) == 2
        assert checks[1, 14, None] == 4
        assert checks[1, 14, north.pk] == 3  # Ann, Ben, Dan
        assert checks[5, 8, south.pk] == 3  # Ann (5th), Ben (7th), Cat (8th, in part)


def test_a_store_less_sale_and_a_day_after_a_gap_of_a_year():
    far = Far()
    merchant = far.merchant
    with scope(merchant=merchant), time_machine.travel(local(1, 8) - timedelta(days=400),
                                                       tick=False):
        programs.save_program(merchant, PROGRAM, actor=ACTOR)
        ann = services.enrol(merchant, phone="+79990001001", actor=ACTOR, channel="cashier")
    with scope(merchant=merchant):
        far.buy(ann, local(1, 8) - timedelta(days=380))
        far.buy(ann, local(2, 8))
    with scopes_disabled():
        assert rollup.stored(merchant) == rollup.derive(merchant)
        reader = _Reader(merchant, None, None)
        for first in range(1, 4):
            span = Period(date(2030, 3, first), date(2030, 3, 3))
            expected = 1 if first <= 2 else 0
            assert reader.buyers(span, counted_only=True, selected=True) == expected
            assert reader.buyers(span, counted_only=False, selected=False) == expected
