"""What codes confirm: spending points when the program asks for a code (ENG-6), and the phone
and consents at registration (MEM-1) — exact balances, one use per code, nothing burnt by an
operation that is refused."""

import itertools
import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import translation

from kopilka.codes import services as codes
from kopilka.codes.models import OneTimeCode, Purpose
from kopilka.core.actor import Actor
from kopilka.core.errors import Conflict, InvalidInput
from kopilka.core.models import AuditEntry
from kopilka.members.models import Consent, Member, Person
from kopilka.members.services import ConsentGiven
from kopilka.messaging import tasks
from kopilka.processing import services
from kopilka.processing.models import Purchase
from kopilka.programs.engine import BasketLine

pytestmark = pytest.mark.django_db

ACTOR = Actor.cli()
PHONE = "+79995550001"
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
receipts = itertools.count(1)


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def guarded(shop):
    """Alice's program confirms spending with a code; her customer has 1 000 points."""
    shop.program(welcome_bonus=1_000, redeem_requires_code=True)
    return shop


def code_for(shop, outbox, purpose=Purpose.SPENDING, member=None, phone=None) -> str:
    codes.request_code(shop.merchant, purpose=purpose, actor=ACTOR, member=member, phone=phone)
    tasks.deliver_due()
    return re.search(r"код (\d{6})\.", outbox[-1].body)[1]


def buy(shop, member, amount, *, spend=0, code=None, receipt=None):
    sale = services.Sale(lines=(BasketLine(line_id="1", amount=amount),), points_to_spend=spend)
    return services.commit_purchase(shop.merchant, member, sale, source="test", actor=ACTOR,
                                    receipt_id=receipt or f"R{next(receipts)}", code=code)


def refused_on_code(call) -> str:
    with pytest.raises(InvalidInput) as error:
        call()
    assert error.value.field == "code"
    return error.value.detail


def code_row() -> OneTimeCode:
    return OneTimeCode.objects.get()


# --- spending --------------------------------------------------------------------------------


def test_spending_needs_the_code(guarded, outbox):
    member = guarded.join(phone=PHONE)
    assert refused_on_code(lambda: buy(guarded, member, 10_000, spend=100)) == (
        "Enter the one-time code sent to the customer's phone.")
    assert not Purchase.objects.exists()
    assert buy(guarded, member, 10_000).purchase.points_accrued == 500  # accrual needs none
    assert guarded.balance(member) == (1_500, 0)


def test_spending_with_the_code_uses_it_up(guarded, outbox):
    member = guarded.join(phone=PHONE)
    code = code_for(guarded, outbox, member=member)
    with time_machine.travel(T0, tick=False):
        result = buy(guarded, member, 10_000, spend=100, code=code, receipt="C-1")
    assert (result.purchase.points_spent, result.purchase.points_accrued) == (100, 495)
    assert guarded.balance(member) == (1_000 - 100 + 495, 0)
    assert code_row().used_at == T0
    audit = AuditEntry.objects.get(action="processing.purchase.committed")
    assert audit.data["confirmed_by_code"] == code_row().pk
    assert refused_on_code(lambda: buy(guarded, member, 10_000, spend=100, code=code)).startswith(
        "No code is waiting")
    assert guarded.balance(member) == (1_395, 0)


def test_replay_needs_no_code_again(guarded, outbox):
    member = guarded.join(phone=PHONE)
    code = code_for(guarded, outbox, member=member)
    first = buy(guarded, member, 10_000, spend=100, code=code, receipt="C-1")
    again = buy(guarded, member, 10_000, spend=100, receipt="C-1")
    assert (again.replayed, again.purchase.pk) == (True, first.purchase.pk)
    assert guarded.balance(member) == (1_395, 0)


def test_wrong_code_costs_an_attempt_although_the_purchase_is_refused(guarded, outbox):
    member = guarded.join(phone=PHONE)
    code = code_for(guarded, outbox, member=member)
    bad = str((int(code) + 1) % 1_000_000).zfill(6)
    assert refused_on_code(lambda: buy(guarded, member, 10_000, spend=100, code=bad)) == (
        "Wrong code. 4 attempts left.")
    assert code_row().attempts_left == 4
    assert not Purchase.objects.exists()
    assert buy(guarded, member, 10_000, spend=100, code=code).purchase.points_spent == 100


def test_a_refused_purchase_leaves_the_code_valid(guarded, outbox):
    member = guarded.join(phone=PHONE)
    code = code_for(guarded, outbox, member=member)
    with pytest.raises(Conflict) as error:
        buy(guarded, member, 10_000, spend=5_000, code=code)  # more than the balance
    assert error.value.field == "points_to_spend"
    assert code_row().used_at is None
    assert buy(guarded, member, 10_000, spend=1_000, code=code).purchase.points_spent == 1_000
    assert code_row().used_at is not None


def test_a_code_is_the_members_own(guarded, outbox):
    member = guarded.join(phone=PHONE)
    other = guarded.join(phone="+79995550002")
    code = code_for(guarded, outbox, member=member)
    assert refused_on_code(lambda: buy(guarded, other, 10_000, spend=100, code=code)).startswith(
        "No code is waiting")
    registration = code_for(guarded, outbox, purpose=Purpose.REGISTRATION,
                            phone="+79995550003")
    assert refused_on_code(
        lambda: buy(guarded, member, 10_000, spend=100, code=registration)
    ).startswith("Wrong code.")  # the member's live spending code is another one


def test_quote_checks_the_code_without_using_it(guarded, outbox):
    member = guarded.join(phone=PHONE)
    code = code_for(guarded, outbox, member=member)
    sale = services.Sale(lines=(BasketLine(line_id="1", amount=10_000),), points_to_spend=100)
    assert services.quote_purchase(guarded.merchant, member, sale).redeem_requires_code
    assert services.quote_purchase(guarded.merchant, member, sale, code=code).points_spent == 100
    bad = str((int(code) + 1) % 1_000_000).zfill(6)
    assert refused_on_code(
        lambda: services.quote_purchase(guarded.merchant, member, sale, code=bad)
    ) == "Wrong code. 4 attempts left."
    assert code_row().used_at is None
    assert buy(guarded, member, 10_000, spend=100, code=code).purchase.points_spent == 100


def test_programs_without_codes_ignore_them(shop, outbox):
    shop.program(welcome_bonus=1_000)
    member = shop.join(phone=PHONE)
    assert buy(shop, member, 10_000, spend=100, code="000000").purchase.points_spent == 100
    assert not OneTimeCode.objects.exists()


# --- registration ----------------------------------------------------------------------------


def register(shop, code=None, **profile):
    return services.enrol(
        shop.merchant, phone="8 999 555-00-01", actor=ACTOR, channel=Member.Channel.CASHIER,
        consents=[ConsentGiven("personal_data", "2026-01"), ConsentGiven("messages", "v3")],
        code=code, **profile,
    )


def test_registration_with_the_code_verifies_the_phone_and_the_consents(shop, outbox):
    code = code_for(shop, outbox, purpose=Purpose.REGISTRATION, phone=PHONE)
    with time_machine.travel(T0, tick=False):
        member = register(shop, code=code)
    person = Person.objects.get(phone=PHONE)
    assert person.verified_at == T0
    row = code_row()
    assert row.used_at == T0
    assert sorted(Consent.objects.filter(member=member).values_list(
        "kind", "text_version", "channel", "granted_at", "evidence", "one_time_code")) == [
        ("messages", "v3", "cashier", T0, "one_time_code", row.pk),
        ("personal_data", "2026-01", "cashier", T0, "one_time_code", row.pk),
    ]
    audit = AuditEntry.objects.get(action="members.member.registered", object_id=member.pk)
    assert audit.data["phone_verified"] is True


def test_registration_without_a_code_records_no_verification(shop):
    member = register(shop)
    assert Person.objects.get(phone=PHONE).verified_at is None
    assert set(Consent.objects.filter(member=member).values_list("evidence", "one_time_code")) \
        == {("", None)}


def test_registration_with_a_wrong_code_registers_nobody(shop, outbox):
    code = code_for(shop, outbox, purpose=Purpose.REGISTRATION, phone=PHONE)
    bad = str((int(code) + 1) % 1_000_000).zfill(6)
    assert refused_on_code(lambda: register(shop, code=bad)) == "Wrong code. 4 attempts left."
    assert not Member.objects.filter(person__phone=PHONE).exists()
    assert code_row().attempts_left == 4


def test_a_refused_registration_leaves_the_code_valid(shop, outbox):
    code = code_for(shop, outbox, purpose=Purpose.REGISTRATION, phone=PHONE)
    with pytest.raises(InvalidInput) as error:
        register(shop, code=code, email="not an address")
    assert error.value.field == "email"
    assert code_row().used_at is None
    assert register(shop, code=code).person.verified_at is not None


def test_expired_registration_code(shop, outbox):
    with time_machine.travel(T0, tick=False):
        code = code_for(shop, outbox, purpose=Purpose.REGISTRATION, phone=PHONE)
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        assert refused_on_code(lambda: register(shop, code=code)) == (
            "This code has expired. Request a new code.")
