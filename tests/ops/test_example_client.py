"""examples/pos_client.py, the runnable client of docs/integrations.md, against a live server:
its flows give the figures the guide promises."""

import importlib.util
import io
from datetime import timedelta
from pathlib import Path

import pytest
from django_scopes import scope

from kopilka.core import clock
from kopilka.core.actor import Actor
from kopilka.programs import services as programs
from kopilka.tenancy import services as tenancy

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pos_client.py"
LINES = [{"line_id": "1", "amount": 35000, "product_group": "coffee"},
         {"line_id": "2", "amount": 15000, "sku": "CROISSANT"}]


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("pos_client", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def till(example, live_server):
    """A merchant on the default program (5 %, at most half a check in points, a welcome
    bonus of 5 000), a member who joined at the till, and the client with the till's key."""
    actor = Actor.cli()
    merchant = tenancy.create_merchant("Example Coffee", owner_email="ex@example.com",
                                       actor=actor).merchant
    _, key = tenancy.create_terminal(merchant, store_name="Main", actor=actor)
    with scope(merchant=merchant):
        programs.save_program(merchant, {**programs.DEFAULT_PROGRAM, "welcome_bonus": 5000},
                              actor=actor)
    pos = example.Kopilka(live_server.url, key)
    pos.call("POST", "/members", {"phone": "+7 916 555-44-33", "consents": [
        {"kind": "personal_data", "text_version": "2026-01"}]})
    return pos, key


def test_a_sale_prints_the_points_as_line_discounts_and_commits_that_split(example, till):
    pos, _key = till
    member = pos.lookup(phone="8 916 555 44 33")
    assert member["available"] == 5000
    check, purchase = example.sell(pos, "0001-000123", {"id": member["id"]}, LINES, wish=1000,
                                   payment_method="card")
    # 1 000 points over 350.00 and 150.00 in proportion: 7.00 and 3.00.
    assert [(line.amount, line.paid_with_points, line.to_pay) for line in check] == [
        (35000, 700, 34300), (15000, 300, 14700)]
    assert (purchase["points_spent"], purchase["payable"], purchase["points_accrued"],
            purchase["available"]) == (1000, 49000, 2450, 6450)
    # Sent again after a lost answer: the first answer comes back, nothing moves twice.
    again = pos.commit("0001-000123", {"id": member["id"]}, LINES, 1000, payment_method="card")
    assert again == purchase
    # Line 2 back: its accrual (735) taken back, its share of the spent points (300) returned.
    refund = pos.refund("0001-000123", "RET-1", lines={"2": 15000})
    assert (refund["points_reversed"], refund["points_returned"], refund["available"]) == (
        735, 300, 6015)
    assert pos.refund("0001-000123", "RET-1", lines={"2": 15000}) == refund
    assert pos.lookup(phone="+79165554433")["available"] == 6015


def test_a_wish_above_the_limit_is_quoted_down_and_committed_as_quoted(example, till):
    pos, _key = till
    ref = {"phone": "+79165554433"}
    check, purchase = example.sell(pos, "0001-000200", ref,
                                   [{"line_id": "1", "amount": 6000}], wish=100_000)
    assert [line.paid_with_points for line in check] == [3000]  # half the check
    assert purchase["points_spent"] == 3000


def test_the_offline_queue_uploads_once_and_keeps_what_is_refused(example, till):
    pos, _key = till
    queue = example.OfflineQueue()
    yesterday = (clock.now() - timedelta(days=1)).astimezone()
    queue.keep("OFF-1", {"phone": "+79165554433"}, [{"line_id": "1", "amount": 20000}],
               at=yesterday)
    queue.keep("OFF-2", {"phone": "+79990000000"}, [{"line_id": "1", "amount": 10000}],
               at=yesterday)  # nobody has this phone
    done = queue.upload(pos)
    assert [(sale["receipt_id"], sale["points_accrued"], sale["available"]) for sale in done] \
        == [("OFF-1", 1000, 6000)]
    assert [(sale["receipt_id"], ) for sale, _reason in queue.refused] == [("OFF-2",)]
    assert queue.sales == []
    queue.keep("OFF-1", {"phone": "+79165554433"}, [{"line_id": "1", "amount": 20000}],
               at=yesterday)  # sent again after a lost answer: the same purchase
    assert queue.upload(pos)[0]["purchase_id"] == done[0]["purchase_id"]
    assert pos.lookup(phone="+79165554433")["available"] == 6000


def test_a_problem_is_raised_with_its_type(example, till):
    pos, _key = till
    with pytest.raises(example.Problem) as problem:
        pos.lookup(phone="+79990000000")
    assert (problem.value.status, problem.value.type) == (404, "/problems/not-found")


def test_the_demonstration_runs(example, till, live_server):
    pos, key = till
    out = io.StringIO()
    assert example.main(["--url", live_server.url, "--key", key, "--phone", "+79165554433",
                         "--receipt", "DEMO-1"], out=out) == 0
    member = pos.lookup(phone="+79165554433")["id"]
    lines = out.getvalue().splitlines()
    purchase = lines[3].split()[1].rstrip(":")
    assert lines == [
        f"member {member}: 5000 points, tier standard",
        "line 1: 350.00 − points 7.00 = 343.00",
        "line 2: 150.00 − points 3.00 = 147.00",
        f"purchase {purchase}: spent 1000, accrued 2450, balance 6450",
        f"sent again: purchase {purchase}, balance 6450",
        "refund of line 2: 735 accrued points taken back, 300 spent points returned, "
        "balance 6015",
        "offline sale uploaded: accrued 1000, balance 7015",
    ]
