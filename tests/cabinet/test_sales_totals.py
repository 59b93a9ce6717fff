"""The sales list's totals come from the analytics roll-up for whole days at a store and/or
cashier, and equal, to the kopeck, the sums of the purchases themselves: a merchant in
Honolulu (UTC-10) selling around its midnight, a discount and points spent, refunds in part
and in full (made days later: they count on their purchase's day, as on its row), two
stores, a sale without a cashier."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_scopes import scope, scopes_disabled

from kopilka.analytics.totals import sales_totals
from kopilka.core.actor import Actor
from kopilka.processing import queries, services
from kopilka.processing.models import Purchase
from kopilka.programs import services as programs
from kopilka.programs.engine import BasketLine
from kopilka.tenancy import services as tenancy
from kopilka.web.cabinet.views.sales import purchase_totals
from tests.analytics.scenario import PROGRAM
from tests.cabinet.test_sales import _figures
from tests.cabinet.tools import signed_in

pytestmark = pytest.mark.django_db

ZONE = ZoneInfo("Pacific/Honolulu")
ACTOR = Actor.cli()
NOW = datetime(2030, 3, 9, 12, tzinfo=ZONE)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2030, 3, day, hour, minute, tzinfo=ZONE)


@pytest.fixture
def aloha():
    created = tenancy.create_merchant("Aloha", owner_email="aloha@example.com",
                                      timezone="Pacific/Honolulu", actor=ACTOR)
    merchant, owner = created.merchant, created.owner
    receipts = iter(range(1, 100))
    with scope(merchant=merchant), time_machine.travel(at(1, 8), tick=False):
        programs.save_program(merchant, PROGRAM, actor=ACTOR)
        north = tenancy.create_store(merchant, "North", actor=ACTOR)
        south = tenancy.create_store(merchant, "South", actor=ACTOR)
        ann, ben = (services.enrol(merchant, phone=f"+7999000200{n}", actor=ACTOR,
                                   channel="cashier") for n in range(2))

    def buy(member, moment, store, cashier, amount, spend=0):
        sale = services.Sale(lines=(BasketLine(line_id="1", amount=amount),),
                             points_to_spend=spend)
        with scope(merchant=merchant), time_machine.travel(moment, tick=False):
            return services.commit_purchase(merchant, member, sale,
                                            receipt_id=f"R{next(receipts)}", source="test",
                                            actor=ACTOR, store=store,
                                            cashier=cashier).purchase

    def refund(purchase, moment, amount=None):
        with scope(merchant=merchant), time_machine.travel(moment, tick=False):
            services.refund_purchase(merchant, purchase, refund_id=f"F{next(receipts)}",
                                     amount=amount, actor=ACTOR)

    # 10 % off, 5 % accrued (PROGRAM): 1 000.00 -> 900.00 paid, 45.00 points.
    first = buy(ann, at(1, 23, 59), north, owner, 100_000)  # 09:59 UTC on the 2nd
    buy(ann, at(2, 0, 0), north, None, 33_333)
    spent = buy(ann, at(2, 12), south, owner, 50_000, spend=2_000)
    whole = buy(ben, at(3, 10), south, owner, 12_345)
    buy(ben, at(5, 18), north, None, 70_000)
    refund(first, at(4, 9), amount=10_001)  # in part, two days later
    refund(spent, at(6, 9), amount=5_000)
    refund(whole, at(7, 9))  # in full: its points go back
    return {"merchant": merchant, "owner": owner, "password": created.owner_password,
            "north": north, "south": south, "spent": spent}


def raw(merchant, since: date, until: date, **filters) -> dict:
    start = datetime.combine(since, datetime.min.time(), tzinfo=ZONE)
    end = datetime.combine(until + timedelta(days=1), datetime.min.time(), tzinfo=ZONE)
    return purchase_totals(queries.purchases(merchant, since=start, until=end)
                           .filter(**filters))


def test_roll_up_totals_equal_the_purchases_sums_for_every_period_and_filter(aloha):
    merchant, owner = aloha["merchant"], aloha["owner"]
    with scopes_disabled():
        assert Purchase.objects.filter(merchant=merchant, points_spent__gt=0).count() == 1
        for first in range(1, 8):
            for last in range(first, 8):
                since, until = date(2030, 3, first), date(2030, 3, last)
                for store in (None, aloha["north"].pk, aloha["south"].pk):
                    for cashier in (None, owner.pk):
                        filters = {name: value for name, value in
                                   (("store_id", store), ("cashier_id", cashier))
                                   if value is not None}
                        assert sales_totals(merchant, since, until, store_id=store,
                                            cashier_id=cashier) == raw(
                            merchant, since, until, **filters), (first, last, store, cashier)
        # By hand: the 1st (23:59 local) and the 2nd.
        assert sales_totals(merchant, date(2030, 3, 1), date(2030, 3, 1)) == {
            "count": 1, "total": 100_000, "discount": 10_000, "points_spent": 0,
            "paid_with_points": 0, "accrued": 4_500, "refunded": 10_001}
        assert sales_totals(merchant, date(2030, 3, 2), date(2030, 3, 2)) == {
            "count": 2, "total": 83_333, "discount": 8_333, "points_spent": 2_000,
            "paid_with_points": 2_000, "accrued": 1_500 + 2_150, "refunded": 5_000}


def test_the_sales_page_takes_whole_days_from_the_roll_up(aloha):
    merchant = aloha["merchant"]
    week = {"since": "2030-03-01", "until": "2030-03-07"}
    with time_machine.travel(NOW, tick=False):
        client = signed_in(aloha["owner"].user.email, aloha["password"])
        with CaptureQueriesContext(connection) as year:
            page = client.get("/cabinet/sales/", week).content.decode()
        by_store = client.get("/cabinet/sales/", {**week, "store": aloha["south"].pk})
        by_amount = client.get("/cabinet/sales/", {**week, "amount_min": "500"})
    # No sum over the purchases: the totals are the roll-up's.
    assert not [q for q in year.captured_queries
                if "SUM(" in q["sql"].upper() and Purchase._meta.db_table in q["sql"]]
    assert _figures(page) == {
        "Purchases": "5", "Total": "RUB2,656.78", "Discounts": "RUB265.67",
        "Paid with points": "RUB20.00", "Points accrued": "118.55\xa0bonuses",
        "Refunded": "RUB261.12"}
    # South: the sale with points (500.00) and Ben's, refunded in full.
    assert _figures(by_store.content.decode())["Total"] == "RUB623.45"
    # An amount range adds up the purchases: Ann's 1 000.00 and 500.00, Ben's 700.00.
    assert _figures(by_amount.content.decode())["Total"] == "RUB2,200.00"
    with scopes_disabled():
        assert raw(merchant, date(2030, 3, 1), date(2030, 3, 7))["total"] == 265_678


def test_filtered_totals_read_the_covering_index_alone(aloha):
    """An amount range or a search sums purchases the roll-up cannot: on PostgreSQL every
    column the totals read is in purchase_merchant_time, so the plan is an index-only scan (no
    heap row per purchase of the period). Fails when a column the totals read drops out of the
    index's INCLUDE, or the totals count the id again."""
    if connection.vendor != "postgresql":
        pytest.skip("covering indexes are PostgreSQL's; SQLite builds the plain index")
    merchant = aloha["merchant"]
    with scopes_disabled():
        rows = queries.purchases(merchant, since=at(1, 0), until=at(8, 0)).filter(
            total__gte=50_000, cashier_id=aloha["owner"].pk)
        with CaptureQueriesContext(connection) as asked:
            totals = purchase_totals(rows)
        assert totals == {
            "count": 2, "total": 150_000, "discount": 15_000, "points_spent": 2_000,
            "paid_with_points": 2_000, "accrued": 4_500 + 2_150, "refunded": 15_001}
        with connection.cursor() as cursor:
            # A few rows (and the statistics of whatever ran before): the planner may take any
            # index or the table. Only an index-only scan is left allowed, so the plan shows one
            # exactly when an index holds every column the totals read.
            for plan_type in ("seqscan", "bitmapscan", "indexscan"):
                cursor.execute(f"SET LOCAL enable_{plan_type} = off")
            [query] = asked.captured_queries
            cursor.execute("EXPLAIN " + query["sql"])
            plan = "\n".join(line for (line,) in cursor.fetchall())
    assert "Index Only Scan using purchase_merchant_time" in plan, plan
