"""One-time codes over the POS API: POST /pos/codes (202, never the code), 429 with
Retry-After, registration with a code, spending confirmed by a code at quote and commit, and
the code in no answer and no log line."""

import logging
import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import override_settings
from django_scopes import scopes_disabled

from kopilka.codes.conf import code_settings, parse_limits
from kopilka.codes.models import OneTimeCode
from kopilka.members.models import Consent, Person
from kopilka.messaging import tasks
from kopilka.processing.models import Purchase

pytestmark = pytest.mark.django_db

PHONE = "+79995550001"
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def post(client, url, body, **headers):
    return client.post(url, body, content_type="application/json", headers=headers)


def sms_code(outbox) -> str:
    with scopes_disabled():
        tasks.deliver_due()
    return re.fullmatch(r"Alice Coffee: код (\d{6})\. Никому его не сообщайте\.",
                        outbox[-1].body)[1]


def other_than(code: str) -> str:
    return str((int(code) + 1) % 1_000_000).zfill(6)


def field_errors(response) -> list[tuple[str, str]]:
    assert response["Content-Type"] == "application/problem+json"
    return [(error["field"], error["message"]) for error in response.json().get("errors", [])]


def live_code() -> OneTimeCode:
    with scopes_disabled():
        return OneTimeCode.objects.get(used_at=None, replaced_at=None)


@pytest.fixture
def pos(shop):
    shop.program(welcome_bonus=1_000, redeem_requires_code=True)
    shop.join(phone=PHONE)
    return shop.tenant.pos()


def sale(**extra):
    return {"member": {"phone": PHONE}, "lines": [{"line_id": "1", "amount": 10_000}],
            **extra}


# --- sending ---------------------------------------------------------------------------------


def test_code_request_answers_202_without_the_code(pos, outbox):
    with time_machine.travel(T0, tick=False):
        response = post(pos, "/api/v1/pos/codes", {"purpose": "registration",
                                                    "phone": "8 916 555-44-33"})
    assert response.status_code == 202, response.json()
    assert response.json() == {
        "purpose": "registration", "phone": "+7916***4433",
        "expires_at": "2026-11-23T09:05:00Z", "resend_after": 60, "attempts": 5, "length": 6,
    }
    code = sms_code(outbox)
    assert outbox[-1].recipient == "+79165554433"
    assert code not in response.content.decode()
    row = live_code()
    assert (row.terminal, row.ip, row.member) == (pos_terminal(pos), "127.0.0.1", None)


def pos_terminal(client):
    from kopilka.tenancy.models import Terminal

    with scopes_disabled():
        return Terminal.objects.get()


@pytest.mark.parametrize("member", [{"phone": PHONE}, "card", "id"])
def test_spending_code_goes_to_the_member_named(pos, shop, outbox, member):
    joined = shop.join(phone="+79995550002")
    body = {"purpose": "spending"}
    if member == "card":
        body["member"] = {"card": joined.cards.get().number}
    elif member == "id":
        body["member"] = {"id": joined.pk}
    else:
        body["phone"] = "+79995550002"
    response = post(pos, "/api/v1/pos/codes", body)
    assert response.status_code == 202, response.json()
    assert response.json()["phone"] == "+7999***0002"
    sms_code(outbox)
    assert outbox[-1].recipient == "+79995550002"
    assert live_code().member == joined


@pytest.mark.parametrize(("body", "status", "field"), [
    ({"purpose": "registration"}, 422, "phone"),  # neither
    ({"purpose": "registration", "phone": PHONE, "member": {"id": 1}}, 422, "member"),  # both
    ({"purpose": "registration", "member": {"phone": PHONE}}, 422, "member"),
    ({"purpose": "login", "phone": PHONE}, 422, "purpose"),
    ({"purpose": "registration", "phone": "12"}, 422, "phone"),
    ({"purpose": "registration", "phone": PHONE}, 409, "phone"),  # already a member
    ({"purpose": "spending", "phone": "+79995550009"}, 404, None),  # not a member
    ({"purpose": "spending", "phone": PHONE, "code": "1"}, 422, "code"),  # unknown field
])
def test_bad_code_requests_are_refused_naming_the_field(pos, outbox, body, status, field):
    response = post(pos, "/api/v1/pos/codes", body)
    assert response.status_code == status, response.json()
    assert response["Content-Type"] == "application/problem+json"
    if field is not None:
        assert field in [name for name, _message in field_errors(response)]
    with scopes_disabled():
        assert not OneTimeCode.objects.exists()


def test_second_code_within_a_minute_is_429_with_retry_after(pos, outbox):
    with time_machine.travel(T0, tick=False):
        assert post(pos, "/api/v1/pos/codes", {"purpose": "spending",
                                               "phone": PHONE}).status_code == 202
    with time_machine.travel(T0 + timedelta(seconds=45), tick=False):
        again = post(pos, "/api/v1/pos/codes", {"purpose": "spending", "phone": PHONE})
    assert again.status_code == 429
    assert again["Retry-After"] == "15"
    assert again.json() == {
        "type": "/problems/rate-limited", "title": "Too many requests.", "status": 429,
        "detail": "Too many codes for this phone number: try again in 15 seconds.",
        "errors": [{"field": "phone",
                    "message": "Too many codes for this phone number: try again in 15 seconds."}],
    }
    with time_machine.travel(T0 + timedelta(seconds=60), tick=False):
        assert post(pos, "/api/v1/pos/codes", {"purpose": "spending",
                                               "phone": PHONE}).status_code == 202
    assert len(outbox) == 0  # not delivered yet: two codes queued, the 429 queued nothing
    with scopes_disabled():
        assert OneTimeCode.objects.count() == 2


@override_settings(ONE_TIME_CODES={**code_settings({}),
                                   "CLIENT_LIMITS": parse_limits("x", "2/3600")})
def test_codes_per_terminal_429_in_the_requested_language(pos, shop, outbox):
    with time_machine.travel(T0, tick=False):
        for phone in ("+79995550002", "+79995550003"):
            assert post(pos, "/api/v1/pos/codes", {"purpose": "registration",
                                                   "phone": phone}).status_code == 202
    with time_machine.travel(T0 + timedelta(minutes=30), tick=False):
        refused = post(shop.tenant.pos("ru"), "/api/v1/pos/codes",
                       {"purpose": "registration", "phone": "+79995550004"})
    assert refused.status_code == 429
    assert refused["Retry-After"] == "1800"
    assert refused.json()["type"] == "/problems/rate-limited"
    assert "errors" not in refused.json()  # no field of the request is to blame


def test_openapi_documents_the_code_operation(client):
    schema = client.get("/api/v1/openapi.json").json()
    operation = schema["paths"]["/api/v1/pos/codes"]["post"]
    assert {"202", "422", "429"} <= set(operation["responses"])
    assert "Retry-After" in operation["responses"]["429"]["headers"]
    quote = schema["components"]["schemas"]["QuoteOut"]
    assert "code_required" in quote["required"]


# --- registration ----------------------------------------------------------------------------


def test_registration_with_the_code_verifies_the_phone(pos, outbox):
    post(pos, "/api/v1/pos/codes", {"purpose": "registration", "phone": "+79995550002"})
    code = sms_code(outbox)
    with time_machine.travel(T0, tick=False):
        response = post(pos, "/api/v1/pos/members", {
            "phone": "8 999 555-00-02", "code": code,
            "consents": [{"kind": "personal_data", "text_version": "2026-01"}],
        })
    assert response.status_code == 201, response.json()
    assert response.json()["available"] == 1_000
    with scopes_disabled():
        assert Person.objects.get(phone="+79995550002").verified_at == T0
        consent = Consent.objects.get(member_id=response.json()["id"])
    assert (consent.kind, consent.evidence, consent.one_time_code_id) == (
        "personal_data", "one_time_code", live_code_or_used().pk)


def live_code_or_used() -> OneTimeCode:
    with scopes_disabled():
        return OneTimeCode.objects.get()


def test_registration_with_a_wrong_code_is_422_and_registers_nobody(pos, outbox):
    post(pos, "/api/v1/pos/codes", {"purpose": "registration", "phone": "+79995550002"})
    code = sms_code(outbox)
    response = post(pos, "/api/v1/pos/members", {"phone": "+79995550002",
                                                 "code": other_than(code)})
    assert response.status_code == 422
    assert field_errors(response) == [("code", "Wrong code. 4 attempts left.")]
    with scopes_disabled():
        assert not Person.objects.filter(phone="+79995550002").exists()
    ok = post(pos, "/api/v1/pos/members", {"phone": "+79995550002", "code": code})
    assert ok.status_code == 201, ok.json()


# --- spending --------------------------------------------------------------------------------


def spending_code(pos, outbox) -> str:
    response = post(pos, "/api/v1/pos/codes", {"purpose": "spending",
                                               "member": {"phone": PHONE}})
    assert response.status_code == 202, response.json()
    return sms_code(outbox)


def test_purchase_spending_points_without_the_code_is_422(pos, outbox):
    response = post(pos, "/api/v1/pos/purchases", sale(receipt_id="A-1", points_to_spend=100))
    assert response.status_code == 422
    assert field_errors(response) == [
        ("code", "Enter the one-time code sent to the customer's phone.")]
    accrual_only = post(pos, "/api/v1/pos/purchases", sale(receipt_id="A-2"))
    assert accrual_only.status_code == 201
    assert accrual_only.json()["available"] == 1_000 + 500


def test_quote_says_a_code_is_needed_and_does_not_use_it(pos, outbox):
    plain = post(pos, "/api/v1/pos/quote", sale())
    assert plain.json()["code_required"] is False
    asked = post(pos, "/api/v1/pos/quote", sale(points_to_spend=100))
    assert asked.status_code == 200, asked.json()
    assert (asked.json()["code_required"], asked.json()["points_spent"]) == (True, 100)
    code = spending_code(pos, outbox)
    checked = post(pos, "/api/v1/pos/quote", sale(points_to_spend=100, code=code))
    assert checked.status_code == 200, checked.json()
    wrong = post(pos, "/api/v1/pos/quote", sale(points_to_spend=100, code=other_than(code)))
    assert field_errors(wrong) == [("code", "Wrong code. 4 attempts left.")]
    assert live_code().used_at is None
    committed = post(pos, "/api/v1/pos/purchases",
                     sale(receipt_id="A-1", points_to_spend=100, code=code))
    assert committed.status_code == 201, committed.json()


def test_spending_with_the_code_then_replay_without_it(pos, outbox):
    code = spending_code(pos, outbox)
    first = post(pos, "/api/v1/pos/purchases", sale(receipt_id="A-1", points_to_spend=100,
                                                    code=code))
    assert first.status_code == 201, first.json()
    body = first.json()
    assert (body["points_spent"], body["points_accrued"], body["available"]) == (100, 495,
                                                                                1_395)
    replay = post(pos, "/api/v1/pos/purchases", sale(receipt_id="A-1", points_to_spend=100))
    assert replay.status_code == 200
    assert replay.json() == {**body, "replayed": True}
    reused = post(pos, "/api/v1/pos/purchases", sale(receipt_id="A-2", points_to_spend=100,
                                                     code=code))
    assert reused.status_code == 422
    assert field_errors(reused)[0][0] == "code"
    with scopes_disabled():
        assert Purchase.objects.count() == 1


def test_wrong_codes_exhaust_the_code_even_with_idempotency_keys(pos, outbox):
    code = spending_code(pos, outbox)
    answers = []
    for n in range(5):
        response = post(pos, "/api/v1/pos/purchases",
                        sale(receipt_id="A-1", points_to_spend=100, code=other_than(code)),
                        **{"Idempotency-Key": f"try-{n}"})
        answers.append((response.status_code, field_errors(response)[0][1]))
    assert answers[3:] == [(422, "Wrong code. 1 attempt left."),
                           (422, "Wrong code, and no attempts are left. Request a new code.")]
    right = post(pos, "/api/v1/pos/purchases", sale(receipt_id="A-1", points_to_spend=100,
                                                    code=code))
    assert field_errors(right) == [
        ("code", "Too many wrong attempts: this code no longer works. Request a new code.")]
    with scopes_disabled():
        assert not Purchase.objects.exists()


def test_the_code_is_in_no_answer_and_no_log(pos, shop, outbox, caplog):
    caplog.set_level(logging.DEBUG)
    answers = [post(pos, "/api/v1/pos/codes", {"purpose": "spending", "phone": PHONE})]
    code = sms_code(outbox)
    answers += [
        post(pos, "/api/v1/pos/quote", sale(points_to_spend=100, code=code)),
        post(pos, "/api/v1/pos/purchases", sale(receipt_id="A-1", points_to_spend=100,
                                                code=code)),
        post(pos, "/api/v1/pos/purchases", sale(receipt_id="A-2", points_to_spend=100,
                                                code=code)),
        pos.get(f"/api/v1/pos/members/lookup?phone={PHONE.replace('+', '%2B')}"),
        shop.tenant.manage().get("/api/v1/manage/messages"),
        shop.tenant.manage().get("/api/v1/manage/audit"),
    ]
    assert [answer.status_code for answer in answers] == [202, 200, 201, 422, 200, 200, 200]
    for answer in answers:
        assert code not in answer.content.decode(), answer.request["PATH_INFO"]
    assert caplog.records  # the requests were logged at all
    assert code not in caplog.text
