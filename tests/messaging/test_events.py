"""Members get their messages as things happen to their points: one per purchase, with the
exact figures; nothing on a replay or a refused purchase; marketing only with consent and
never in the quiet hours; transactional ones as the merchant's setting says."""

import re
from datetime import UTC, datetime, time

import pytest
import time_machine

from kopilka.core.actor import Actor
from kopilka.members import services as members
from kopilka.members.models import Consent
from kopilka.messaging import services, tasks
from kopilka.messaging.models import Event, Message, Settings

pytestmark = pytest.mark.django_db

PHONE = "+79995550001"
NAMES = {
    "ru": {"one": "балл", "few": "балла", "many": "баллов"},
    "uk": {"one": "бал", "few": "бали", "many": "балів"},
    "en": {"one": "point", "other": "points"},
}


def consented(member):
    members.grant_consent(member, members.ConsentGiven(kind=Consent.Kind.MESSAGES,
                                                       text_version="v1"),
                          channel="cashier", actor=Actor.cli())


def send_to(merchant, policy, quiet=(time(21), time(9))):
    services.save_settings(merchant, transactional=policy, quiet_from=quiet[0],
                           quiet_to=quiet[1], actor=Actor.cli())


@pytest.fixture
def coffee(shop):
    """Alice's shop: whole points ("балл") worth a kopeck each, 5 %, 1 000 points on
    joining, gold from 50.00 ₽ spent, receipts to every member."""
    shop.program(points_precision=0, currency_names=NAMES, welcome_bonus=1_000,
                 max_redeem_percent="50",
                 tiers=[{"code": "base", "name": "Base",
                         "accrual": {"kind": "percent", "percent": "5"}},
                        {"code": "gold", "name": "Золото", "threshold": 5_000,
                         "accrual": {"kind": "percent", "percent": "5"}}],
                 transfers={"enabled": True})
    send_to(shop.merchant, Settings.Transactional.ALL)
    return shop


def messages(member=None):
    rows = Message.objects.order_by("pk")
    if member is not None:
        rows = rows.filter(member=member)
    return [(m.event, m.body) for m in rows]


def buy(client, receipt, amount, spend=0):
    return client.post("/api/v1/pos/purchases", {
        "member": {"phone": PHONE}, "receipt_id": receipt, "points_to_spend": spend,
        "lines": [{"line_id": "1", "amount": amount}],
    }, content_type="application/json")


def test_joining_sends_the_registration_message(coffee):
    member = coffee.join(phone=PHONE, first_name="Анна")
    [(event, body)] = messages(member)
    # The default text has {link}: a single-use link to the member's wallet (MSG-2).
    assert event == "registration"
    assert re.fullmatch(r"Анна, вы в программе Alice Coffee! Баланс: 1 000 баллов\. "
                        r"http://localhost:8000/m/[0-9A-Za-z]{10}", body)
    message = Message.objects.get(member=member)
    assert (message.recipient, message.channel, message.status) == (PHONE, "sms", "queued")


def test_each_purchase_queues_exactly_one_message_with_its_figures(coffee):
    member = coffee.join(phone=PHONE, first_name="Анна")
    pos = coffee.tenant.pos()
    first = buy(pos, "R-1", 1_000)
    assert first.status_code == 201, first.json()
    assert (first.json()["points_accrued"], first.json()["available"]) == (50, 1_050)
    second = buy(pos, "R-2", 400)
    assert (second.json()["points_accrued"], second.json()["available"]) == (20, 1_070)
    third = buy(pos, "R-3", 300, spend=101)
    assert third.status_code == 201, third.json()
    # 1 070 - 101 + 9 (5 % of the 1.99 paid in money, rounded down)
    assert (third.json()["points_spent"], third.json()["available"]) == (101, 978)
    assert messages(member)[1:] == [
        ("first_purchase", "Анна, спасибо за первую покупку! Начислено 50 баллов. "
                           "Баланс: 1 050 баллов."),
        ("accrual", "Alice Coffee: +20 баллов за покупку на 4,00 ₽. Баланс: 1 070 баллов"),
        # Spending and accrual at once: the spending is what the member must hear of.
        ("redemption", "Alice Coffee: списано 101 балл. Баланс: 978 баллов"),
    ]


def test_a_replayed_or_refused_purchase_sends_nothing(coffee):
    member = coffee.join(phone=PHONE, first_name="Анна")
    pos = coffee.tenant.pos()
    assert buy(pos, "R-1", 1_000).status_code == 201
    assert buy(pos, "R-1", 1_000).status_code == 200  # the replay
    refused = buy(pos, "R-2", 1_000, spend=900)  # at most half of 10.00 may be spent
    assert refused.status_code == 409, refused.json()
    assert [event for event, _body in messages(member)] == ["registration", "first_purchase"]


def test_a_purchase_that_reaches_a_tier_also_tells_the_tier(coffee):
    member = coffee.join(phone=PHONE, first_name="Анна")
    coffee.buy(member, 1_000)
    result = coffee.buy(member, 4_000)
    assert result.tier_changed
    assert messages(member)[2:] == [
        ("accrual", "Alice Coffee: +200 баллов за покупку на 40,00 ₽. Баланс: 1 250 баллов"),
        ("tier_change", "Анна, ваш уровень в Alice Coffee: Золото"),
    ]


def test_the_recipient_of_a_transfer_is_told(coffee):
    sender = coffee.join(phone=PHONE, first_name="Анна")
    recipient = coffee.join(phone="+79995550002", first_name="Борис")
    coffee.send(sender, recipient, 21)
    assert messages(recipient)[1:] == [
        ("transfer", "Alice Coffee: вам передали 21 балл. Баланс: 1 021 балл"),
    ]
    assert [event for event, _body in messages(sender)] == ["registration"]


def test_by_default_a_merchant_sends_no_transactional_messages(shop):
    shop.program(welcome_bonus=1_000)
    member = shop.join(phone=PHONE)
    consented(member)
    shop.buy(member, 1_000)
    assert messages() == []
    assert services.settings_for(shop.merchant).transactional == "off"


def test_marketing_needs_the_consent_and_transactional_follows_the_setting(coffee):
    member = coffee.join(phone=PHONE, first_name="Анна")
    context = {"name": "Анна", "points": 300, "date": datetime(2026, 12, 31, 12, tzinfo=UTC)}
    with time_machine.travel(datetime(2026, 11, 23, 12, tzinfo=UTC), tick=False):
        assert services.queue(coffee.merchant, event=Event.GIFT, member=member,
                              context=context) is None
        coffee.buy(member, 1_000)
        assert [event for event, _body in messages(member)] == ["registration",
                                                                 "first_purchase"]
        send_to(coffee.merchant, Settings.Transactional.CONSENTED)
        coffee.buy(member, 200)  # no consent: no receipt now
        assert len(messages(member)) == 2
        consented(member)
        coffee.buy(member, 200)
        gift = services.queue(coffee.merchant, event=Event.GIFT, member=member, context=context)
    assert messages(member)[2:] == [
        ("accrual", "Alice Coffee: +10 баллов за покупку на 2,00 ₽. Баланс: 1 070 баллов"),
        ("gift", "Анна, Alice Coffee дарит вам 300 баллов до 31 декабря 2026 г."),
    ]
    assert gift.next_attempt_at == datetime(2026, 11, 23, 12, tzinfo=UTC)  # 15:00 in Moscow


def test_marketing_queued_in_quiet_hours_goes_out_when_they_end(coffee, outbox):
    noon = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # 12:00 in Moscow
    with time_machine.travel(noon, tick=False):
        member = coffee.join(phone=PHONE, first_name="Анна")
        consented(member)
    context = {"name": "Анна", "points": 300, "date": datetime(2026, 12, 31, 12, tzinfo=UTC)}
    late = datetime(2026, 11, 23, 20, 0, tzinfo=UTC)  # 23:00 in Moscow (UTC+3)
    nine = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)  # 09:00 in Moscow the next day
    with time_machine.travel(late, tick=False):
        gift = services.queue(coffee.merchant, event=Event.GIFT, member=member,
                              context=context)
        receipt = coffee.buy(member, 1_000)
    assert receipt.purchase.points_accrued == 50
    receipt_message = Message.objects.get(member=member, event="first_purchase")
    assert gift.next_attempt_at == nine
    assert receipt_message.next_attempt_at == late  # transactional: at once
    assert Message.objects.get(member=member, event="registration").next_attempt_at == noon
    for moment, attempted in ((late, 2),  # the registration and the receipt
                              (datetime(2026, 11, 24, 5, 59, tzinfo=UTC), 0),
                              (nine, 1)):
        with time_machine.travel(moment, tick=False):
            assert tasks.deliver_due() == attempted
    assert [message.body.split(" http")[0] for message in outbox] == [
        "Анна, вы в программе Alice Coffee! Баланс: 1 000 баллов.",  # and its wallet link
        "Анна, спасибо за первую покупку! Начислено 50 баллов. Баланс: 1 050 баллов.",
        "Анна, Alice Coffee дарит вам 300 баллов до 31 декабря 2026 г.",
    ]
    gift.refresh_from_db()
    assert (gift.status, gift.sent_at) == ("sent", nine)


@pytest.mark.parametrize(("now", "released"), [
    (datetime(2026, 11, 23, 17, 59, tzinfo=UTC), None),  # 20:59 local: not yet quiet
    (datetime(2026, 11, 23, 18, 0, tzinfo=UTC), datetime(2026, 11, 24, 6, 0, tzinfo=UTC)),
    (datetime(2026, 11, 24, 2, 30, tzinfo=UTC), datetime(2026, 11, 24, 6, 0, tzinfo=UTC)),
    (datetime(2026, 11, 24, 6, 0, tzinfo=UTC), None),  # 09:00 local: over
])
def test_quiet_hours_run_over_midnight_in_the_merchants_zone(now, released):
    from kopilka.messaging.quiet import release_at
    assert release_at(now, time(21), time(9), "Europe/Moscow") == released
    assert release_at(now, time(9), time(9), "Europe/Moscow") is None  # no quiet hours


def test_settings_joined_with_the_merchant_cost_no_query(shop, django_assert_num_queries):
    # What API authentication does (as for the program): join the settings row, so that
    # asking whom to send a receipt costs nothing at a merchant that never set them.
    from kopilka.tenancy import access
    from kopilka.tenancy.models import Merchant

    joined = Merchant.objects.select_related(*access.merchant_joins("")).get(pk=shop.merchant.pk)
    with access.enter(access.Principal.system(joined, joined=True)), \
            django_assert_num_queries(0):
        assert services.settings_for(joined).transactional == "off"
        assert services.may_send(joined, shop.tenant.member, Event.ACCRUAL) is False
