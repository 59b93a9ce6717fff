"""Refunds reverse exactly what the purchase did, never more than once."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django_scopes import scopes_disabled

from kopilka.core.errors import Conflict, InvalidInput
from kopilka.core.models import AuditEntry
from kopilka.ledger.verify import verify

pytestmark = pytest.mark.django_db


def test_full_refund_takes_back_the_accrual(shop):
    shop.program()
    member = shop.join()
    purchase = shop.buy(member, 100_000).purchase
    result = shop.refund(purchase)
    assert (result.refund.amount, result.refund.points_reversed) == (100_000, 5_000)
    assert shop.balance(member) == (0, 0)


def test_refund_replay_changes_nothing(shop):
    shop.program()
    member = shop.join()
    purchase = shop.buy(member, 100_000).purchase
    shop.refund(purchase, "F1", amount=30_000)
    again = shop.refund(purchase, "F1", amount=30_000)
    assert again.replayed
    assert shop.balance(member) == (3_500, 0)


def test_buy_refund_keep_the_points_is_impossible(shop):
    shop.program()
    member = shop.join()
    purchase = shop.buy(member, 100_000).purchase
    shop.refund(purchase, "F1")
    with pytest.raises(Conflict):
        shop.refund(purchase, "F2", amount=1)
    assert shop.balance(member) == (0, 0)


def test_partial_refunds_add_up_to_exactly_the_accrual(shop):
    shop.program()
    member = shop.join()
    purchase = shop.buy(member, 99_999).purchase  # 5 % of 999.99 = 4 999.95 -> 4 999
    assert purchase.points_accrued == 4_999
    reversed_ = [shop.refund(purchase, f"F{n}", amount=33_333).refund.points_reversed
                 for n in range(3)]
    assert reversed_ == [1_666, 1_666, 1_667]
    assert sum(reversed_) == 4_999
    assert shop.balance(member) == (0, 0)


def test_refund_by_lines_reverses_that_lines_accrual(shop):
    shop.program()
    member = shop.join()
    purchase = shop.buy(member, 60_000, 40_000).purchase  # 3 000 + 2 000
    result = shop.refund(purchase, lines={"1": 40_000})
    assert result.refund.points_reversed == 2_000
    assert shop.balance(member) == (3_000, 0)
    with pytest.raises(Conflict) as error:
        shop.refund(purchase, "F2", lines={"1": 1})
    assert error.value.field == "lines.1"
    with pytest.raises(InvalidInput):
        shop.refund(purchase, "F3", lines={"9": 1})


def test_refund_returns_spent_points_once(shop):
    shop.program(welcome_bonus=4_000, max_redeem_percent="50")
    member = shop.join()
    purchase = shop.buy(member, 8_000, spend=4_000).purchase  # accrues 5 % of 40.00 = 200
    assert shop.balance(member) == (200, 0)
    first = shop.refund(purchase, "F1", amount=4_000)  # half: 2 000 back, 100 reversed
    assert (first.refund.points_returned, first.refund.points_reversed) == (2_000, 100)
    second = shop.refund(purchase, "F2")
    assert (second.refund.points_returned, second.refund.points_reversed) == (2_000, 100)
    assert shop.balance(member) == (4_000, 0)


def test_refund_after_the_accrual_was_spent_never_goes_negative(shop):
    shop.program(max_redeem_percent="100")
    member = shop.join()
    purchase = shop.buy(member, 100_000).purchase  # +5 000
    shop.buy(member, 5_000, spend=5_000)  # spends them all (and accrues nothing)
    result = shop.refund(purchase)
    assert (result.refund.points_reversed, result.refund.points_unrecovered) == (0, 5_000)
    assert shop.balance(member) == (0, 0)
    audit = AuditEntry.objects.get(action="processing.refund.points_unrecovered")
    assert audit.data == {"points": 5_000, "purchase": purchase.pk}
    with scopes_disabled():
        assert verify()[1] == []


def test_returned_points_whose_expiry_passed_expire_visibly(shop):
    shop.program(welcome_bonus=4_000, welcome_validity_days=10, max_redeem_percent="50")
    member = shop.join()
    start = datetime(2026, 6, 10, 9, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        member = shop.join(phone="+79990000002")
        purchase = shop.buy(member, 8_000, spend=4_000).purchase
    with time_machine.travel(start + timedelta(days=30), tick=False):
        result = shop.refund(purchase)
        assert result.refund.points_returned == 4_000
        # The returned gift points keep the gift's expiry, long past: they expire at once.
        assert shop.balance(member) == (0, 0)
        from kopilka.ledger.models import Entry
        kinds = list(Entry.objects.filter(account__member=member).order_by("seq")
                     .values_list("kind", flat=True))
        assert kinds == ["grant", "redeem", "accrue", "return", "reverse", "expire"]


def test_refund_id_reused_for_another_amount_is_a_conflict(shop):
    shop.program()
    member = shop.join()
    purchase = shop.buy(member, 100_000).purchase
    shop.refund(purchase, "F1", amount=30_000)
    assert shop.refund(purchase, "F1").replayed  # "the rest" on a retry means the first one
    with pytest.raises(Conflict) as error:
        shop.refund(purchase, "F1", amount=40_000)
    assert error.value.field == "refund_id"
    assert shop.balance(member) == (3_500, 0)
