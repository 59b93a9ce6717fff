"""Real concurrent sales into one roll-up cell and one buyers row (SQLite file or PostgreSQL):
no lost update, no deadlock."""

from datetime import date

import pytest
import time_machine
from django_scopes import scope

from kopilka.analytics import rollup
from kopilka.analytics.models import CELL, NEVER
from tests.analytics.scenario import msk
from tests.clients import run_in_threads

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_twelve_members_buying_at_once_at_one_counter_add_up(shop):
    merchant = shop.merchant
    with time_machine.travel(msk(2030, 3, 1, 12), tick=True):
        shop.program()
        members = [shop.join(phone=f"+7999555{n:04d}") for n in range(12)]

        def buy(n):
            with scope(merchant=merchant):
                return shop.buy(members[n], 1_000 * (n + 1), receipt=f"P{n}")

        outcomes = run_in_threads(12, buy)
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    with scope(merchant=merchant):
        kept = rollup.stored(merchant)
        assert kept == rollup.derive(merchant)
    # The day's cell of no store and no cashier, with the members who joined.
    assert kept[date(2030, 3, 1), 0, 0, CELL] == {
        "checks": 12, "revenue": 78_000, "points_accrued": 3_900, "first_purchases": 12,
        "enrolled": 12, "purchases": 12, "total": 78_000}
    # The buyers row all twelve sales added to at once: first-time buyers of the day.
    assert kept[date(2030, 3, 1), 0, 0, NEVER] == {"buyers": 12, "customers": 12}
