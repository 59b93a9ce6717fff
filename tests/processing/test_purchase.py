"""Purchases at the counter: accrual, redemption, idempotency, tiers — exact figures."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django_scopes import scopes_disabled

from kopilka.core.errors import Conflict, InvalidInput
from kopilka.ledger.models import Account
from kopilka.ledger.verify import verify
from kopilka.processing.models import Purchase

pytestmark = pytest.mark.django_db
NOON = datetime(2026, 6, 10, 9, 0, tzinfo=UTC)  # 12:00 in Moscow


def test_purchase_accrues_five_percent(shop):
    shop.program()
    member = shop.join()
    result = shop.buy(member, 100_000)
    assert result.purchase.points_accrued == 5_000
    assert (result.available, result.pending) == (5_000, 0)
    assert shop.balance(member) == (5_000, 0)


def test_welcome_bonus_on_registration(shop):
    shop.program(welcome_bonus=5_000)
    member = shop.join()
    assert shop.balance(member) == (5_000, 0)


def test_spending_points_pays_part_of_the_check(shop):
    shop.program(welcome_bonus=5_000, max_redeem_percent="50")
    member = shop.join()
    result = shop.buy(member, 8_000, spend=4_000)
    purchase = result.purchase
    assert (purchase.points_spent, purchase.points_spent_money) == (4_000, 4_000)
    # accrual on the money part only: 5 % of 40.00 = 2.00
    assert purchase.points_accrued == 200
    assert result.available == 5_000 - 4_000 + 200


def test_spending_more_than_allowed_is_refused_and_writes_nothing(shop):
    shop.program(welcome_bonus=5_000, max_redeem_percent="50")
    member = shop.join()
    with pytest.raises(Conflict) as error:
        shop.buy(member, 8_000, spend=4_001)
    assert error.value.field == "points_to_spend"
    assert not Purchase.objects.exists()
    assert shop.balance(member) == (5_000, 0)


def test_same_receipt_twice_is_one_purchase(shop):
    shop.program()
    member = shop.join()
    first = shop.buy(member, 100_000, receipt="R-42")
    second = shop.buy(member, 100_000, receipt="R-42")
    assert second.replayed and not first.replayed
    assert second.purchase.pk == first.purchase.pk
    assert Purchase.objects.count() == 1
    assert shop.balance(member) == (5_000, 0)


def test_same_receipt_with_other_contents_is_a_conflict(shop):
    shop.program()
    member = shop.join()
    shop.buy(member, 100_000, receipt="R-42")
    with pytest.raises(Conflict):
        shop.buy(member, 90_000, receipt="R-42")


def test_tier_upgrade_after_lifetime_spend(shop):
    # "при достижении общей суммы покупок 10000 рублей уровень карты меняется с 3% на 5%"
    shop.program(tiers=[
        {"code": "std", "name": "Standard", "accrual": {"kind": "percent", "percent": "3"}},
        {"code": "gold", "name": "Gold", "threshold": 1_000_000,
         "accrual": {"kind": "percent", "percent": "5"}},
    ])
    member = shop.join()
    first = shop.buy(member, 600_000)
    assert (first.purchase.points_accrued, first.tier_changed) == (18_000, False)
    second = shop.buy(member, 400_000)  # lifetime 10 000.00: upgrade after this purchase
    assert (second.purchase.points_accrued, second.tier_changed) == (12_000, True)
    assert second.purchase.tier_after == "gold"
    third = shop.buy(member, 100_000)
    assert third.purchase.points_accrued == 5_000


def test_activation_delay_keeps_points_pending_until_due(shop):
    shop.program(activation_delay_days=14)
    member = shop.join()
    with time_machine.travel(NOON, tick=False):
        result = shop.buy(member, 100_000)
        assert (result.available, result.pending) == (0, 5_000)
        with pytest.raises(Conflict):
            shop.buy(member, 10_000, spend=100)
    with time_machine.travel(NOON + timedelta(days=14), tick=False):
        # No job has run: the read is right anyway.
        assert shop.balance(member) == (5_000, 0)
        shop.buy(member, 10_000, spend=100)
    with scopes_disabled():
        assert verify() == (2, [])  # with alice's fixture member


def test_expiry_after_accrual_burns_at_local_midnight(shop):
    shop.program(expiry={"mode": "after_accrual", "days": 30})
    member = shop.join()
    with time_machine.travel(NOON, tick=False):
        shop.buy(member, 100_000)
    # accrued 10 June (Moscow): valid through 10 July, burns at 00:00 MSK on 11 July
    burn = datetime(2026, 7, 10, 21, 0, tzinfo=UTC)
    with time_machine.travel(burn - timedelta(seconds=1), tick=False):
        assert shop.balance(member) == (5_000, 0)
    with time_machine.travel(burn, tick=False):
        assert shop.balance(member) == (0, 0)
        result = shop.buy(member, 10_000)  # the write journals the expiry first
        assert result.available == 500
    with scopes_disabled():
        account = Account.objects.get(member=member)
        kinds = list(account.entries.order_by("seq").values_list("kind", "available_delta"))
    assert kinds == [("accrue", 5_000), ("expire", -5_000), ("accrue", 500)]


def test_expiry_after_last_purchase_moves_with_every_purchase(shop):
    shop.program(expiry={"mode": "after_last_purchase", "days": 90})
    member = shop.join()
    with time_machine.travel(NOON, tick=False):
        shop.buy(member, 100_000)
    with time_machine.travel(NOON + timedelta(days=80), tick=False):
        shop.buy(member, 100_000)  # pushes the deadline for both lots
    with time_machine.travel(NOON + timedelta(days=120), tick=False):
        assert shop.balance(member) == (10_000, 0)
    with time_machine.travel(NOON + timedelta(days=172), tick=False):
        assert shop.balance(member) == (0, 0)


def test_fixed_date_expiry(shop):
    shop.program(expiry={"mode": "fixed_dates", "dates": ["01-01", "07-01"]})
    member = shop.join()
    with time_machine.travel(datetime(2026, 12, 30, 9, 0, tzinfo=UTC), tick=False):
        shop.buy(member, 100_000)
    with time_machine.travel(datetime(2026, 12, 31, 20, 59, tzinfo=UTC), tick=False):
        assert shop.balance(member) == (5_000, 0)
    with time_machine.travel(datetime(2026, 12, 31, 21, 0, tzinfo=UTC), tick=False):
        assert shop.balance(member) == (0, 0)  # 00:00 1 January in Moscow


def test_spending_uses_soonest_expiring_points_first(shop):
    shop.program(welcome_bonus=1_000, welcome_validity_days=10,
                 expiry={"mode": "after_accrual", "days": 365})
    member = shop.join()
    shop.buy(member, 100_000)  # 5 000 points valid a year
    shop.buy(member, 10_000, spend=1_500)  # takes the 1 000 gift first, then 500
    with scopes_disabled():
        account = Account.objects.get(member=member)
        remaining = sorted(account.lots.values_list("kind", "remaining"))
    # the new purchase accrues 5 % of 85.00 paid in money: 425
    assert remaining == [("accrual", 425), ("accrual", 4_500), ("welcome", 0)]


def test_offline_upload_keeps_its_time(shop):
    shop.program()
    member = shop.join()
    yesterday = datetime(2026, 6, 9, 9, 0, tzinfo=UTC)
    with time_machine.travel(NOON, tick=False):
        result = shop.buy(member, 100_000, at=yesterday)
    assert result.purchase.occurred_at == yesterday
    assert result.purchase.recorded_at == NOON


def test_future_time_is_refused(shop):
    shop.program()
    member = shop.join()
    with pytest.raises(InvalidInput) as error:
        shop.buy(member, 100, at=datetime(2999, 1, 1, tzinfo=UTC))
    assert error.value.field == "occurred_at"


def test_blocked_member_cannot_buy_with_the_card(shop):
    shop.program()
    member = shop.join()
    member.status = member.Status.BLOCKED
    member.save(update_fields=["status"])
    with pytest.raises(Conflict) as error:
        shop.buy(member, 10_000)
    assert error.value.field == "member"
    assert not Purchase.objects.exists()


def test_spending_is_refused_without_the_one_time_code(shop):
    shop.program(welcome_bonus=1_000, redeem_requires_code=True)
    member = shop.join()
    with pytest.raises(InvalidInput) as error:  # tests/codes has the rest of the story
        shop.buy(member, 10_000, spend=100)
    assert error.value.field == "code"
    assert shop.buy(member, 10_000).purchase.points_accrued == 500  # accrual still works


@pytest.mark.parametrize(
    ("at", "field"),
    [
        (datetime(2024, 1, 1, 10, 0), "occurred_at"),  # no offset
        (datetime(1, 1, 1, tzinfo=UTC), "occurred_at"),  # before 2000
        (datetime(1999, 12, 31, 23, 59, tzinfo=UTC), "occurred_at"),
    ],
)
def test_sale_time_out_of_range_is_refused_at_the_service(shop, at, field):
    shop.program()
    member = shop.join()
    with pytest.raises(InvalidInput) as error:
        shop.buy(member, 100, at=at)
    assert error.value.field == field
    assert not Purchase.objects.exists()


def test_sale_time_is_stored_in_utc(shop):
    from datetime import timezone

    shop.program()
    member = shop.join()
    far_east = timezone(timedelta(hours=19, minutes=20))
    at = datetime(2026, 6, 10, 20, 0, tzinfo=far_east)
    with time_machine.travel(NOON, tick=False):
        purchase = shop.buy(member, 100, at=at).purchase
    purchase.refresh_from_db()
    assert purchase.occurred_at == datetime(2026, 6, 10, 0, 40, tzinfo=UTC)
