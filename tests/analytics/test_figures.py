"""The 17 figures (ANL-1) on the hand-made shop of scenario.py, each with exact numbers, for
the whole merchant, a store and a cashier, beside the previous period."""

from datetime import date

import pytest
import time_machine
from django_scopes import scope

from kopilka.analytics import figures
from kopilka.automation import winback
from kopilka.core.actor import Actor
from kopilka.core.errors import InvalidInput, NotFound
from kopilka.processing import services
from kopilka.programs import services as programs
from kopilka.programs.engine import BasketLine
from kopilka.tenancy import services as tenancy
from tests.analytics.scenario import PROGRAM, hand_made_shop, msk

pytestmark = pytest.mark.django_db
MARCH = (date(2030, 3, 1), date(2030, 3, 7))  # the previous period: 22-28 February


def values(report, *, previous=False) -> dict:
    """key (key/topic for figure 11) -> value, or its previous value."""
    return {(f"{f.key}/{f.topic}" if f.topic else f.key): f.previous if previous else f.value
            for f in report.figures}


# Figures 13-15 by the reviews' status (tests/feedback has them with reviews).
NO_REVIEWS_BY_STATUS = {f"reviews_{group}/{status}": 0
                        for group in ("positive", "negative", "neutral")
                        for status in ("new", "in_progress", "processed")}


@pytest.fixture
def march(shop, charlie):
    return hand_made_shop(shop, charlie.staff)


def test_the_seventeen_figures_of_the_whole_merchant(shop, march):
    report = figures.report(shop.merchant, *MARCH, winback=winback.figures)
    assert (report.period, report.previous) == (
        figures.Period(*MARCH), figures.Period(date(2030, 2, 22), date(2030, 2, 28)))
    assert values(report) == {
        # Checks (total - discount - refunded): Anna 18 000 and 9 000 - 2 250 (refunded on
        # the 8th, counted on the 6th), Boris 45 000 and 27 000, Gleb 18 000; Vera's 36 000
        # was refunded in full: not a check, no revenue, no discount.
        "revenue": 114_750, "checks": 5, "average_check": 22_950,
        "average_discount": (2_000 + 5_000 + 3_000 + 1_000 + 2_000) // 5,
        "revenue_per_member": 114_750 // 3,  # Anna, Boris, Gleb (Vera's check is gone)
        # 5 % of what was paid in money: 900 + 2 250 + 1 300 + (1 800 - 1 800) + (450 - 112)
        # + 900; Boris paid 1 000 of his second check with points.
        "points_accrued": 5_688, "points_spent": 1_000,
        # alice's fixture member, Gleb, Anna, Boris, Vera; Boris and Vera joined in March.
        "members_total": 5, "members_new": 2,
        # Vera 1 (refunded, still a purchase), Boris 2, Gleb 2, Anna 3.
        "members_1_purchase": 1, "members_2_purchases": 2, "members_3_or_more_purchases": 1,
        "members_lost": 0,  # Gleb came back on the 5th
        # SMS: win-back 350; receipts 250 + 250 - 250 (refunded) + 250 (23:59 on the 7th).
        "sms_cost": 850, "sms_cost/receipt": 500, "sms_cost/winback": 350,
        "sms_cost/birthday": 0,
        "reviews_total": 0, "reviews_positive": 0, "reviews_negative": 0, "reviews_neutral": 0,
        **NO_REVIEWS_BY_STATUS,
        "winback_participants": 1, "winback_sms_cost": 350,
        "winback_purchases": 1, "winback_revenue": 18_000,
    }
    assert values(report, previous=True) == {
        "revenue": 9_000, "checks": 1, "average_check": 9_000, "average_discount": 1_000,
        "revenue_per_member": 9_000, "points_accrued": 450, "points_spent": 0,
        "members_total": 3, "members_new": 1,
        "members_1_purchase": 2, "members_2_purchases": 0, "members_3_or_more_purchases": 0,
        "members_lost": 1,  # Gleb: nothing since 1 October, more than 90 days
        "sms_cost": 300, "sms_cost/receipt": 0, "sms_cost/winback": 0, "sms_cost/birthday": 300,
        "reviews_total": 0, "reviews_positive": 0, "reviews_negative": 0, "reviews_neutral": 0,
        **NO_REVIEWS_BY_STATUS,
        "winback_participants": 0, "winback_sms_cost": 0,
        "winback_purchases": 0, "winback_revenue": 0,
    }
    assert report.reviews_available is True and report.lost_after_days == 90
    revenue = report.figures[0]
    assert (revenue.number, revenue.change, revenue.change_percent) == (1, 105_750, 1175.0)
    assert [f.number for f in report.figures] == [1, 2, 3, 4, 5, 6, 7, 8, 8, 9, 9, 9, 10,
                                                  11, 11, 11, 11, 12, *[13] * 4, *[14] * 4,
                                                  *[15] * 4, 16, 16, 17, 17]


def test_a_store_and_a_cashier_select_the_sales_figures(shop, march):
    second = march["stores"]["second"]
    report = values(figures.report(shop.merchant, *MARCH, store_id=second.pk))
    assert {key: report[key] for key in ("revenue", "checks", "average_check",
                                         "average_discount", "revenue_per_member",
                                         "points_accrued", "points_spent")} == {
        "revenue": 72_000, "checks": 2, "average_check": 36_000, "average_discount": 4_000,
        "revenue_per_member": 72_000, "points_accrued": 3_550, "points_spent": 1_000}
    assert report["members_total"] == 5  # the member base is the merchant's
    cashier = march["purchases"]["vera-1"].cashier_id  # charlie: the back counter and Vera's
    by_cashier = values(figures.report(shop.merchant, *MARCH, cashier_id=cashier))
    assert (by_cashier["revenue"], by_cashier["checks"], by_cashier["points_accrued"]) == (
        72_000, 2, 3_550)
    main = march["stores"]["main"]
    both = values(figures.report(shop.merchant, *MARCH, store_id=main.pk, cashier_id=cashier))
    assert (both["revenue"], both["checks"], both["revenue_per_member"]) == (0, 0, 0)
    owner = shop.tenant.owner.pk
    front = values(figures.report(shop.merchant, *MARCH, store_id=main.pk, cashier_id=owner))
    assert (front["revenue"], front["checks"], front["average_check"]) == (42_750, 3, 14_250)


def test_lost_after_is_the_merchants_setting(shop, march):
    figures.save_settings(shop.merchant, lost_after_days=5, actor=Actor.cli())
    report = values(figures.report(shop.merchant, *MARCH))
    # Bought in the last 5 days (3-7 March): Vera, Anna, Gleb. Boris's last was on the 3rd,
    # 4 days before: still in. With 4 days he is lost.
    assert report["members_lost"] == 0
    figures.save_settings(shop.merchant, lost_after_days=4, actor=Actor.cli())
    assert values(figures.report(shop.merchant, *MARCH))["members_lost"] == 1
    with pytest.raises(InvalidInput) as refused:
        figures.save_settings(shop.merchant, lost_after_days=0, actor=Actor.cli())
    assert refused.value.field == "lost_after_days"


def test_another_merchants_store_or_staff_is_not_found(shop, bob):
    with pytest.raises(NotFound):
        figures.report(shop.merchant, *MARCH, store_id=bob.terminal.store_id)
    with pytest.raises(NotFound):
        figures.report(shop.merchant, *MARCH, cashier_id=bob.owner.pk)


def test_a_period_must_make_sense(shop):
    with pytest.raises(InvalidInput) as backwards:
        figures.report(shop.merchant, date(2030, 3, 7), date(2030, 3, 1))
    assert backwards.value.field == "until"
    with pytest.raises(InvalidInput) as long:
        figures.report(shop.merchant, date(2020, 1, 1), date(2030, 1, 1))
    assert long.value.field == "since"
    with time_machine.travel(msk(2030, 3, 7, 23, 30), tick=False):
        default = figures.report(shop.merchant)
    assert default.period == figures.Period(date(2030, 2, 6), date(2030, 3, 7))


def test_days_are_the_merchants_local_days(db):
    # Vladivostok is UTC+10: 23:50 on 1 March and 00:10 on 2 March are both 1 March in UTC.
    created = tenancy.create_merchant("Far East", owner_email="far@example.com",
                                      timezone="Asia/Vladivostok", actor=Actor.cli())
    merchant = created.merchant
    with scope(merchant=merchant):
        programs.save_program(merchant, PROGRAM, actor=Actor.cli())
        member = services.enrol(merchant, phone="+79990001111", actor=Actor.cli(),
                                channel="cashier")
        for n, moment in enumerate(["2030-03-01T13:50:00Z", "2030-03-01T14:10:00Z"]):
            sale = services.Sale(lines=(BasketLine(line_id="1", amount=10_000 * (n + 1)),))
            with time_machine.travel(moment, tick=False):
                services.commit_purchase(merchant, member, sale, receipt_id=f"V{n}",
                                         source="test", actor=Actor.cli())
        first = values(figures.report(merchant, date(2030, 3, 1), date(2030, 3, 1)))
        second = values(figures.report(merchant, date(2030, 3, 2), date(2030, 3, 2)))
    assert (first["revenue"], first["checks"]) == (9_000, 1)
    assert (second["revenue"], second["checks"]) == (18_000, 1)
