"""A code texted to the gateway: "CODE 7XQ29F4K" → points, and an SMS reply saying so."""

import datetime as dt
import zlib

import pytest
from django.test import Client, override_settings
from django_scopes import scope, scopes_disabled

from kopilka.campaigns import services as campaigns
from kopilka.campaigns.models import CodeBatch
from kopilka.core.actor import Actor
from kopilka.messaging.models import Message
from kopilka.processing import queries

SECRET = "gateway-secret-0123456789"
pytestmark = pytest.mark.usefixtures("inbound_secret")


@pytest.fixture
def inbound_secret():
    with override_settings(INBOUND_SMS_SECRET=SECRET):
        yield


@pytest.fixture
def codes(alice):
    alice.merchant.language = "en"  # the reply speaks the merchant's language
    alice.merchant.save()
    with scope(merchant=alice.merchant):
        campaign = campaigns.create_campaign(
            alice.merchant, name="Caps", starts_on=dt.date(2020, 1, 1), points=2500,
            actor=Actor.cli(), text="Thanks for the lemonade!")
        batch = campaigns.create_batch(campaign, count=100, length=8, actor=Actor.cli())
    with scopes_disabled():
        return zlib.decompress(bytes(CodeBatch.objects.get(pk=batch.pk).sheet)).decode() \
            .split("\n")


def text(body, phone="+79160000001"):
    return Client(headers={"Accept-Language": "en", "Authorization": f"Bearer {SECRET}"}).post(
        "/api/v1/inbound/sms", {"from": phone, "text": body}, content_type="application/json")


def test_an_sms_with_a_code_grants_the_points_and_replies(alice, codes, outbox):
    with scope(merchant=alice.merchant):
        before = queries.member_card(alice.merchant, alice.member).available
    response = text(f"code {codes[3]}")
    assert response.status_code == 200
    assert before == 0
    reply = ("+25 bonuses for the code. Your balance: 25 bonuses. Thanks for the "
             "lemonade!")
    assert response.json() == {"unsubscribed": 0, "reply": reply, "points": 2500}
    with scope(merchant=alice.merchant):
        assert queries.member_card(alice.merchant, alice.member).available == before + 2500
        message = Message.objects.get(recipient="+79160000001", event="one_time_code")
    assert message.body == reply
    # The same code again: refused, and said so.
    again = text(f"CODE {codes[3]}").json()
    assert again == {"unsubscribed": 0, "reply": "You have already activated this code.",
                     "points": 0}


def test_a_wrong_code_by_sms_is_a_guess_and_a_stranger_is_told_to_join(alice, codes):
    assert text("CODE ZZZZZZZZ").json()["reply"] == \
        "There is no such code. Check it and try again."
    stranger = text(f"КОД {codes[0]}", phone="+79160000055").json()
    assert stranger == {"unsubscribed": 0, "points": 0, "reply":
                        "This code is from Alice Coffee. Join at the counter or in the "
                        "wallet, then send the code again."}
    assert text("STOP").json() == {"unsubscribed": 0}
