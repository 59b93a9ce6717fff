"""The roll-up kept by the subscribers equals, cell by cell, the one derived from the raw rows
(`kopilka analytics rebuild`); keeping it costs a commit one statement."""

from datetime import date

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_scopes import scope, scopes_disabled

from kopilka.analytics import rollup
from kopilka.analytics.models import CELL, DayFigures
from kopilka.core.actor import Actor
from kopilka.core.errors import Conflict
from kopilka.processing import services
from kopilka.programs import services as programs
from kopilka.programs.engine import BasketLine
from kopilka.tenancy import services as tenancy
from tests.analytics.scenario import PROGRAM, hand_made_shop, msk
from tests.cli_tools import english_operator, run  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


def far_east_sales():
    """A merchant in UTC-10 (Honolulu) with sales and a refund around local midnight."""
    merchant = tenancy.create_merchant("Aloha", owner_email="aloha@example.com",
                                       timezone="Pacific/Honolulu", actor=Actor.cli()).merchant
    with scope(merchant=merchant):
        programs.save_program(merchant, PROGRAM, actor=Actor.cli())
        member = services.enrol(merchant, phone="+79990002222", actor=Actor.cli(),
                                channel="cashier")
        made = []
        for n, moment in enumerate(["2030-03-02T09:59:59Z", "2030-03-02T10:00:00Z",
                                    "2030-03-02T10:00:01Z"]):
            sale = services.Sale(lines=(BasketLine(line_id="1", amount=3_333 * (n + 1)),))
            with time_machine.travel(moment, tick=False):
                made.append(services.commit_purchase(merchant, member, sale,
                                                     receipt_id=f"H{n}", source="test",
                                                     actor=Actor.cli()).purchase)
        with time_machine.travel("2030-03-03T12:00:00Z", tick=False):
            services.refund_purchase(merchant, made[1], refund_id="H1-1", amount=1_001,
                                     actor=Actor.cli())
            services.refund_purchase(merchant, made[1], refund_id="H1-2", actor=Actor.cli())
    return merchant


def test_the_kept_cells_equal_the_ones_derived_from_the_raw_rows(shop, charlie, bob,
                                                                    capsys, english_operator):  # noqa: F811
    march = hand_made_shop(shop, charlie.staff)
    # More of it: Boris's second check refunded in two parts (its points come back), a sale
    # without store or cashier, bob's merchant selling at the same time.
    boris = march["members"]["boris"]
    shop.refund(march["purchases"]["boris-2"], refund_id="B1", amount=10_000)
    shop.refund(march["purchases"]["boris-2"], refund_id="B2")
    with time_machine.travel(msk(2030, 3, 7, 0, 0), tick=False):
        shop.buy(boris, 7_777)
    with scope(merchant=bob.merchant):
        sale = services.Sale(lines=(BasketLine(line_id="1", amount=5_000),))
        services.commit_purchase(bob.merchant, bob.member, sale, receipt_id="bob-1",
                                 source="test", actor=Actor.cli())
    aloha = far_east_sales()
    with scopes_disabled():
        merchants = [shop.merchant, bob.merchant, aloha]
        kept = {m.slug: rollup.stored(m) for m in merchants}
        derived = {m.slug: rollup.derive(m) for m in merchants}
        assert kept == derived
        local = kept[aloha.slug]
        # 23:59:59 on 1 March in Honolulu, then midnight and a second later on the 2nd.
        assert local[date(2030, 3, 1), 0, 0, CELL] == {
            "checks": 1, "revenue": 3_000, "discount": 333, "points_accrued": 150,
            "first_purchases": 1, "purchases": 1, "total": 3_333}
        # The second sale was refunded in full (two refunds), the third stands.
        assert local[date(2030, 3, 2), 0, 0, CELL] == {
            "checks": 1, "revenue": 9_000, "discount": 999, "points_accrued": 450,
            "second_purchases": 1, "third_purchases": 1, "purchases": 2,
            "total": 6_666 + 9_999, "refunded": 6_000, "points_reversed": 300}

        # Spoil the kept cells; the command puts them right for one merchant, then for all.
        DayFigures.objects.filter(merchant=shop.merchant).update(revenue=1)
        DayFigures.objects.filter(merchant=bob.merchant).delete()
        code, out, _ = run(["analytics", "rebuild", "--merchant", shop.merchant.slug], capsys)
        cells = len(derived[shop.merchant.slug])
        assert (code, out) == (0, f"{shop.merchant.slug}: {cells} cells\n")
        assert rollup.stored(shop.merchant) == derived[shop.merchant.slug]
        assert rollup.stored(bob.merchant) == {}
        code, out, _ = run(["analytics", "rebuild"], capsys)
        assert code == 0 and len(out.splitlines()) == 3
        assert {m.slug: rollup.stored(m) for m in merchants} == derived


def test_rebuild_names_an_unknown_merchant(capsys, english_operator, db):  # noqa: F811
    code, _out, err = run(["analytics", "rebuild", "--merchant", "nobody"], capsys)
    assert (code, err) == (1, "kopilka: error: No merchant with slug 'nobody'. (merchant)\n")


def test_a_commit_and_a_refund_each_write_the_roll_up_with_one_statement(shop):
    member = shop.tenant.member
    with CaptureQueriesContext(connection) as sale:
        bought = shop.buy(member, 10_000).purchase
    with CaptureQueriesContext(connection) as refund:
        shop.refund(bought, amount=100)
    for captured in (sale, refund):
        touching = [q["sql"] for q in captured.captured_queries
                    if DayFigures._meta.db_table in q["sql"]]
        # The sale's (and a full refund's) upsert reads the member's other purchases in a
        # CTE first: still one statement.
        assert len(touching) == 1
        assert touching[0].startswith(("INSERT INTO", "WITH p AS"))
        assert f'INSERT INTO "{DayFigures._meta.db_table}"' in touching[0]


def test_a_replayed_sale_or_refund_and_a_refused_one_add_nothing(shop):
    member = shop.tenant.member
    bought = shop.buy(member, 10_000, receipt="R-once").purchase
    shop.refund(bought, refund_id="F-once", amount=1_000)
    kept = rollup.stored(shop.merchant)
    assert shop.buy(member, 10_000, receipt="R-once").replayed
    assert shop.refund(bought, refund_id="F-once", amount=1_000).replayed
    with pytest.raises(Conflict):  # more points than the member has: nothing written
        shop.buy(member, 10_000, spend=1_000_000)
    assert rollup.stored(shop.merchant) == kept == rollup.derive(shop.merchant)
