"""Domain events: each operation publishes exactly one event, once, inside its transaction;
subscribers run in it (their writes roll back with it) or after its commit when they ask; and
processing names neither webhooks nor messaging."""

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.db import transaction

from kopilka.core import events
from kopilka.core.actor import Actor

ACTOR = Actor.cli()
PROCESSING = Path(__file__).resolve().parents[2] / "kopilka" / "processing"


@dataclass(frozen=True, kw_only=True)
class Pinged(events.Event):
    """An event no app subscribes to: the mechanism alone."""

    name = "test.pinged"


@pytest.fixture
def heard():
    """Every event published while the test runs, in order, heard inside the transaction."""
    got: list[events.Event] = []
    kinds = [events.MemberEnrolled, events.PurchaseCommitted, events.PurchaseRefunded,
             events.PointsTransferred, events.PointsAdjusted, events.TierAssigned,
             events.PointsExpiring]

    def record(event):
        got.append(event)

    events.subscribe(*kinds)(record)
    yield got
    for kind in kinds:
        events.unsubscribe(kind, record)


@pytest.mark.django_db
def test_each_operation_publishes_one_event_and_a_replay_none(shop, heard):
    shop.program(
        welcome_bonus=1_000, transfers={"enabled": True},
        tiers=[{"code": "base", "name": "Base", "accrual": {"kind": "percent", "percent": "5"}},
               {"code": "silver", "name": "Silver", "threshold": 100_000,
                "accrual": {"kind": "percent", "percent": "10"}}],
    )
    anna = shop.join("+79161234567")
    boris = shop.join("+79161234568")
    bought = shop.buy(anna, 100_000, receipt="R-1")
    shop.buy(anna, 100_000, receipt="R-1")  # a replay: nothing happened
    shop.refund(bought.purchase, refund_id="F-1", amount=50_000)
    shop.send(anna, boris, 500, key="T-1")
    assert [type(event) for event in heard] == [
        events.MemberEnrolled, events.MemberEnrolled, events.PurchaseCommitted,
        events.PurchaseRefunded, events.PointsTransferred,
    ]
    enrolled, _other, committed, refunded, transferred = heard
    assert (enrolled.member, enrolled.welcome_points, enrolled.available) == (anna, 1_000, 1_000)
    assert (committed.purchase, committed.first, committed.available, committed.pending) == (
        bought.purchase, True, 1_000 + 5_000, 0)
    assert (committed.tier.before, committed.tier.after, committed.tier.after_name,
            committed.tier.changed) == ("base", "silver", "Silver", True)
    assert (refunded.refund.amount, refunded.tier.before, refunded.tier.after) == (
        50_000, "silver", "silver")
    assert (transferred.sender, transferred.recipient, transferred.transfer.points,
            transferred.recipient_available) == (anna, boris, 500, 1_000 + 500)
    assert committed.name == "purchase.committed"  # the public name webhooks use


@pytest.mark.django_db
def test_manual_operations_publish_their_events(shop, heard):
    from kopilka.processing import services as processing
    from kopilka.tenancy.models import Staff

    shop.program(tiers=[
        {"code": "base", "name": "Base", "accrual": {"kind": "percent", "percent": "5"}},
        {"code": "gold", "name": "Gold", "threshold": 1_000_000,
         "accrual": {"kind": "percent", "percent": "10"}}])
    anna = shop.join()
    owner = Staff.objects.get(merchant=shop.merchant, role=Staff.Role.OWNER)
    processing.adjust_points(shop.merchant, anna, points=700, by=owner, reason="spilt coffee",
                             key="A-1", actor=ACTOR)
    processing.assign_tier(shop.merchant, anna, tier_code="gold", actor=ACTOR)
    assert [type(event) for event in heard][1:] == [events.PointsAdjusted, events.TierAssigned]
    adjusted, assigned = heard[1:]
    assert (adjusted.adjustment.points, adjusted.available) == (700, 700)
    assert (assigned.tier.before, assigned.tier.after, assigned.tier.manual) == (
        "base", "gold", True)


@pytest.mark.django_db(transaction=True)
def test_a_subscriber_runs_in_the_transaction_or_after_its_commit():
    ran: list[str] = []

    @events.subscribe(Pinged)
    def inside(event):
        ran.append("inside:" + ("atomic" if transaction.get_connection().in_atomic_block
                                else "autocommit"))

    @events.subscribe(Pinged, on_commit=True)
    def after(event):
        ran.append("after:" + ("atomic" if transaction.get_connection().in_atomic_block
                               else "autocommit"))

    event = Pinged(merchant=None)
    try:
        with transaction.atomic():
            events.publish(event)
            assert ran == ["inside:atomic"]
        assert ran == ["inside:atomic", "after:autocommit"]
        ran.clear()
        with pytest.raises(RuntimeError), transaction.atomic():
            events.publish(event)
            raise RuntimeError("the operation fails after publishing")
        assert ran == ["inside:atomic"]  # rolled back: the after-commit subscriber never ran
    finally:
        events.unsubscribe(Pinged, inside)
        events.unsubscribe(Pinged, after)


@pytest.mark.django_db
def test_subscribing_twice_registers_once():
    calls = []

    def handler(event):
        calls.append(event)

    events.subscribe(Pinged)(handler)
    events.subscribe(Pinged)(handler)
    try:
        with transaction.atomic():
            events.publish(Pinged(merchant=None))
        assert len(calls) == 1
    finally:
        events.unsubscribe(Pinged, handler)


def test_processing_imports_neither_webhooks_nor_messaging():
    found = []
    for path in sorted(PROCESSING.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            found += [(path.name, name) for name in names
                      if name.startswith(("kopilka.webhooks", "kopilka.messaging"))]
    assert found == []
