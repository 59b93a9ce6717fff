"""Manual grants within the owner's allowance (ENG-13), transfers (ENG-12), tiers by hand."""

import pytest
from django.contrib.auth import get_user_model
from django.utils import translation

from kopilka.core.actor import Actor
from kopilka.core.errors import Conflict, Forbidden, InvalidInput
from kopilka.core.models import AuditEntry
from kopilka.processing import services
from kopilka.processing.models import Allowance
from kopilka.tenancy.models import Staff

pytestmark = pytest.mark.django_db
ACTOR = Actor.cli()


@pytest.fixture
def cashier(shop):
    user = get_user_model().objects.create_user("kassa@example.com", "kassa@example.com", "x")
    return Staff.objects.create(merchant=shop.merchant, user=user, role=Staff.Role.CASHIER,
                                created_at=shop.merchant.created_at)


def adjust(shop, member, points, by, key="k1", reason="birthday cake"):
    return services.adjust_points(shop.merchant, member, points=points, by=by, reason=reason,
                                  key=key, actor=ACTOR)


def test_owner_grants_without_allowance(shop):
    shop.program()
    member = shop.join()
    adjust(shop, member, 700, shop.tenant.owner)
    assert shop.balance(member) == (700, 0)
    entry = AuditEntry.objects.get(action="processing.points.granted")
    assert entry.data == {"points": 700, "reason": "birthday cake", "member": member.pk}


def test_employee_grants_from_the_allowance_the_owner_set(shop, cashier):
    shop.program()
    member = shop.join()
    services.set_allowance(shop.merchant, staff=cashier, points=1_000, by=shop.tenant.owner,
                           actor=ACTOR)
    adjust(shop, member, 600, cashier, key="a")
    # Outside a request the default language (Russian) is active: ask for English.
    with translation.override("en"), pytest.raises(Conflict) as error:
        adjust(shop, member, 500, cashier, key="b")
    assert str(error.value) == "Your allowance has 400 points left."
    adjust(shop, member, 400, cashier, key="c")
    assert Allowance.objects.get(staff=cashier).remaining == 0
    assert shop.balance(member) == (1_000, 0)


def test_only_the_owner_sets_allowances(shop, cashier):
    shop.program()
    with pytest.raises(Forbidden):
        services.set_allowance(shop.merchant, staff=cashier, points=10, by=cashier, actor=ACTOR)


def test_an_adjustment_replay_is_one_adjustment(shop):
    shop.program()
    member = shop.join()
    assert not adjust(shop, member, 700, shop.tenant.owner, key="same").replayed
    assert adjust(shop, member, 700, shop.tenant.owner, key="same").replayed
    assert shop.balance(member) == (700, 0)
    with pytest.raises(Conflict):
        adjust(shop, member, 800, shop.tenant.owner, key="same")


def test_deduction_never_takes_more_than_is_spendable(shop):
    shop.program()
    member = shop.join()
    adjust(shop, member, 700, shop.tenant.owner, key="g")
    adjust(shop, member, -200, shop.tenant.owner, key="d1", reason="wrong card")
    assert shop.balance(member) == (500, 0)
    with pytest.raises(Conflict):
        adjust(shop, member, -501, shop.tenant.owner, key="d2", reason="too much")
    assert shop.balance(member) == (500, 0)


@pytest.mark.parametrize(("points", "reason", "field"), [(0, "x", "points"), (5, " ", "reason")])
def test_bad_adjustments_name_the_field(shop, points, reason, field):
    shop.program()
    member = shop.join()
    with pytest.raises(InvalidInput) as error:
        adjust(shop, member, points, shop.tenant.owner, reason=reason)
    assert error.value.field == field


def test_transfer_moves_points_and_keeps_their_expiry(shop):
    shop.program(welcome_bonus=1_000, welcome_validity_days=10,
                 transfers={"enabled": True, "min_points": 100, "max_points": 800})
    sender, friend = shop.join(), shop.join(phone="+79990000002")
    shop.send(sender, friend, 800)
    assert shop.balance(sender) == (200, 0)
    assert shop.balance(friend) == (1_800, 0)
    sender_lot = sender.account.lots.get()
    received = friend.account.lots.get(kind="transfer_in")
    assert received.expires_at == sender_lot.expires_at


@pytest.mark.parametrize("points", [99, 801])
def test_transfer_limits(shop, points):
    shop.program(welcome_bonus=1_000,
                 transfers={"enabled": True, "min_points": 100, "max_points": 800})
    sender, friend = shop.join(), shop.join(phone="+79990000002")
    with pytest.raises(Conflict):
        shop.send(sender, friend, points)
    assert shop.balance(sender) == (1_000, 0)


def test_daily_transfer_limit(shop):
    shop.program(welcome_bonus=1_000,
                 transfers={"enabled": True, "min_points": 1, "max_points_per_day": 500})
    sender, friend = shop.join(), shop.join(phone="+79990000002")
    shop.send(sender, friend, 300)
    with pytest.raises(Conflict):
        shop.send(sender, friend, 201)
    shop.send(sender, friend, 200)
    assert shop.balance(friend) == (1_500, 0)


def test_transfers_are_off_unless_the_program_allows_them(shop):
    shop.program(welcome_bonus=1_000)
    sender, friend = shop.join(), shop.join(phone="+79990000002")
    with pytest.raises(Forbidden):
        shop.send(sender, friend, 100)


def test_transfer_replay_and_self_transfer(shop):
    shop.program(welcome_bonus=1_000, transfers={"enabled": True, "min_points": 1})
    sender, friend = shop.join(), shop.join(phone="+79990000002")
    assert not shop.send(sender, friend, 100, key="t1").replayed
    assert shop.send(sender, friend, 100, key="t1").replayed
    assert shop.balance(friend) == (1_100, 0)
    with pytest.raises(InvalidInput):
        shop.send(sender, sender, 100)


def test_manual_tier_stays_until_released(shop):
    shop.program(tiers=[
        {"code": "std", "name": "Standard", "accrual": {"kind": "percent", "percent": "3"}},
        {"code": "gold", "name": "Gold", "threshold": 1_000_000,
         "accrual": {"kind": "percent", "percent": "5"}},
        {"code": "vip", "name": "VIP", "manual_only": True,
         "accrual": {"kind": "percent", "percent": "10"}},
    ])
    member = shop.join()
    services.assign_tier(shop.merchant, member, tier_code="vip", actor=ACTOR)
    assert shop.buy(member, 100_000).purchase.points_accrued == 10_000
    services.assign_tier(shop.merchant, member, tier_code=None, actor=ACTOR)
    member.account.refresh_from_db()
    assert (member.account.tier_code, member.account.tier_manual) == ("std", False)
    with pytest.raises(InvalidInput):
        services.assign_tier(shop.merchant, member, tier_code="nope", actor=ACTOR)


def test_refund_policy_recalculate_drops_the_tier(shop):
    shop.program(tier_refund_policy="recalculate", tiers=[
        {"code": "std", "name": "Standard", "accrual": {"kind": "percent", "percent": "3"}},
        {"code": "gold", "name": "Gold", "threshold": 1_000_000,
         "accrual": {"kind": "percent", "percent": "5"}},
    ])
    member = shop.join()
    purchase = shop.buy(member, 1_000_000).purchase
    assert purchase.tier_after == "gold"
    shop.refund(purchase, amount=1)
    member.account.refresh_from_db()
    assert member.account.tier_code == "std"


def test_refund_policy_keep_keeps_the_tier(shop):
    shop.program(tiers=[
        {"code": "std", "name": "Standard", "accrual": {"kind": "percent", "percent": "3"}},
        {"code": "gold", "name": "Gold", "threshold": 1_000_000,
         "accrual": {"kind": "percent", "percent": "5"}},
    ])
    member = shop.join()
    purchase = shop.buy(member, 1_000_000).purchase
    shop.refund(purchase)
    member.account.refresh_from_db()
    assert (member.account.tier_code, member.account.lifetime_spend) == ("gold", 0)
