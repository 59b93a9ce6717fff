"""Sales kept on the device while offline, uploaded when the network returns: each committed
at its own time and idempotent by its receipt id; refusals answered per sale; and the rules of
a late upload (docs/offline.md) with exact figures."""

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django_scopes import scope

from kopilka.core.actor import Actor
from kopilka.ledger import sweep
from kopilka.ledger.models import Account, Entry, Lot
from kopilka.members import services as members
from kopilka.members.models import Member
from kopilka.processing.models import Purchase
from tests.cashier.tools import at_counter
from tests.shop import Shop

MSK = ZoneInfo("Europe/Moscow")  # alice's merchant's zone
URL = "/cashier/offline/"
CLOCK = ("The device's clock was wrong when this sale was kept. Check the clock, then drop the "
         "sale and sell it again.")


@pytest.fixture(autouse=True)
def awake_counter(settings):
    """These tests travel hours between requests: no idle lock (test_signin.py tests it)."""
    settings.COUNTER_IDLE_LOCK = 0


def at(*moment) -> datetime:
    return datetime(*moment, tzinfo=MSK)


def kept(receipt, moment, member="+79990000001", amount=100_000, payment="cash") -> dict:
    return {"receipt_id": receipt, "occurred_at": moment.isoformat(), "member": member,
            "amount": amount, "payment_method": payment}


def balance(shop, member) -> tuple[int, int]:
    """Available and pending points, read afresh (the upload changed the account through
    another Member object)."""
    return shop.balance(Member.objects.get(pk=member.pk))


def upload(counter, *sales):
    response = counter.client.post(URL, json.dumps({"sales": list(sales)}),
                                   content_type="application/json")
    assert response.status_code == 200, response.content
    return response.json()["results"]


@pytest.fixture
def shop(alice):
    with scope(merchant=alice.merchant):
        yield Shop(alice)


def start(shop, alice, moment, **program):
    """Alice's program (5 % accrual, `program`), anna, and a counter whose session began at
    `moment`."""
    with time_machine.travel(moment, tick=False):
        shop.program(**program)
        anna = shop.join()
        return anna, at_counter(alice)


def test_an_upload_commits_each_sale_at_its_own_time(shop, alice):
    anna, counter = start(shop, alice, at(2027, 3, 1, 9, 0))
    with time_machine.travel(at(2027, 3, 1, 12, 0), tick=False):
        results = upload(counter, kept("OFF-a-1", at(2027, 3, 1, 10, 15)),
                         kept("OFF-a-2", at(2027, 3, 1, 10, 40), member="8 (999) 000-00-01",
                              amount=40_050, payment="card"))
    assert results == [{"receipt_id": "OFF-a-1", "status": "done", "points": 5_000},
                       {"receipt_id": "OFF-a-2", "status": "done", "points": 2_002}]
    first, second = Purchase.objects.order_by("occurred_at")
    assert (first.occurred_at, first.recorded_at, first.total, first.payment_method) == (
        at(2027, 3, 1, 10, 15), at(2027, 3, 1, 12, 0), 100_000, "cash")
    assert (first.terminal, first.cashier, first.store_id, first.source) == (
        counter.terminal, counter.staff, counter.terminal.store_id,
        f"terminal:{counter.terminal.pk}")
    assert (second.member, second.points_spent, second.payment_method) == (anna, 0, "card")
    assert balance(shop, anna) == (7_002, 0)


def test_a_retry_never_sells_twice(shop, alice):
    anna, counter = start(shop, alice, at(2027, 3, 1, 9, 0))
    sale = kept("OFF-a-1", at(2027, 3, 1, 10, 15))
    with time_machine.travel(at(2027, 3, 1, 12, 0), tick=False):
        assert upload(counter, sale)[0]["status"] == "done"
        # The answer was lost on the way back: the device sends the same sale again.
        assert upload(counter, sale) == [{"receipt_id": "OFF-a-1", "status": "done",
                                          "points": 5_000}]
        changed = upload(counter, {**sale, "amount": 90_000})
    assert Purchase.objects.count() == 1
    assert balance(shop, anna) == (5_000, 0)
    assert changed == [{"receipt_id": "OFF-a-1", "status": "refused", "reason":
                        "This receipt was already recorded with different contents."}]


def test_refusals_come_back_per_sale_and_the_others_go_through(shop, alice, bob):
    anna, counter = start(shop, alice, at(2027, 3, 1, 9, 0))
    with scope(merchant=alice.merchant):
        members.issue_card(anna, number="2000123", actor=Actor.cli())
    moment = at(2027, 3, 1, 10, 0)
    with time_machine.travel(at(2027, 3, 1, 12, 0), tick=False):
        results = upload(
            counter,
            kept("OFF-a-1", moment, member="+79995554433"),  # nobody
            kept("OFF-a-2", moment, member="+79160000002"),  # bob's member, another merchant
            kept("OFF-a-3", moment, member=""),
            kept("OFF-a-4", moment, amount=0),
            kept("OFF-a-5", moment, amount="100"),
            {**kept("OFF-a-6", moment), "occurred_at": "yesterday"},
            kept("OFF-a-7", at(2027, 3, 1, 12, 6)),  # the device's clock ran ahead
            kept("OFF-a-8", datetime(1999, 12, 31, tzinfo=MSK)),  # a clock never set
            {**kept("OFF-a-9", moment), "occurred_at": "2027-03-01T10:00:00"},  # no offset
            kept("R-1", moment),  # not made up by a device offline
            kept("OFF-\x00", moment),
            kept("OFF-a-12", moment, member="\x00+7999\x00000\x000001", payment="cash\x00"),
            "nonsense",
            kept("OFF-a-10", moment),
            kept("OFF-a-11", moment, member=" 2000123 ", amount=20_000),  # the plastic card
        )
    reasons = {result["receipt_id"]: result.get("reason") for result in results}
    assert reasons == {
        "OFF-a-1": "No member with this phone or card number.",
        "OFF-a-2": "No member with this phone or card number.",
        "OFF-a-3": "Enter the member's phone or card number.",
        "OFF-a-4": "The amount must be more than zero.",
        "OFF-a-5": "The amount must be more than zero.",
        "OFF-a-6": "The time of sale is not valid.",
        "OFF-a-7": CLOCK,
        "OFF-a-8": CLOCK,
        "OFF-a-9": CLOCK,
        "R-1": "This is not a sale kept on the device.",
        "OFF-\x00": "This is not a sale kept on the device.",
        "OFF-a-12": None,
        "None": "This is not a sale kept on the device.",
        "OFF-a-10": None,
        "OFF-a-11": None,
    }
    assert [r["status"] for r in results].count("done") == 3
    assert sorted(Purchase.objects.values_list("receipt_id", "member", "total",
                                               "payment_method")) == [
        ("OFF-a-10", anna.pk, 100_000, "cash"), ("OFF-a-11", anna.pk, 20_000, "cash"),
        ("OFF-a-12", anna.pk, 100_000, "cash")]
    assert balance(shop, anna) == (11_000, 0)


def test_bad_uploads_and_the_counter_rules(shop, alice):
    _anna, counter = start(shop, alice, at(2027, 3, 1, 9, 0))
    with time_machine.travel(at(2027, 3, 1, 12, 0), tick=False):
        for body in ("{", '{"sales": 3}', "[]", '{"nothing": []}'):
            response = counter.client.post(URL, body, content_type="application/json")
            assert (response.status_code, response.json()) == (
                400, {"error": "The upload is not valid."})
        assert counter.client.get(URL).status_code == 405
        assert upload(counter) == []  # the device's "is the server back?"
    assert Client().post(URL, "{}", content_type="application/json")["Location"] \
        == "/cashier/device/"


# --- late uploads (docs/offline.md) ---------------------------------------------------------

def test_a_late_receipts_points_activate_by_its_own_time(shop, alice):
    """(a) Activation is counted from the time of sale: uploaded within the delay, the points
    wait for the rest of it; uploaded after it, they are available at once."""
    anna, counter = start(shop, alice, at(2027, 3, 1, 9, 0), activation_delay_days=3)
    with time_machine.travel(at(2027, 3, 2, 12, 0), tick=False):
        upload(counter, kept("OFF-a-1", at(2027, 3, 1, 10, 0)))
        assert balance(shop, anna) == (0, 5_000)
    assert Lot.objects.get(account__member=anna).available_at == at(2027, 3, 4, 10, 0)
    with time_machine.travel(at(2027, 3, 5, 12, 0), tick=False):
        upload(counter, kept("OFF-a-2", at(2027, 3, 1, 11, 0), amount=40_000))
        # The first one's delay ran out on 4 March at 10:00, the second's at 11:00: both
        # available, the second without ever being pending.
        assert balance(shop, anna) == (7_000, 0)
    second = Lot.objects.get(account__member=anna, amount=2_000)
    assert (second.available_at, second.activated) == (at(2027, 3, 4, 11, 0), True)
    assert list(Entry.objects.filter(account__member=anna, lot=second)
                .values_list("kind", "available_delta", "pending_delta", "occurred_at")) == [
        ("accrue", 2_000, 0, at(2027, 3, 1, 11, 0))]


def test_a_late_receipts_points_expire_by_its_own_time(shop, alice):
    """(a) Expiry too: 30 days after accrual means after the day of sale, not of the upload;
    a receipt older than that brings points that are already gone."""
    anna, counter = start(shop, alice, at(2027, 3, 1, 9, 0),
                          expiry={"mode": "after_accrual", "days": 30})
    with time_machine.travel(at(2027, 3, 10, 12, 0), tick=False):
        upload(counter, kept("OFF-a-1", at(2027, 3, 1, 10, 0)))
        assert balance(shop, anna) == (5_000, 0)
    assert Lot.objects.get(account__member=anna).expires_at == at(2027, 4, 1)
    with time_machine.travel(at(2027, 4, 5, 12, 0), tick=False):
        anna_counter = at_counter(alice, email="eve@alice.test")
        upload(anna_counter, kept("OFF-b-1", at(2027, 3, 2, 10, 0), amount=40_000))
        assert balance(shop, anna) == (0, 0)
        swept = sweep.materialise_due(alice.merchant, at(2027, 4, 5, 12, 0))
    # The upload's own Book.open journalled the first lot's expiry; the sweep finds the second.
    assert swept == sweep.Swept(1, 1)
    assert list(Entry.objects.filter(account__member=anna, kind=Entry.Kind.EXPIRE)
                .order_by("seq").values_list("available_delta", "occurred_at")) == [
        (-5_000, at(2027, 4, 1)), (-2_000, at(2027, 4, 2))]


@pytest.mark.parametrize("swept_first", [True, False], ids=["after-the-sweep", "no-sweep-yet"])
def test_after_last_purchase_an_expiry_before_the_upload_stands(shop, alice, swept_first):
    """(b) "10 days after the last purchase": anna bought on 1 March (deadline 00:00 on 12
    March), bought again offline on 11 March, and that receipt arrived on 13 March. The 50.00
    points that burnt at the deadline stay burnt (the ledger is append-only and the member was
    told); the late receipt accrues its own points and moves the deadline from its own time,
    to 00:00 on 22 March. Whether the sweep ran before the upload or not, the result is one."""
    anna, counter = start(shop, alice, at(2027, 3, 1, 9, 0),
                          expiry={"mode": "after_last_purchase", "days": 10})
    with time_machine.travel(at(2027, 3, 1, 12, 0), tick=False):
        shop.buy(anna, 100_000)
    assert Account.objects.get(member=anna).inactivity_deadline == at(2027, 3, 12)
    if swept_first:
        assert sweep.materialise_due(alice.merchant, at(2027, 3, 12, 3, 0)) == sweep.Swept(1, 1)
    with time_machine.travel(at(2027, 3, 13, 12, 0), tick=False):
        late = at_counter(alice, email="late@alice.test")
        assert upload(late, kept("OFF-a-1", at(2027, 3, 11, 18, 0), amount=40_000)) == [
            {"receipt_id": "OFF-a-1", "status": "done", "points": 2_000}]
        assert balance(shop, anna) == (2_000, 0)
    account = Account.objects.get(member=anna)
    assert (account.inactivity_deadline, account.last_purchase_at, account.available) == (
        at(2027, 3, 22), at(2027, 3, 11, 18, 0), 2_000)
    assert list(Entry.objects.filter(account__member=anna, kind=Entry.Kind.EXPIRE)
                .values_list("available_delta", "occurred_at", "cause_type")) == [
        (-5_000, at(2027, 3, 12), "time")]
    assert sweep.materialise_due(alice.merchant, at(2027, 3, 21, 23, 59)) == sweep.Swept(0, 0)
    assert sweep.materialise_due(alice.merchant, at(2027, 3, 22)) == sweep.Swept(1, 1)
