"""What each operation announces: one outbox row per subscribed active endpoint, written in the
operation's transaction, with the documented `data` (exact figures, masked phone)."""

from datetime import UTC, datetime

import pytest
import time_machine
from django_scopes import scope

from kopilka.core.actor import Actor
from kopilka.processing import services as processing
from kopilka.tenancy import access
from kopilka.tenancy.models import Merchant
from kopilka.webhooks import services as webhooks
from kopilka.webhooks.events import CATALOGUE
from kopilka.webhooks.models import Delivery, Endpoint, Subscription

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
STAMP = "2026-11-23T12:00:00Z"
ACTOR = Actor.cli()


@pytest.fixture
def hooked(shop):
    """Alice's shop with tiers, a welcome bonus and transfers, and one endpoint subscribed to
    every event."""
    shop.program(
        welcome_bonus=1_000, transfers={"enabled": True}, tier_refund_policy="recalculate",
        tiers=[
            {"code": "base", "name": "Base", "accrual": {"kind": "percent", "percent": "5"}},
            {"code": "silver", "name": "Silver", "threshold": 100_000,
             "accrual": {"kind": "percent", "percent": "10"}},
        ],
    )
    webhooks.create_endpoint(shop.merchant, url="https://hooks.example.com/all",
                             events=list(CATALOGUE), actor=ACTOR)
    return shop


def announced(merchant) -> list[tuple[str, dict]]:
    rows = Delivery.objects.filter(merchant=merchant).order_by("pk")
    return [(row.event, row.payload["data"]) for row in rows]


def test_registration_purchase_tier_change_and_refund(hooked):
    with time_machine.travel(NOW, tick=False):
        member = hooked.join("+79161234567")
        result = hooked.buy(member, 60_000, 40_000, receipt="R-1")
        purchase = result.purchase
        hooked.refund(purchase, refund_id="F-1", amount=50_000)
    events = announced(hooked.merchant)
    assert events == [
        ("member.registered", {
            "member_id": member.pk, "phone": "+7916***4567", "registered_via": "cashier",
            "tier": "base", "welcome_points": 1_000, "available": 1_000, "occurred_at": STAMP}),
        ("purchase.committed", {
            "purchase_id": purchase.pk, "member_id": member.pk, "receipt_id": "R-1",
            "store_id": None, "terminal_id": None, "total": 100_000, "discount": 0,
            "points_spent": 0, "points_spent_money": 0, "points_accrued": 5_000,
            "tier": "silver", "available": 6_000, "pending": 0, "occurred_at": STAMP}),
        ("member.tier_changed", {
            "member_id": member.pk, "tier_before": "base", "tier": "silver", "manual": False,
            "cause": "purchase", "occurred_at": STAMP}),
        ("purchase.refunded", {
            "refund_id": "F-1", "purchase_id": purchase.pk, "member_id": member.pk,
            "receipt_id": "R-1", "amount": 50_000, "points_reversed": 2_500,
            "points_returned": 0, "points_unrecovered": 0, "refunded_total": 50_000,
            "tier": "base", "available": 3_500, "pending": 0, "occurred_at": STAMP}),
        ("member.tier_changed", {
            "member_id": member.pk, "tier_before": "silver", "tier": "base", "manual": False,
            "cause": "refund", "occurred_at": STAMP}),
    ]
    # One event id per event, a body that is the whole envelope.
    rows = list(Delivery.objects.filter(merchant=hooked.merchant).order_by("pk"))
    assert len({row.event_id for row in rows}) == 5
    assert rows[0].payload == {"id": str(rows[0].event_id), "type": "member.registered",
                               "created_at": STAMP, "merchant": hooked.merchant.slug,
                               "data": events[0][1]}


def test_replays_announce_nothing(hooked):
    member = hooked.join("+79161234567")
    purchase = hooked.buy(member, 10_000, receipt="R-1").purchase
    hooked.refund(purchase, refund_id="F-1", amount=1_000)
    hooked.send(member, hooked.tenant.member, 100, key="T-1")
    before = Delivery.objects.filter(merchant=hooked.merchant).count()
    assert hooked.buy(member, 10_000, receipt="R-1").replayed
    assert hooked.refund(purchase, refund_id="F-1", amount=1_000).replayed
    assert hooked.send(member, hooked.tenant.member, 100, key="T-1").replayed
    assert Delivery.objects.filter(merchant=hooked.merchant).count() == before


def test_adjustments_transfers_and_tiers_by_hand(hooked):
    alice = hooked.tenant
    with time_machine.travel(NOW, tick=False):
        member = hooked.join("+79161234567")
        Delivery.objects.filter(merchant=hooked.merchant).delete()
        grant = processing.adjust_points(hooked.merchant, member, points=2_000, by=alice.owner,
                                         reason="sorry", key="A-1", actor=ACTOR).adjustment
        transfer = hooked.send(member, alice.member, 500, key="T-1").transfer
        processing.assign_tier(hooked.merchant, member, tier_code="silver", actor=ACTOR)
        processing.assign_tier(hooked.merchant, member, tier_code="silver", actor=ACTOR)
        processing.assign_tier(hooked.merchant, member, tier_code=None, actor=ACTOR)
    assert announced(hooked.merchant) == [
        ("points.adjusted", {
            "adjustment_id": grant.pk, "member_id": member.pk, "points": 2_000,
            "reason": "sorry", "staff_id": alice.owner.pk, "available": 3_000, "pending": 0,
            "occurred_at": STAMP}),
        ("points.transferred", {
            "transfer_id": transfer.pk, "from_member_id": member.pk,
            "to_member_id": alice.member.pk, "points": 500, "from_available": 2_500,
            "to_available": 500, "occurred_at": STAMP}),
        ("member.tier_changed", {
            "member_id": member.pk, "tier_before": "base", "tier": "silver", "manual": True,
            "cause": "manual", "occurred_at": STAMP}),
        # The second assignment changed nothing; the third returned to the earned tier.
        ("member.tier_changed", {
            "member_id": member.pk, "tier_before": "silver", "tier": "base", "manual": False,
            "cause": "manual", "occurred_at": STAMP}),
    ]


def test_only_active_subscribed_endpoints_get_an_event(shop):
    for url, events, active in [("https://a.example.com/", ["purchase.committed"], True),
                                ("https://b.example.com/", ["member.registered"], True),
                                ("https://c.example.com/", ["purchase.committed"], False)]:
        webhooks.create_endpoint(shop.merchant, url=url, events=events, active=active,
                                 actor=ACTOR)
    member = shop.join("+79161234567")
    shop.buy(member, 10_000)
    sent = Delivery.objects.filter(merchant=shop.merchant).select_related("endpoint")
    assert sorted((d.endpoint.url, d.event) for d in sent) == [
        ("https://a.example.com/", "purchase.committed"),
        ("https://b.example.com/", "member.registered"),
    ]


def test_every_endpoint_gets_the_same_event_id(shop):
    for url in ("https://a.example.com/", "https://b.example.com/"):
        webhooks.create_endpoint(shop.merchant, url=url, events=["member.registered"],
                                 actor=ACTOR)
    shop.join("+79161234567")
    ids = Delivery.objects.filter(merchant=shop.merchant).values_list("event_id", flat=True)
    assert len(ids) == 2 and len(set(ids)) == 1


def test_another_merchants_endpoints_hear_nothing(shop, bob):
    with scope(merchant=bob.merchant):
        webhooks.create_endpoint(bob.merchant, url="https://bob.example.com/",
                                 events=list(CATALOGUE), actor=ACTOR)
    shop.join("+79161234567")
    with scope(merchant=bob.merchant):
        assert Delivery.objects.filter(merchant=bob.merchant).count() == 0


def test_emit_refuses_an_event_outside_the_catalogue(shop):
    with pytest.raises(ValueError, match="purchase.comitted"):
        webhooks.emit(shop.merchant, "purchase.comitted", {})


def test_the_subscription_summary_follows_the_endpoints(shop):
    def summary():
        row = Subscription.objects.filter(merchant=shop.merchant).first()
        return row.events if row else None

    first = webhooks.create_endpoint(shop.merchant, url="https://a.example.com/",
                                     events=["purchase.committed"], actor=ACTOR)
    second = webhooks.create_endpoint(shop.merchant, url="https://b.example.com/",
                                      events=["member.registered", "purchase.committed"],
                                      active=False, actor=ACTOR)
    assert summary() == ["purchase.committed"]
    webhooks.update_endpoint(second, active=True, actor=ACTOR)
    assert summary() == ["member.registered", "purchase.committed"]
    webhooks.update_endpoint(first, events=["points.adjusted"], actor=ACTOR)
    assert summary() == ["member.registered", "points.adjusted", "purchase.committed"]
    webhooks.delete_endpoint(second, actor=ACTOR)
    assert summary() == ["points.adjusted"]
    webhooks.delete_endpoint(first, actor=ACTOR)
    assert summary() is None


def test_a_merchant_joined_with_its_subscription_costs_no_query(shop,
                                                                django_assert_num_queries):
    """How API requests arrive: authentication joins the subscription with the merchant, and
    the merchant context entered for the request serves it."""
    webhooks.create_endpoint(shop.merchant, url="https://a.example.com/",
                             events=["purchase.committed"], actor=ACTOR)

    def joined():
        merchant = Merchant.objects.select_related(*access.merchant_joins("")).get(
            pk=shop.merchant.pk)
        return access.enter(access.Principal.system(merchant, joined=True))

    with joined() as context:
        with django_assert_num_queries(0):
            assert webhooks.emit(context.merchant, "member.registered", {}) == []
        assert len(webhooks.emit(context.merchant, "purchase.committed", {})) == 1
    webhooks.delete_endpoint(Endpoint.objects.get(merchant=shop.merchant), actor=ACTOR)
    with joined() as context, django_assert_num_queries(0):
        assert webhooks.emit(context.merchant, "purchase.committed", {}) == []


def test_an_endpoint_change_within_a_request_is_what_emit_sees_next(shop):
    """The context entered for a request is kept current by the endpoint changes made in it."""
    with access.enter(access.Principal.system(shop.merchant)):
        assert webhooks.emit(shop.merchant, "purchase.committed", {}) == []
        webhooks.create_endpoint(shop.merchant, url="https://a.example.com/",
                                 events=["purchase.committed"], actor=ACTOR)
        assert len(webhooks.emit(shop.merchant, "purchase.committed", {})) == 1


def test_points_expired_left_the_catalogue(shop):
    # It was offered and never sent (points expire in the sweep and inside any operation that
    # opens the account): an endpoint can no longer subscribe to it.
    from kopilka.core.errors import InvalidInput

    with pytest.raises(InvalidInput) as error:
        webhooks.create_endpoint(shop.merchant, url="https://hooks.example.com/x",
                                 events=["points.expired"], actor=ACTOR)
    assert error.value.field == "events"
    assert "points.expired" not in CATALOGUE and "points.expiring" in CATALOGUE
