"""Referral rewards (CMP-3): written with the sale, exactly once, up the chain, reversed by
refunds in proportion; the newcomer's gift; the code, phone or card that names a referrer."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import translation
from pydantic import ValidationError

from kopilka.core import clock
from kopilka.core.errors import Forbidden
from kopilka.ledger.models import Entry, Lot
from kopilka.ledger.verify import verify
from kopilka.members.models import Member
from kopilka.messaging.models import Message
from kopilka.programs.config import ProgramConfig
from kopilka.referrals import services as referrals
from kopilka.referrals.models import Referral, Reward

pytestmark = pytest.mark.django_db

FIVE_PERCENT_FIRST = {"basis": "purchase", "levels": [{"percent": "5"}]}


def _config(**referral):
    return {"type": "bonus", "referral": referral,
            "tiers": [{"code": "base", "name": "Base",
                       "accrual": {"kind": "percent", "percent": "5"}}]}


def test_first_purchase_pays_five_percent_to_the_referrer_and_the_second_nothing(shop):
    shop.program(referral=FIVE_PERCENT_FIRST)
    anna = shop.join("+79990000001")
    friend = shop.join("+79990000002", referrer_code=referrals.code_for(anna))
    first = shop.buy(friend, 100_000)  # 1 000.00
    assert shop.balance(anna) == (5_000, 0)  # 50.00
    assert shop.balance(friend) == (5_000, 0)  # the friend's own 5 % accrual
    shop.buy(friend, 100_000)
    assert shop.balance(anna) == (5_000, 0)  # the second purchase pays nothing
    reward = Reward.objects.get()
    assert (reward.member_id, reward.friend_id, reward.purchase_id, reward.level,
            reward.points) == (anna.pk, friend.pk, first.purchase.pk, 1, 5_000)
    entry = Entry.objects.get(account__member=anna)
    assert (entry.cause_type, entry.cause_id, entry.lot.kind) == (
        "referral", str(reward.pk), Lot.Kind.REFERRAL)
    assert verify()[1] == []


def test_a_replayed_sale_pays_no_second_reward(shop):
    shop.program(referral=FIVE_PERCENT_FIRST)
    anna = shop.join("+79990000001")
    friend = shop.join("+79990000002", referrer_code=referrals.code_for(anna))
    shop.buy(friend, 100_000, receipt="R-same")
    again = shop.buy(friend, 100_000, receipt="R-same")
    assert again.replayed
    assert Reward.objects.count() == 1
    assert shop.balance(anna) == (5_000, 0)


def test_three_levels_five_two_one_percent(shop):
    shop.program(referral={"basis": "purchase", "levels": [
        {"percent": "5"}, {"percent": "2"}, {"percent": "1"}]})
    a = shop.join("+79990000001")
    b = shop.join("+79990000002", referrer_code=referrals.code_for(a))
    c = shop.join("+79990000003", referrer_code=referrals.code_for(b))
    d = shop.join("+79990000004", referrer_code=referrals.code_for(c))
    e = shop.join("+79990000005", referrer_code=referrals.code_for(d))
    shop.buy(e, 100_000)
    # d is e's referrer (5 %), c two levels up (2 %), b three (1 %); a is four up: nothing.
    assert [shop.balance(m)[0] for m in (a, b, c, d, e)] == [0, 1_000, 2_000, 5_000, 5_000]
    assert sorted(Reward.objects.values_list("level", "points")) == [
        (1, 5_000), (2, 2_000), (3, 1_000)]
    assert verify()[1] == []


def test_a_refund_reverses_the_referral_reward_in_proportion(shop):
    shop.program(referral={"basis": "purchase", "levels": [{"percent": "5"}, {"percent": "2"}]})
    a = shop.join("+79990000001")
    b = shop.join("+79990000002", referrer_code=referrals.code_for(a))
    c = shop.join("+79990000003", referrer_code=referrals.code_for(b))
    purchase = shop.buy(c, 100_000).purchase
    assert (shop.balance(b)[0], shop.balance(a)[0]) == (5_000, 2_000)
    shop.refund(purchase, "F1", amount=30_000)
    assert (shop.balance(b)[0], shop.balance(a)[0]) == (3_500, 1_400)
    shop.refund(purchase, "F2")  # the rest
    assert (shop.balance(b)[0], shop.balance(a)[0]) == (0, 0)
    assert sorted(Reward.objects.values_list("level", "points", "reversed")) == [
        (1, 5_000, 5_000), (2, 2_000, 2_000)]
    assert verify()[1] == []


def test_a_refund_after_the_reward_was_spent_takes_what_is_left(shop):
    shop.program(referral=FIVE_PERCENT_FIRST)
    anna = shop.join("+79990000001")
    friend = shop.join("+79990000002", referrer_code=referrals.code_for(anna))
    purchase = shop.buy(friend, 100_000).purchase
    shop.buy(anna, 10_000, spend=4_000)  # anna spends 40.00 of her 50.00, earns 5 % of 60.00
    assert shop.balance(anna) == (1_000 + 300, 0)
    shop.refund(purchase)
    assert shop.balance(anna) == (0, 0)
    reward = Reward.objects.get()
    assert (reward.reversal_target, reward.reversed) == (5_000, 1_300)


def test_percent_of_the_points_the_friend_earned(shop):
    shop.program(referral={"basis": "points", "levels": [{"percent": "50"}]})
    anna = shop.join("+79990000001")
    friend = shop.join("+79990000002", referrer_code=referrals.code_for(anna))
    shop.buy(friend, 100_000)  # the friend earns 5 000; anna half of it
    assert shop.balance(anna) == (2_500, 0)


def test_fixed_reward_for_every_purchase_within_the_days(shop):
    shop.program(referral={"basis": "fixed", "levels": [{"points": 3_000}],
                           "period": "days", "days": 30})
    anna = shop.join("+79990000001")
    friend = shop.join("+79990000002", referrer_code=referrals.code_for(anna))
    shop.buy(friend, 10_000)
    shop.buy(friend, 10_000)
    assert shop.balance(anna) == (6_000, 0)
    with time_machine.travel(clock.now() + timedelta(days=31)):
        shop.buy(friend, 10_000)
        assert shop.balance(anna)[0] == 6_000


def test_the_newcomer_gift_and_the_referrer_named_by_phone_or_card(shop):
    shop.program(referral={**FIVE_PERCENT_FIRST,
                           "newcomer_gift": {"points": 10_000, "validity_days": 30}})
    anna = shop.join("+79990000001")
    by_phone = shop.join("+79990000002", referrer_code="8 999 000-00-01")
    by_card = shop.join("+79990000003", referrer_code="79990000001")
    assert [Referral.objects.get(newcomer=m).referrer_id for m in (by_phone, by_card)] == [
        anna.pk, anna.pk]
    assert shop.balance(by_phone) == (10_000, 0)
    assert shop.balance(anna) == (0, 0)
    stranger = shop.join("+79990000004", referrer_code="NOBODY99")  # kept as typed, no gift
    assert stranger.referrer_code == "NOBODY99"
    assert shop.balance(stranger) == (0, 0)
    assert not Referral.objects.filter(newcomer=stranger).exists()


def test_the_referrer_is_told_of_the_reward(shop):
    from kopilka.messaging import services as messaging
    messaging.save_settings(shop.merchant, transactional="all",
                            quiet_from=clock.now().time().replace(hour=23, minute=0),
                            quiet_to=clock.now().time().replace(hour=23, minute=1),
                            actor=referrals.Actor.cli())
    shop.program(referral=FIVE_PERCENT_FIRST)
    anna = shop.join("+79990000001")
    friend = shop.join("+79990000002", referrer_code=referrals.code_for(anna))
    shop.buy(friend, 100_000)
    told = Message.objects.get(member=anna, event="referral_accrual")
    assert "+50" in told.body.replace("\u00a0", " ")


def test_invite_only_refuses_a_registration_without_an_invitation(shop):
    shop.program(referral={**FIVE_PERCENT_FIRST, "invite_only": True,
                           "invite_after_points": 1_000})
    # The first members come in by import (the owner's list): the program has to start.
    from kopilka.processing import services
    anna = services.enrol(shop.merchant, phone="+79990000001", actor=referrals.Actor.cli(),
                          channel=Member.Channel.IMPORT)
    with pytest.raises(Forbidden) as nobody:
        shop.join("+79990000002")
    assert nobody.value.field == "referrer_code"
    with pytest.raises(Forbidden) as too_soon, translation.override("en"):
        shop.join("+79990000002", referrer_code=referrals.code_for(anna))  # earned nothing yet
    assert too_soon.value.detail == "The member who invited you cannot invite yet."
    assert not Member.objects.filter(person__phone="+79990000002").exists()
    shop.buy(anna, 20_000)  # 1 000 points earned: the right to invite
    friend = shop.join("+79990000002", referrer_code=referrals.code_for(anna))
    assert Referral.objects.get(newcomer=friend).referrer_id == anna.pk


def test_the_config_refuses_inconsistent_referral_settings():
    with pytest.raises(ValidationError, match="needs points"):
        ProgramConfig.model_validate(_config(basis="fixed", levels=[{"percent": "5"}]))
    with pytest.raises(ValidationError, match="days is required"):
        ProgramConfig.model_validate(_config(levels=[{"percent": "5"}], period="days"))
    with pytest.raises(ValidationError):
        ProgramConfig.model_validate(_config(levels=[{"percent": "5"}] * 6))
    with pytest.raises(ValidationError, match="must not be empty"):
        ProgramConfig.model_validate(_config(levels=[]))
    config = ProgramConfig.model_validate(_config(levels=[{"percent": "5"}]))
    assert config.referral.period == "first_purchase"
