"""`POST /api/v1/inbound/sms/status`: an HTTP gateway's word on an SMS it accepted — Twilio's
status callback (a form), Vonage's delivery receipt (JSON, one per part) or the generic
{provider_id, status} — marks the outbox row delivered or failed, once, with the shared
secret."""

import base64
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client, override_settings
from django_scopes import scope, scopes_disabled

from kopilka.messaging import receipts, services, tasks
from kopilka.messaging.models import Message, MessagePart
from tests.messaging.peers import http_gateway

pytestmark = pytest.mark.django_db

URL = "/api/v1/inbound/sms/status"
SECRET = "gw-secret-0123456789"
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def stored(tenant, *part_ids, provider="http") -> Message:
    """A message the gateway accepted as parts with these ids, as tasks.attempt leaves it."""
    with scope(merchant=tenant.merchant):
        message = Message.objects.create(
            merchant=tenant.merchant, member=tenant.member, event="one_time_code",
            channel="sms", recipient="+79160000001", language="en", body="code 1",
            status="sent", attempts=1, next_attempt_at=T0, provider=provider,
            provider_id=part_ids[0], parts=len(part_ids), created_at=T0, sent_at=T0)
        MessagePart.objects.bulk_create(
            MessagePart(merchant=tenant.merchant, message=message, number=number,
                        provider=provider, provider_id=part_id)
            for number, part_id in enumerate(part_ids, start=1))
    return message


def parts(message) -> list[tuple]:
    with scopes_disabled():
        return list(MessagePart.objects.filter(message=message).order_by("number")
                    .values_list("provider_id", "delivered_at", "error"))


def row(message) -> tuple:
    with scopes_disabled():
        message = Message.objects.get(pk=message.pk)
    return message.status, message.provider_id, message.error, message.delivered_at


def basic(password, user="kopilka") -> dict:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def bearer(secret=SECRET) -> dict:
    return {"Authorization": f"Bearer {secret}"}


def twilio(fields, headers=None):
    """As Twilio calls: a form, credentials from the callback URL's user:password."""
    return Client(headers={"Accept-Language": "en", **(headers or basic(SECRET))}).post(
        URL, fields)  # the test client sends a dict as a form


def post_json(body, headers=None):
    return Client(headers={"Accept-Language": "en", **(headers or bearer())}).post(
        URL, body, content_type="application/json")


@override_settings(INBOUND_SMS_SECRET=SECRET)
def test_twilio_says_delivered(alice):
    message = stored(alice, "SM0f6a2c")
    with time_machine.travel(T0 + timedelta(seconds=7), tick=False):
        response = twilio({"MessageSid": "SM0f6a2c", "MessageStatus": "delivered",
                           "AccountSid": "AC1", "From": "+15550001111", "To": "+79160000001"})
    assert response.status_code == 200, response.content
    assert response.json() == {"known": True, "updated": True}
    assert row(message) == ("delivered", "SM0f6a2c", "", T0 + timedelta(seconds=7))


@override_settings(INBOUND_SMS_SECRET=SECRET)
@pytest.mark.parametrize(("status", "code", "expected"), [
    ("undelivered", "30003", ("failed", "undelivered (30003)")),
    ("failed", "30008", ("failed", "failed (30008)")),
    ("canceled", "", ("failed", "canceled")),
    ("read", "", ("delivered", "")),
    ("sent", "", ("sent", "")),
    ("queued", "", ("sent", "")),
    ("partially_delivered", "", ("sent", "")),
    ("teleported", "", ("sent", "")),  # a status Twilio may add one day: nothing changes
])
def test_what_each_twilio_status_does(alice, status, code, expected):
    message = stored(alice, "SM1")
    fields = {"MessageSid": "SM1", "MessageStatus": status}
    if code:
        fields["ErrorCode"] = code
    with time_machine.travel(T0, tick=False):
        response = twilio(fields)
    assert response.status_code == 200, response.content
    assert response.json() == {"known": True, "updated": expected[0] != "sent"}
    assert row(message) == (*expected[:1], "SM1", expected[1],
                            T0 if expected[0] == "delivered" else None)


@override_settings(INBOUND_SMS_SECRET=SECRET)
def test_vonage_receipts_deliver_a_message_part_by_part(alice):
    message = stored(alice, "0B01", "0B02")
    with time_machine.travel(T0, tick=False) as traveller:
        first = post_json({"messageId": "0B02", "status": "delivered", "err-code": "0",
                           "msisdn": "79160000001", "client-ref": str(message.pk)})
        half, half_parts = row(message), parts(message)
        again = post_json({"messageId": "0B02", "status": "delivered", "err-code": "0"})
        traveller.shift(timedelta(minutes=1))
        last = post_json({"messageId": "0B01", "status": "delivered", "err-code": "0"})
    assert [r.json() for r in (first, again, last)] == [
        {"known": True, "updated": True}, {"known": True, "updated": False},
        {"known": True, "updated": True}]
    assert (half, half_parts) == (("sent", "0B01", "", None),
                                  [("0B01", None, ""), ("0B02", T0, "")])
    assert row(message) == ("delivered", "0B01", "", T0 + timedelta(minutes=1))
    assert parts(message) == [("0B01", T0 + timedelta(minutes=1), ""), ("0B02", T0, "")]


@override_settings(INBOUND_SMS_SECRET=SECRET)
@pytest.mark.parametrize(("status", "code", "expected"), [
    ("rejected", "4", ("failed", "rejected (4)")),
    ("expired", "1", ("failed", "expired (1)")),
    ("failed", "0", ("failed", "failed")),
    ("accepted", "0", ("sent", "")),
    ("buffered", "0", ("sent", "")),
    ("unknown", "99", ("sent", "")),
])
def test_what_each_vonage_status_does(alice, status, code, expected):
    message = stored(alice, "0C07")
    response = post_json({"messageId": "0C07", "status": status, "err-code": code})
    assert response.status_code == 200, response.content
    assert row(message) == (expected[0], "0C07", expected[1], None)


@override_settings(INBOUND_SMS_SECRET=SECRET)
def test_the_generic_callback(alice):
    delivered, failed, pending = (stored(alice, "g-1"), stored(alice, "g-2"),
                                  stored(alice, "g-3"))
    with time_machine.travel(T0, tick=False):
        answers = [post_json(body).json() for body in (
            {"provider_id": "g-1", "status": "delivered"},
            {"provider_id": "g-2", "status": "failed", "error": "no route to the network"},
            {"provider_id": "g-3", "status": "pending"},
            {"provider_id": "g-2", "status": "delivered"},  # after failed: too late
        )]
    assert answers == [{"known": True, "updated": True}, {"known": True, "updated": True},
                       {"known": True, "updated": False}, {"known": True, "updated": False}]
    assert [row(m) for m in (delivered, failed, pending)] == [
        ("delivered", "g-1", "", T0), ("failed", "g-2", "no route to the network", None),
        ("sent", "g-3", "", None)]


@override_settings(INBOUND_SMS_SECRET=SECRET)
def test_an_unknown_id_is_200_and_logged(alice, bob, caplog):
    smpp_message = stored(bob, "SM9", provider="smpp")  # another provider's id: not ours
    before = receipts.counts["unknown"]
    response = twilio({"MessageSid": "SM9", "MessageStatus": "delivered"})
    assert response.status_code == 200
    assert response.json() == {"known": False, "updated": False}
    assert receipts.counts["unknown"] - before == 1
    assert "receipt for an unknown message: provider http, id 'SM9', delivered" in (
        caplog.messages)
    assert row(smpp_message) == ("sent", "SM9", "", None)


@override_settings(INBOUND_SMS_SECRET=SECRET)
def test_each_merchant_s_message_is_found_by_its_own_id(alice, bob):
    alices, bobs = stored(alice, "A-1"), stored(bob, "A-10")
    assert post_json({"provider_id": "A-10", "status": "delivered"}).json()["updated"]
    assert row(alices)[0] == "sent"
    assert row(bobs)[0] == "delivered"


@pytest.mark.parametrize(("configured", "headers"), [
    (SECRET, {}),
    (SECRET, bearer("wrong")),
    (SECRET, basic("wrong")),
    (SECRET, {"Authorization": "Basic !!!"}),  # not base64
    ("", bearer("")),
    ("", basic("anything")),
])
def test_status_callbacks_need_the_shared_secret(alice, configured, headers):
    message = stored(alice, "SM5")
    with override_settings(INBOUND_SMS_SECRET=configured):
        response = Client(headers={"Accept-Language": "en", **headers}).post(
            URL, {"MessageSid": "SM5", "MessageStatus": "delivered"})
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["type"] == "/problems/unauthenticated"
    assert row(message) == ("sent", "SM5", "", None)


@override_settings(INBOUND_SMS_SECRET=SECRET)
@pytest.mark.parametrize(("body", "field", "message"), [
    ({}, "provider_id", "This field is required."),
    ({"provider_id": "g-1"}, "status", "This field is required."),
    ({"provider_id": "g-1", "status": "lost"}, "status",
     "Must be one of: delivered, failed, pending."),
    ({"provider_id": ["g-1"], "status": "delivered"}, "provider_id", "Must be a string."),
    ({"provider_id": True, "status": "delivered"}, "provider_id", "Must be a string."),
    ({"provider_id": "g\x00", "status": "delivered"}, "provider_id",
     "Must not contain the NUL character."),
    ({"provider_id": "g" * 101, "status": "delivered"}, "provider_id",
     "Too long (maximum length: 100)."),
    ({"messageId": "0C07"}, "status", "This field is required."),
    ([{"provider_id": "g-1", "status": "delivered"}], "body", "Must be an object."),
])
def test_a_malformed_callback_is_422_naming_the_field(alice, body, field, message):
    stored(alice, "g-1")
    response = post_json(body)
    assert response.status_code == 422, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"] == [{"field": field, "message": message}]


@override_settings(INBOUND_SMS_SECRET=SECRET)
def test_an_unreadable_body_is_400_and_changes_nothing(alice):
    message = stored(alice, "g-1")
    response = post_json('{"provider_id": "g-1", "status": "delivered"')
    assert response.status_code == 400
    assert response.json() == {"type": "/problems/http-error", "status": 400,
                               "title": "The request cannot be read.",
                               "detail": "Cannot parse request body"}
    assert row(message) == ("sent", "g-1", "", None)


@override_settings(INBOUND_SMS_SECRET=SECRET)
def test_a_twilio_form_without_its_status_is_422(alice):
    response = twilio({"MessageSid": "SM1"})
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "MessageStatus",
                                          "message": "This field is required."}]


@override_settings(INBOUND_SMS_SECRET=SECRET)
def test_a_vonage_message_in_two_parts_is_sent_and_delivered_end_to_end(alice):
    """Through a real HTTP gateway on loopback: Vonage answers with one id per part, and
    the message is delivered when the receipts of both have come."""
    with http_gateway() as gateway, override_settings(MESSAGING={"sms": {
            "BACKEND": "kopilka.messaging.backends.http.HttpBackend",
            "OPTIONS": {"url": gateway.url, "preset": "vonage", "sender": "Alice"}}}), \
            time_machine.travel(T0, tick=False):
        gateway.answers.append((200, {"message-count": "2", "messages": [
            {"status": "0", "message-id": "0D01"}, {"status": "0", "message-id": "0D02"}]}))
        with scope(merchant=alice.merchant):
            queued = services.queue(alice.merchant, event="one_time_code",
                                    member=alice.member, context={"code": "4821"})
        assert tasks.attempt(queued.pk) == "sent"
        sent = row(queued)
        answers = [post_json({"messageId": part, "status": "delivered", "err-code": "0"})
                   .json() for part in ("0D01", "0D02")]
    assert sent == ("sent", "0D01", "", None)
    assert answers == [{"known": True, "updated": True}, {"known": True, "updated": True}]
    assert row(queued) == ("delivered", "0D01", "", T0)
    assert parts(queued) == [("0D01", T0, ""), ("0D02", T0, "")]


@override_settings(INBOUND_SMS_SECRET=SECRET)
def test_a_twelve_part_message_is_delivered_by_its_twelve_receipts(alice):
    """Twelve part ids (more than a provider_id column could list) from a real gateway; their
    receipts, in any order, each mark their part, and the last one delivers the message."""
    ids = [f"0E{number:02}-{'x' * 40}" for number in range(1, 13)]
    order = [7, 1, 12, 3, 2, 11, 4, 10, 5, 9, 6, 8]
    with http_gateway() as gateway, override_settings(MESSAGING={"sms": {
            "BACKEND": "kopilka.messaging.backends.http.HttpBackend",
            "OPTIONS": {"url": gateway.url, "preset": "vonage", "sender": "Alice"}}}), \
            time_machine.travel(T0, tick=False) as traveller:
        gateway.answers.append((200, {"message-count": "12", "messages": [
            {"status": "0", "message-id": part} for part in ids]}))
        with scope(merchant=alice.merchant):
            queued = services.queue(alice.merchant, event="one_time_code",
                                    member=alice.member, context={"code": "4821"})
        assert tasks.attempt(queued.pk) == "sent"
        answers, states = [], []
        for number in order:
            traveller.shift(timedelta(seconds=1))
            answers.append(post_json({"messageId": ids[number - 1], "status": "delivered",
                                      "err-code": "0"}).json()["updated"])
            states.append(row(queued)[0])
    assert answers == [True] * 12
    assert states == ["sent"] * 11 + ["delivered"]
    assert row(queued) == ("delivered", ids[0], "", T0 + timedelta(seconds=12))
    assert parts(queued) == [(ids[number - 1], T0 + timedelta(seconds=order.index(number) + 1),
                              "") for number in range(1, 13)]


def test_the_openapi_document_shows_the_three_callback_shapes():
    schema = Client().get("/api/v1/openapi.json").json()
    operation = schema["paths"][URL]["post"]
    content = operation["requestBody"]["content"]
    assert [shape["title"] for shape in content["application/json"]["schema"]["oneOf"]] == [
        "Generic", "Vonage delivery receipt"]
    assert content["application/x-www-form-urlencoded"]["schema"]["required"] == [
        "MessageSid", "MessageStatus"]
    # 409 and 429 are the idempotency and rate-limit middlewares' answers.
    assert sorted(operation["responses"]) == ["200", "400", "401", "409", "422", "429", "503"]
