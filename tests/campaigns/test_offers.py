"""Targeted offers (CMP-4): the estimate, the balance check, sending in batches, one gift per
member, and the results after a purchase in the window."""

from datetime import time, timedelta
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_date
from django.test import override_settings
from django.utils import timezone

from kopilka.campaigns import offers
from kopilka.campaigns.models import Offer, OfferRecipient
from kopilka.core.actor import Actor
from kopilka.core.errors import Conflict, InvalidInput
from kopilka.ledger.models import Entry, Lot
from kopilka.members import segments
from kopilka.members import services as members
from kopilka.members.services import ConsentGiven
from kopilka.messaging import billing, tasks
from kopilka.messaging import services as messaging
from kopilka.messaging.models import Event, Message

ACTOR = Actor.cli()
AGREED = [ConsentGiven("messages", "v1")]
TEXT = "{name}: +{points} до {date}"  # Cyrillic: UCS-2, one part of 70 characters


@pytest.fixture
def vip(shop):
    """Four VIP members, three of whom agreed to messages; the segment of VIPs."""
    messaging.save_settings(shop.merchant, transactional="off", quiet_from=time(0),
                            quiet_to=time(0), actor=ACTOR)
    people = {
        "ann": shop.join("+79990000011", first_name="Ann", tags=["vip"], consents=AGREED),
        "ben": shop.join("+79990000012", first_name="Ben", tags=["vip"], consents=AGREED),
        "cat": shop.join("+79990000013", first_name="Cat", tags=["vip"], consents=AGREED),
        "dan": shop.join("+79990000014", first_name="Dan", tags=["vip"]),  # no consent
        "eve": shop.join("+79990000015", first_name="Eve", consents=AGREED),  # not a VIP
    }
    segment = segments.save_segment(shop.merchant, name="VIP", filters={"tag": "vip"},
                                    by=None, actor=ACTOR)
    return segment, people


def deliver_all():
    for pk in Message.objects.filter(event=Event.OFFER).values_list("pk", flat=True):
        assert tasks.attempt(pk) == "sent"


def make_offer(shop, segment, **kwargs):
    kwargs.setdefault("points", 5000)  # 50 points
    kwargs.setdefault("validity_days", 14)
    return offers.create_offer(shop.merchant, segment=segment, name="Spring", text=TEXT,
                               actor=ACTOR, **kwargs)


@override_settings(SMS_FREE_PARTS=0)
def test_the_estimate_is_recipients_times_parts_times_price(shop, vip):
    segment, _people = vip
    offer = make_offer(shop, segment)
    figures = offers.estimate(offer)
    assert (figures.recipients, figures.parts, figures.price) == (3, 3, 250)
    assert (figures.cost, figures.payable, figures.balance) == (750, 750, 0)  # 7.50
    assert not figures.affordable
    with pytest.raises(Conflict) as refused:
        offers.send(offer, actor=ACTOR)
    assert str(refused.value.detail) == (
        "The SMS balance cannot pay for this offer: it costs RUB7.50 and the balance is "
        "RUB0.00. Top up the SMS balance or choose a smaller segment.")
    offer.refresh_from_db()
    assert offer.status == Offer.Status.DRAFT
    billing.top_up(shop.merchant, 749, actor=ACTOR)
    assert not offers.estimate(offer).affordable
    billing.top_up(shop.merchant, 1, actor=ACTOR)
    assert offers.estimate(offer).affordable
    # A revoked consent leaves the count at once.
    members.revoke_consent(vip[1]["ann"], "messages", actor=ACTOR)
    assert (offers.estimate(offer).recipients, offers.estimate(offer).cost) == (2, 500)


def test_the_free_parts_are_used_first(shop, vip):
    segment, _people = vip
    with override_settings(SMS_FREE_PARTS=2):
        figures = offers.estimate(make_offer(shop, segment))
    assert (figures.cost, figures.free_parts, figures.payable) == (750, 2, 250)


def test_a_long_text_costs_two_parts_each(shop, vip):
    segment, _people = vip
    long_text = "{name}, " + "скидка " * 12 + "{points}"
    offer = offers.create_offer(shop.merchant, segment=segment, name="Long", text=long_text,
                                points=100, actor=ACTOR)
    with override_settings(SMS_FREE_PARTS=0):
        assert (offers.estimate(offer).parts, offers.estimate(offer).cost) == (6, 1500)


@override_settings(SMS_FREE_PARTS=100)
def test_sending_in_batches_gives_one_gift_per_member_even_when_run_twice(
        shop, vip, outbox, django_capture_on_commit_callbacks):
    segment, people = vip
    offer = make_offer(shop, segment)
    with django_capture_on_commit_callbacks() as callbacks:
        offers.send(offer, actor=ACTOR)
    assert len(callbacks) == 1  # the background task, after the commit
    offer.refresh_from_db()
    assert (offer.status, offer.recipients, offer.sent) == ("sending", 3, 0)

    with django_capture_on_commit_callbacks(execute=True):
        assert offers.run_batch(offer.pk, size=2) == "more"
    offer.refresh_from_db()
    assert (offer.status, offer.sent) == ("sending", 2)  # the progress the page shows
    with django_capture_on_commit_callbacks(execute=True):
        assert offers.run_batch(offer.pk, size=2) == "done"
    offer.refresh_from_db()
    assert (offer.status, offer.sent) == ("sent", 3)
    assert offers.run_batch(offer.pk, size=2) == "skipped"  # the task again: nothing

    # Even a run that finds the offer still "sending" gives nobody a second gift.
    Offer.objects.filter(pk=offer.pk).update(status=Offer.Status.SENDING)
    assert offers.run_batch(offer.pk) == "done"
    assert OfferRecipient.objects.filter(offer=offer).count() == 3
    grants = Entry.objects.filter(cause_type="offer", kind=Entry.Kind.GRANT)
    assert sorted(grants.values_list("available_delta", flat=True)) == [5000, 5000, 5000]
    assert set(Lot.objects.filter(entries__in=grants).values_list("kind", flat=True)) == {
        "gift"}
    ann = people["ann"]
    assert shop.balance(ann)[0] == 5000
    texts = sorted(body for _to, body in [(m.recipient, m.body) for m in
                                          Message.objects.filter(event=Event.OFFER)])
    today = timezone.localdate(timezone=ZoneInfo(shop.merchant.timezone))
    until = format_date(today + timedelta(days=14), format="long", locale="ru").replace(
        "\u202f", " ")
    assert texts == [f"{name}: +50 бонусов до {until}" for name in ("Ann", "Ben", "Cat")]
    deliver_all()
    assert sorted(sms.recipient for sms in outbox) == ["+79990000011", "+79990000012",
                                                      "+79990000013"]
    with pytest.raises(Conflict):
        offers.send(offer, actor=ACTOR)


@override_settings(SMS_FREE_PARTS=100)
def test_results_after_a_purchase_in_the_window(shop, vip, outbox,
                                                 django_capture_on_commit_callbacks):
    segment, people = vip
    before = shop.buy(people["ben"], 30_000)  # before the offer: not its
    offer = make_offer(shop, segment)
    offers.send(offer, actor=ACTOR)
    with django_capture_on_commit_callbacks(execute=True):
        assert offers.run_batch(offer.pk) == "done"
    deliver_all()
    shop.buy(people["ann"], 100_000, spend=2_000)  # spends from the gift lot first
    second = shop.buy(people["ann"], 40_000)
    shop.refund(second.purchase, amount=10_000)
    shop.buy(people["eve"], 70_000)  # not a recipient
    shop.buy(people["dan"], 80_000)  # in the segment, no consent: not reached
    offer.refresh_from_db()
    result = offers.results(offer)
    assert before.purchase.pk
    assert (result.recipients, result.messages, result.delivered) == (3, 3, 3)
    assert (result.gifts, result.gift_points, result.gift_points_used) == (3, 15_000, 2_000)
    assert (result.purchases, result.buyers) == (2, 1)
    # the checks (points paid are part of them), less what was refunded: 1 300.00
    assert result.revenue == 100_000 + 40_000 - 10_000


def test_bad_input_is_refused_with_the_field(shop, vip, bob):
    segment, _people = vip
    cases = [
        ({"text": "Hi {balance}"}, "text"),
        ({"text": "Hi {nme}"}, "text"),
        ({"text": "  "}, "text"),
        ({"text": "Hi {name}", "points": 100}, "text"),  # a gift the text never mentions
        ({"points": -1}, "points"),
        ({"validity_days": 0}, "validity_days"),
        ({"window_days": 0}, "window_days"),
        ({"name": " "}, "name"),
    ]
    for change, field in cases:
        kwargs = {"name": "X", "text": TEXT, "points": 0, **change}
        with pytest.raises(InvalidInput) as refused:
            offers.create_offer(shop.merchant, segment=segment, actor=ACTOR, **kwargs)
        assert refused.value.field == field, change
    empty = segments.save_segment(shop.merchant, name="Nobody", filters={"tag": "none"},
                                  by=None, actor=ACTOR)
    offer = make_offer(shop, empty)
    with pytest.raises(InvalidInput) as refused:
        offers.send(offer, actor=ACTOR)
    assert refused.value.field == "segment"


@override_settings(SMS_FREE_PARTS=100)
def test_resume_due_moves_on_an_offer_whose_task_was_lost(shop, vip):
    segment, _people = vip
    offer = make_offer(shop, segment)
    offers.send(offer, actor=ACTOR)  # its task is never run
    offer.refresh_from_db()
    assert offers.resume_due(offer.started_at + timedelta(minutes=9)) == 0  # not yet
    assert offers.resume_due(offer.started_at + timedelta(minutes=11)) == 1
    offer.refresh_from_db()
    assert (offer.status, offer.sent) == ("sent", 3)
    assert offers.resume_due(offer.started_at + timedelta(minutes=12)) == 0
