"""One-time codes as a service: the SMS with the exact text, one use, five wrong tries, five
minutes, replacement by a new code, limits per phone, terminal and address, and the code kept
only as a keyed hash."""

import hashlib
import re
from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine
from django.db import transaction
from django.test import override_settings
from django.utils import translation
from django_scopes import scope

from kopilka.codes import services as codes
from kopilka.codes.conf import code_settings, parse_limits
from kopilka.codes.models import OneTimeCode, Purpose
from kopilka.core.actor import Actor
from kopilka.core.errors import Conflict, InvalidInput
from kopilka.messaging import optout, tasks
from kopilka.messaging import services as messaging
from kopilka.messaging.models import Message

pytestmark = pytest.mark.django_db

ACTOR = Actor.cli()
PHONE = "+79995550001"
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # 12:00 in Moscow


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def send(shop, phone=PHONE, purpose=Purpose.REGISTRATION, **who) -> codes.Issued:
    return codes.request_code(shop.merchant, purpose=purpose, actor=ACTOR,
                              phone=None if "member" in who else phone, **who)


def delivered_code(outbox) -> str:
    """Send what is queued, and read the code from the last SMS, as the customer does."""
    tasks.deliver_due()
    return re.fullmatch(r"Alice Coffee: код (\d{6})\. Никому его не сообщайте\.",
                        outbox[-1].body)[1]


def check(shop, code, phone=PHONE, purpose=Purpose.REGISTRATION):
    return codes.check(shop.merchant, phone=phone, purpose=purpose, code=code)


def refusal(call) -> str:
    with pytest.raises(InvalidInput) as error:
        call()
    assert error.value.field == "code"
    return error.value.detail


def wrong(code: str) -> str:
    return str((int(code) + 1) % 1_000_000).zfill(6)


def test_code_goes_out_at_once_as_the_one_time_code_sms(shop, outbox):
    with time_machine.travel(T0, tick=False):
        issued = send(shop)
    assert (issued.resend_after, issued.code.attempts_left) == (60, 5)
    assert issued.code.expires_at == T0 + timedelta(minutes=5)
    message = Message.objects.get(event="one_time_code")
    assert (message.recipient, message.member, message.next_attempt_at) == (PHONE, None, T0)
    code = delivered_code(outbox)
    assert [(sms.recipient, sms.body) for sms in outbox] == [
        (PHONE, f"Alice Coffee: код {code}. Никому его не сообщайте.")]
    assert issued.code.message == message
    with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
        assert check(shop, code) == issued.code


def test_code_is_stored_only_as_a_keyed_hash(shop, outbox):
    row = send(shop).code
    code = delivered_code(outbox)
    row.refresh_from_db()
    stored = [str(getattr(row, field.attname)) for field in OneTimeCode._meta.concrete_fields]
    assert not any(code in value for value in stored)
    sms = Message.objects.get(event="one_time_code")
    assert (sms.status, sms.body) == ("sent", "[one-time code]")  # scrubbed once sent
    assert row.code_hash == codes.digest(shop.merchant.pk, PHONE, "registration", code)
    assert row.code_hash != hashlib.sha256(code.encode()).hexdigest()  # keyed, not plain
    with override_settings(SECRET_KEY="another installation's secret"):
        assert row.code_hash != codes.digest(shop.merchant.pk, PHONE, "registration", code)


def test_right_code_works_once(shop, outbox):
    send(shop)
    code = delivered_code(outbox)
    row = check(shop, code)
    codes.consume(row)
    assert row.used_at is not None
    assert refusal(lambda: check(shop, code)) == (
        "No code is waiting for this phone number: it was used, replaced or never requested. "
        "Request a new code.")
    assert refusal(lambda: codes.consume(row)) == (
        "This code has just been used or replaced. Request a new code.")


def test_five_wrong_codes_and_the_code_is_dead(shop, outbox):
    send(shop)
    code = delivered_code(outbox)
    answers = [refusal(lambda: check(shop, wrong(code))) for _ in range(5)]
    assert answers == ["Wrong code. 4 attempts left.", "Wrong code. 3 attempts left.",
                       "Wrong code. 2 attempts left.", "Wrong code. 1 attempt left.",
                       "Wrong code, and no attempts are left. Request a new code."]
    assert refusal(lambda: check(shop, code)) == (
        "Too many wrong attempts: this code no longer works. Request a new code.")
    assert OneTimeCode.objects.get().attempts_left == 0


def test_a_wrong_attempt_counts_even_when_the_callers_transaction_rolls_back(shop, outbox):
    send(shop)
    code = delivered_code(outbox)
    refusal(lambda: check(shop, wrong(code)))  # outside: costs one attempt
    with pytest.raises(InvalidInput), transaction.atomic():
        check(shop, wrong(code))  # inside a transaction that the error rolls back
    # Only the in-transaction attempt is lost: callers check before their own transaction.
    assert OneTimeCode.objects.get().attempts_left == 4


def test_code_expires_after_five_minutes(shop, outbox):
    with time_machine.travel(T0, tick=False):
        send(shop)
    code = delivered_code(outbox)
    with time_machine.travel(T0 + timedelta(minutes=4, seconds=59), tick=False):
        assert check(shop, code).purpose == "registration"
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        assert refusal(lambda: check(shop, code)) == (
            "This code has expired. Request a new code.")


def test_a_new_code_replaces_the_previous_one(shop, outbox):
    with time_machine.travel(T0, tick=False):
        first = send(shop).code
        old = delivered_code(outbox)
    with time_machine.travel(T0 + timedelta(seconds=60), tick=False):
        second = send(shop).code
        new = delivered_code(outbox)
        if old != new:  # one time in a million they are the same
            assert refusal(lambda: check(shop, old)) == "Wrong code. 4 attempts left."
        assert check(shop, new) == second
    first.refresh_from_db()
    assert first.replaced_at == T0 + timedelta(seconds=60)
    assert second.replaced_at is None


def test_codes_are_per_purpose(shop, outbox):
    member = shop.join(phone=PHONE)
    send(shop, purpose=Purpose.SPENDING, member=member)
    code = delivered_code(outbox)
    assert refusal(lambda: check(shop, code, purpose=Purpose.REGISTRATION)).startswith(
        "No code is waiting")
    assert check(shop, code, purpose=Purpose.SPENDING).member == member


@pytest.mark.parametrize(("typed", "detail"), [
    (None, "Enter the one-time code sent to the customer's phone."),
    ("  ", "Enter the one-time code sent to the customer's phone."),
    ("12a456", "A code is made of digits only."),
    ("１２３４５６", "A code is made of digits only."),  # full-width digits are not ASCII
])
def test_missing_or_malformed_code_costs_no_attempt(shop, outbox, typed, detail):
    send(shop)
    assert refusal(lambda: check(shop, typed)) == detail
    assert OneTimeCode.objects.get().attempts_left == 5


# --- who gets codes --------------------------------------------------------------------------


def test_opted_out_member_still_gets_the_code_they_asked_for(shop, outbox):
    member = shop.join(phone=PHONE)
    optout.stop(PHONE, "STOP", actor=ACTOR)
    assert not messaging.may_send(shop.merchant, member, "registration")
    send(shop, purpose=Purpose.SPENDING, member=member)
    code = delivered_code(outbox)
    assert outbox[-1].body == f"Alice Coffee: код {code}. Никому его не сообщайте."
    assert Message.objects.get(event="one_time_code").member == member


def test_code_goes_out_in_the_quiet_hours(shop, outbox):
    messaging.save_settings(shop.merchant, transactional="off", quiet_from=time(21),
                            quiet_to=time(9), actor=ACTOR)
    night = datetime(2026, 11, 23, 20, 0, tzinfo=UTC)  # 23:00 in Moscow
    with time_machine.travel(night, tick=False):
        send(shop)
        assert tasks.deliver_due() == 1
    assert len(outbox) == 1
    assert Message.objects.get().next_attempt_at == night


def test_no_code_when_the_merchant_switched_code_messages_off(shop, outbox):
    messaging.save_template(shop.merchant, event="one_time_code", language="ru",
                            enabled=False, actor=ACTOR)
    with pytest.raises(Conflict) as error:
        send(shop)
    assert error.value.detail == (
        "This merchant has switched off one-time code messages, so no code can be sent.")
    assert not OneTimeCode.objects.exists()
    assert not Message.objects.exists()


def test_registration_code_for_a_registered_phone_is_refused(shop, outbox):
    shop.join(phone=PHONE)
    with pytest.raises(Conflict) as error:
        send(shop, phone="8 999 555-00-01")
    assert (error.value.field, error.value.detail) == (
        "phone", "This phone number is already registered.")
    assert not OneTimeCode.objects.exists()


def test_spending_code_goes_to_an_active_member_only(shop, outbox):
    member = shop.join(phone=PHONE)
    with pytest.raises(InvalidInput) as error:
        send(shop, purpose=Purpose.SPENDING)  # a phone, no member
    assert error.value.field == "member"
    member.status = member.Status.BLOCKED
    member.save(update_fields=["status"])
    with pytest.raises(Conflict) as error:
        send(shop, purpose=Purpose.SPENDING, member=member)
    assert error.value.field == "member"
    assert not OneTimeCode.objects.exists()


@pytest.mark.parametrize(("phone", "purpose", "field"), [
    ("12", "registration", "phone"),
    (PHONE, "login", "purpose"),  # not a purpose (yet)
])
def test_bad_request_names_the_field(shop, phone, purpose, field):
    with pytest.raises(InvalidInput) as error:
        send(shop, phone=phone, purpose=purpose)
    assert error.value.field == field


# --- limits ----------------------------------------------------------------------------------


def refused(call) -> codes.RateLimited:
    with pytest.raises(codes.RateLimited) as error:
        call()
    assert error.value.status == 429
    return error.value


def test_one_code_per_phone_a_minute_and_five_an_hour(shop, outbox):
    for n in range(5):
        with time_machine.travel(T0 + timedelta(minutes=n), tick=False):
            resend = send(shop).resend_after
            assert resend == (60 if n < 4 else 3600 - 4 * 60)
            too_soon = refused(lambda: send(shop))
            assert (too_soon.retry_after, too_soon.field) == (resend, "phone")
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        full = refused(lambda: send(shop))
    assert full.retry_after == 3300  # the first code leaves the hour at T0 + 60 min
    assert full.detail == (
        "Too many codes for this phone number: try again in 3300 seconds.")
    with time_machine.travel(T0 + timedelta(minutes=59, seconds=59), tick=False):
        assert refused(lambda: send(shop)).retry_after == 1
    with time_machine.travel(T0 + timedelta(minutes=60), tick=False):
        assert send(shop).resend_after == 60
    assert OneTimeCode.objects.count() == 6
    assert Message.objects.count() == 6  # refused requests send nothing


def test_phone_limit_is_per_merchant(shop, bob, outbox):
    send(shop)
    with scope(merchant=bob.merchant):
        codes.request_code(bob.merchant, purpose=Purpose.REGISTRATION, actor=ACTOR,
                           phone=PHONE)
    assert refused(lambda: send(shop)).retry_after == 60


@override_settings(ONE_TIME_CODES={**code_settings({}),
                                   "CLIENT_LIMITS": parse_limits("x", "3/3600")})
def test_codes_per_terminal_are_limited(shop, outbox):
    terminal = shop.tenant.terminal
    for n in range(3):
        with time_machine.travel(T0 + timedelta(minutes=n), tick=False):
            send(shop, phone=f"+7999555000{n}", terminal=terminal)
    with time_machine.travel(T0 + timedelta(minutes=10), tick=False):
        error = refused(lambda: send(shop, phone="+79995550009", terminal=terminal))
        assert (error.retry_after, error.field) == (3000, None)
        assert error.detail == (
            "Too many codes requested from this terminal: try again in 3000 seconds.")
        send(shop, phone="+79995550009")  # the limit is the terminal's, not the merchant's


@override_settings(ONE_TIME_CODES={**code_settings({}),
                                   "CLIENT_LIMITS": parse_limits("x", "2/3600")})
def test_codes_per_address_are_limited_across_merchants(shop, bob, outbox):
    with time_machine.travel(T0, tick=False):
        send(shop, ip="192.0.2.7")
        with scope(merchant=bob.merchant):
            codes.request_code(bob.merchant, purpose=Purpose.REGISTRATION, actor=ACTOR,
                               phone=PHONE, ip="192.0.2.7")
    with time_machine.travel(T0 + timedelta(seconds=90), tick=False):
        error = refused(lambda: send(shop, phone="+79995550002", ip="192.0.2.7"))
        assert (error.retry_after, error.field) == (3510, None)
        assert error.detail == (
            "Too many codes requested from this address: try again in 3510 seconds.")
        send(shop, phone="+79995550002", ip="192.0.2.8")


def test_limits_wait_for_the_nth_newest_code():
    now = T0
    times = [now - timedelta(seconds=s) for s in (10, 100, 1000)]  # newest first
    assert codes.wait(times, ((1, 60),), now) == 50
    assert codes.wait(times, ((3, 3600),), now) == 2600
    assert codes.wait(times, ((4, 3600),), now) == 0
    assert codes.wait(times, ((1, 60), (3, 3600)), now) == 2600
    assert codes.wait(times, (), now) == 0


@pytest.mark.parametrize(("env", "message"), [
    ({"KOPILKA_CODE_DIGITS": "3"}, "KOPILKA_CODE_DIGITS must be a whole number from 4 to 8"),
    ({"KOPILKA_CODE_TTL": "five"}, "KOPILKA_CODE_TTL must be a whole number from 30 to 3600"),
    ({"KOPILKA_CODE_LIMIT_PHONE": "1/0"}, "KOPILKA_CODE_LIMIT_PHONE must be"),
    ({"KOPILKA_CODE_LIMIT_CLIENT": "30 per hour"}, "KOPILKA_CODE_LIMIT_CLIENT must be"),
])
def test_bad_settings_stop_the_start(env, message):
    from django.core.exceptions import ImproperlyConfigured
    with pytest.raises(ImproperlyConfigured, match=message):
        code_settings(env)


def test_settings_from_the_environment():
    assert code_settings({}) == {"DIGITS": 6, "TTL": 300, "ATTEMPTS": 5,
                                 "PHONE_LIMITS": ((1, 60), (5, 3600)),
                                 "CLIENT_LIMITS": ((30, 3600),)}
    assert code_settings({"KOPILKA_CODE_DIGITS": "4", "KOPILKA_CODE_LIMIT_PHONE": "0",
                          "KOPILKA_CODE_LIMIT_CLIENT": "100/86400, 10/60"}) == {
        "DIGITS": 4, "TTL": 300, "ATTEMPTS": 5, "PHONE_LIMITS": (),
        "CLIENT_LIMITS": ((10, 60), (100, 86400))}
