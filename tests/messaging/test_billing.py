"""SMS billing (MSG-4): the free quota first, then parts x price from the prepaid balance;
held messages when the money is out, one notice to the owners per exhaustion, top-ups that
release them, refunds of failed messages, and no overspending by concurrent workers."""

import threading
from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import connection
from django.test import Client, override_settings
from django_scopes import scope, scopes_disabled

from kopilka.core.actor import Actor
from kopilka.core.errors import InvalidInput
from kopilka.core.models import AuditEntry
from kopilka.messaging import billing, services, sms, tasks
from kopilka.messaging.backends.base import BaseBackend, DeliveryError, Outgoing, Refused, Sent
from kopilka.messaging.models import Message, SmsAccount, SmsEntry
from kopilka.tenancy.models import Merchant, Staff
from tests.cli_tools import english_operator, run  # noqa: F401 (a fixture)
from tests.tenancy.tools import make_staff
from tests.webhooks.tools import run_worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow,
              pytest.mark.usefixtures("sending", "outbox")]

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # 12:00 in Moscow, alice's time zone
PRICE = 250  # 2.50 RUB a part
# A Russian receipt that needs two UCS-2 parts (71-134 characters once filled in).
TWO_PARTS = ("{merchant}: спасибо за покупку! Начислено {points}, на счёте теперь {balance}. "
             "Ждём вас снова!")


class FailingOnce(BaseBackend):
    name = "failing-once"
    calls = 0

    def send(self, message: Outgoing) -> Sent:
        FailingOnce.calls += 1
        if FailingOnce.calls == 1:
            raise DeliveryError("busy")
        return Sent(provider_id="ok")


class Refusing(BaseBackend):
    name = "refusing"

    def send(self, message: Outgoing) -> Sent:
        raise Refused("invalid destination address")


class Down(BaseBackend):
    name = "down"

    def send(self, message: Outgoing) -> Sent:
        raise DeliveryError("gateway down")


def sms_backend(cls):
    backend = {"BACKEND": f"{__name__}.{cls.__name__}"}
    return override_settings(MESSAGING={"sms": backend, "email": backend})


def billing_settings(free=0, price=PRICE):
    return override_settings(SMS_PRICE=price, SMS_FREE_PARTS=free, SMS_CURRENCY="RUB")


def queue(tenant, event="accrual", **overrides):
    arguments = {"event": event, "member": tenant.member,
                 "context": {"points": 2_100, "amount": 150_000, "balance": 10_500}}
    with scope(merchant=tenant.merchant):
        return services.queue(tenant.merchant, **{**arguments, **overrides})


def attempt(message) -> str:
    return tasks.attempt(message.pk)


def top_up(tenant, amount, note="", actor=None):
    with scope(merchant=tenant.merchant):
        return billing.top_up(tenant.merchant, amount, note=note, actor=actor or Actor.cli())


def account(tenant) -> SmsAccount:
    with scope(merchant=tenant.merchant):
        return SmsAccount.objects.get(merchant=tenant.merchant)


def statement(tenant) -> list[tuple]:
    """(kind, amount, free parts, parts, balance after, free parts after), oldest first."""
    with scope(merchant=tenant.merchant):
        return list(SmsEntry.objects.filter(merchant=tenant.merchant).order_by("pk").values_list(
            "kind", "amount", "free_parts", "parts", "balance_after", "free_parts_after"))


def stored(*messages) -> list[tuple]:
    with scopes_disabled():
        rows = {m.pk: m for m in Message.objects.filter(pk__in=[m.pk for m in messages])}
    return [(rows[m.pk].status, rows[m.pk].cost) for m in messages]


def two_part_receipts(tenant):
    with scope(merchant=tenant.merchant):
        services.save_template(tenant.merchant, event="accrual", language="ru", body=TWO_PARTS,
                               actor=Actor.cli())


def in_english(tenant):
    Merchant.objects.filter(pk=tenant.merchant.pk).update(language="en")
    tenant.merchant.language = "en"


def test_the_free_parts_pay_first_then_each_part_costs_the_price(alice):
    two_part_receipts(alice)
    with billing_settings(free=3):
        top_up(alice, 1_000)
        messages = [queue(alice) for _ in range(3)]
        assert [m.parts for m in messages] == [2, 2, 2]
        assert sms.segment(messages[0].body).encoding == "ucs2"
        assert [attempt(m) for m in messages] == ["sent", "sent", "sent"]
    # 2 free; 1 free + 1 paid; 2 paid.
    assert stored(*messages) == [("sent", 0), ("sent", 250), ("sent", 500)]
    assert statement(alice) == [
        ("top_up", 1_000, 0, 0, 1_000, 3),
        ("charge", 0, -2, 2, 1_000, 1),
        ("charge", -250, -1, 2, 750, 0),
        ("charge", -500, 0, 2, 250, 0),
    ]
    row = account(alice)
    assert (row.balance, row.free_parts, row.exhausted_at) == (250, 0, None)


def test_the_first_hundred_parts_are_free_then_paid(alice, outbox):
    two_part_receipts(alice)
    with billing_settings(free=100):
        top_up(alice, 10_000)
        messages = [queue(alice) for _ in range(51)]
        for message in messages:
            attempt(message)
    assert [cost for _status, cost in stored(*messages)] == [0] * 50 + [500]
    row = account(alice)
    assert (row.balance, row.free_parts) == (9_500, 0)
    assert len(outbox) == 51


def test_a_retried_message_is_charged_once(alice):
    FailingOnce.calls = 0
    with billing_settings(), sms_backend(FailingOnce), \
            time_machine.travel(T0, tick=False) as traveller:
        top_up(alice, 1_000)
        message = queue(alice)
        assert attempt(message) == "queued"
        traveller.shift(timedelta(minutes=1))
        assert attempt(message) == "sent"
    assert stored(message) == [("sent", 250)]
    assert [row[0] for row in statement(alice)] == ["top_up", "charge"]
    assert account(alice).balance == 750


def test_when_the_money_is_out_messages_are_held_and_the_owners_told_once(alice, outbox):
    in_english(alice)
    with billing_settings(), time_machine.travel(T0, tick=False):
        top_up(alice, 250)
        first, second, third = (queue(alice, event="birthday", context={"points": 500})
                                for _ in range(3))
        assert [attempt(m) for m in (first, second, third)] == ["sent", "held", "held"]
        assert stored(first, second, third) == [("sent", 250), ("held", 0), ("held", 0)]
        with scopes_disabled():
            assert [m.attempts for m in Message.objects.filter(status="held")] == [0, 0]
        # Held messages are not due: the sweep leaves them alone.
        assert tasks.deliver_due(T0 + timedelta(days=1)) == 0
    assert len(outbox) == 1
    [notice] = mail.outbox
    assert notice.to == ["alice@example.com"]
    assert notice.subject == "Alice Coffee: SMS messages are held, the SMS balance is used up"
    assert notice.body.startswith(
        "The SMS balance of Alice Coffee is used up: RUB0.00, with 0 free SMS parts left and "
        "RUB2.50 per SMS part. Messages held now: 1.\n\n")
    row = account(alice)
    assert (row.balance, row.exhausted_at) == (0, T0)
    with scopes_disabled():
        entries = list(AuditEntry.objects.filter(action="messaging.sms.exhausted"))
    assert [(e.actor_kind, e.data) for e in entries] == [
        ("system", {"balance": 0, "free_parts": 0, "price_per_part": 250,
                    "message": second.pk})]


def test_a_top_up_releases_the_held_messages_and_the_worker_sends_them(alice, outbox):
    with billing_settings(), time_machine.travel(T0, tick=False):
        held = [queue(alice) for _ in range(3)]
        assert [attempt(m) for m in held] == ["held", "held", "held"]
        assert len(mail.outbox) == 1
        done = top_up(alice, 1_000, note="invoice 17")
        assert done.released == 3
        assert stored(*held) == [("queued", 0)] * 3
        run_worker()
    assert stored(*held) == [("sent", 250)] * 3
    assert [m.id for m in outbox] == [m.pk for m in held]
    assert statement(alice) == [
        ("top_up", 1_000, 0, 0, 1_000, 0),
        ("charge", -250, 0, 1, 750, 0),
        ("charge", -250, 0, 1, 500, 0),
        ("charge", -250, 0, 1, 250, 0),
    ]
    assert account(alice).exhausted_at is None
    assert len(mail.outbox) == 1
    with scopes_disabled():
        entry = AuditEntry.objects.get(action="messaging.sms.topped_up")
    assert (entry.actor_kind, entry.data) == ("cli", {
        "amount": 1_000, "currency": "RUB", "balance_after": 1_000, "released": 3,
        "note": "invoice 17"})

    # The next time the money runs out is a new exhaustion: the owners hear of it again.
    with billing_settings(), time_machine.travel(T0 + timedelta(hours=1), tick=False):
        late = [queue(alice) for _ in range(2)]
        assert [attempt(m) for m in late] == ["sent", "held"]
    assert len(mail.outbox) == 2


def test_a_top_up_releases_only_what_it_pays_for_and_the_exhaustion_goes_on(alice):
    with billing_settings(), time_machine.travel(T0, tick=False):
        held = [queue(alice) for _ in range(3)]
        assert [attempt(m) for m in held] == ["held"] * 3
        assert top_up(alice, 500).released == 2
        assert stored(*held) == [("queued", 0), ("queued", 0), ("held", 0)]
        assert account(alice).exhausted_at == T0
        assert [attempt(m) for m in held[:2]] == ["sent", "sent"]
    assert account(alice).balance == 0
    assert len(mail.outbox) == 1  # still the same exhaustion


def test_released_marketing_messages_wait_for_the_end_of_the_quiet_hours(alice):
    with billing_settings(), time_machine.travel(T0, tick=False) as traveller:
        receipt = queue(alice)
        greeting = queue(alice, event="birthday", context={"points": 500})
        assert [attempt(receipt), attempt(greeting)] == ["held", "held"]
        with scope(merchant=alice.merchant):
            services.save_settings(alice.merchant, transactional="all", quiet_from=time(21),
                                   quiet_to=time(9), actor=Actor.cli())
        traveller.move_to(datetime(2026, 11, 23, 19, 30, tzinfo=UTC))  # 22:30 in Moscow
        assert top_up(alice, 1_000).released == 2
    with scopes_disabled():
        due = dict(Message.objects.filter(pk__in=[receipt.pk, greeting.pk])
                   .values_list("event", "next_attempt_at"))
    assert due == {"accrual": datetime(2026, 11, 23, 19, 30, tzinfo=UTC),
                   "birthday": datetime(2026, 11, 24, 6, 0, tzinfo=UTC)}  # 09:00 in Moscow


def test_a_refused_message_gets_its_charge_back(alice):
    two_part_receipts(alice)
    with billing_settings(free=1), sms_backend(Refusing):
        top_up(alice, 1_000)
        message = queue(alice)
        assert attempt(message) == "refused"
    assert stored(message) == [("refused", 0)]
    assert statement(alice) == [
        ("top_up", 1_000, 0, 0, 1_000, 1),
        ("charge", -250, -1, 2, 750, 0),
        ("refund", 250, 1, -2, 1_000, 1),
    ]
    with scope(merchant=alice.merchant):
        assert billing.refund(message) is None  # never twice


def test_a_message_that_fails_every_attempt_gets_its_charge_back(alice):
    with billing_settings(), sms_backend(Down), time_machine.travel(T0, tick=False) as traveller:
        top_up(alice, 1_000)
        message = queue(alice)
        outcomes = []
        for wait in (*tasks.BACKOFF, None):
            outcomes.append(attempt(message))
            if wait:
                traveller.shift(wait)
    assert outcomes == ["queued"] * 4 + ["failed"]
    assert stored(message) == [("failed", 0)]
    assert statement(alice) == [
        ("top_up", 1_000, 0, 0, 1_000, 0),
        ("charge", -250, 0, 1, 750, 0),
        ("refund", 250, 0, -1, 1_000, 0),
    ]


def test_eight_workers_with_money_for_three_messages_send_exactly_three(alice, outbox):
    barrier = threading.Barrier(8)
    outcomes = [None] * 8

    def work(n):
        try:
            barrier.wait()
            outcomes[n] = attempt(messages[n])
        except Exception as error:  # collected and asserted on
            outcomes[n] = repr(error)
        finally:
            connection.close()

    with billing_settings():  # for every thread: settings are the process's
        top_up(alice, 3 * PRICE)
        messages = [queue(alice) for _ in range(8)]
        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert sorted(outcomes) == ["held"] * 5 + ["sent"] * 3, outcomes
    assert len(outbox) == 3
    row = account(alice)
    assert (row.balance, row.free_parts) == (0, 0)
    with scope(merchant=alice.merchant):
        charged = SmsEntry.objects.filter(kind="charge")
        assert sorted(charged.values_list("amount", flat=True)) == [-250] * 3
        assert sorted(charged.values_list("balance_after", flat=True)) == [0, 250, 500]
        assert Message.objects.filter(status="held").count() == 5
    assert len(mail.outbox) == 1


def test_transactional_messages_are_held_by_default_but_codes_go_out_on_credit(alice):
    with billing_settings():
        receipt = queue(alice)
        code = queue(alice, event="one_time_code", context={"code": "4821"})
        assert [attempt(receipt), attempt(code)] == ["held", "sent"]
    assert account(alice).transactional_when_empty == "hold"
    assert account(alice).balance == -250  # the code's part, owed until the next top-up


def test_sent_on_credit_transactional_messages_leave_a_debt_the_next_top_up_pays(alice):
    with billing_settings(), time_machine.travel(T0, tick=False):
        with scope(merchant=alice.merchant):
            billing.save_policy(alice.merchant, transactional_when_empty="send",
                                actor=Actor.cli())
        top_up(alice, 100)
        receipt = queue(alice)
        code = queue(alice, event="one_time_code", context={"code": "4821"})
        greeting = queue(alice, event="birthday", context={"points": 500})
        assert [attempt(m) for m in (receipt, code, greeting)] == ["sent", "sent", "held"]
        assert account(alice).balance == -400
        done = top_up(alice, 1_000)
        assert done.released == 1
        assert attempt(greeting) == "sent"
    assert stored(receipt, code, greeting) == [("sent", 250), ("sent", 250), ("sent", 250)]
    assert [row[4] for row in statement(alice)] == [100, -150, -400, 600, 350]


def test_switching_to_send_releases_held_transactional_messages_not_marketing_ones(alice):
    with billing_settings():
        receipt = queue(alice)
        greeting = queue(alice, event="birthday", context={"points": 500})
        assert [attempt(receipt), attempt(greeting)] == ["held", "held"]
        with scope(merchant=alice.merchant):
            billing.save_policy(alice.merchant, transactional_when_empty="send",
                                actor=Actor.cli())
        assert stored(receipt, greeting) == [("queued", 0), ("held", 0)]
        assert attempt(receipt) == "sent"
    assert account(alice).balance == -250
    assert account(alice).exhausted_at is not None  # the birthday greeting still waits


def test_email_costs_nothing(alice, outbox):
    with billing_settings():
        message = queue(alice, event="one_time_code", channel="email",
                        recipient="anna@example.com", context={"code": "4821"})
        assert attempt(message) == "sent"
    assert stored(message) == [("sent", 0)]
    assert statement(alice) == []


def test_a_zero_price_sends_free_and_keeps_the_free_parts(alice):
    with billing_settings(free=100, price=0):
        message = queue(alice)
        assert attempt(message) == "sent"
    assert statement(alice) == [("charge", 0, 0, 1, 0, 100)]


def test_a_merchant_price_overrides_the_platform_price(alice):
    with billing_settings():
        with scope(merchant=alice.merchant):
            billing.save_price(alice.merchant, 100, actor=Actor.cli())
        top_up(alice, 1_000)
        message = queue(alice)
        attempt(message)
    assert stored(message) == [("sent", 100)]


def test_only_active_owners_with_an_address_are_told(alice):
    second = make_staff(alice.merchant, "co-owner@example.com", "owner")
    gone = make_staff(alice.merchant, "former@example.com", "owner")
    make_staff(alice.merchant, "admin@example.com", "admin")
    with scope(merchant=alice.merchant):
        Staff.objects.filter(pk=gone.pk).update(active=False)
    mail.outbox.clear()  # the three invitations
    with billing_settings():
        assert attempt(queue(alice)) == "held"
    [notice] = mail.outbox
    assert notice.to == ["alice@example.com", "co-owner@example.com"]
    assert second.role == "owner"


@pytest.mark.parametrize("amount", [0, -5, True, 10**12 + 1])
def test_a_top_up_must_be_a_positive_whole_amount(alice, amount):
    with pytest.raises(InvalidInput) as error:
        top_up(alice, amount)
    assert error.value.field == "amount"
    with scope(merchant=alice.merchant):
        assert not SmsEntry.objects.exists()


# --- the operator's top-up: CLI and admin ------------------------------------------------




@pytest.mark.usefixtures("english_operator")
def test_the_cli_tops_up_and_releases_held_messages(alice, capsys):
    with billing_settings():
        held = queue(alice)
        assert attempt(held) == "held"
        code, out, err = run(["sms-topup", alice.merchant.slug, "150000", "--note", "inv 1"],
                             capsys)
    assert (code, err) == (0, "")
    assert out == (f"Merchant: {alice.merchant.slug}\n"
                   "Topped up: 150000 (1500.00 RUB)\n"
                   "Balance:  150000 (1500.00 RUB); free parts left: 0\n"
                   "Released: 1 held messages\n")
    assert stored(held) == [("queued", 0)]
    assert statement(alice) == [("top_up", 150_000, 0, 0, 150_000, 0)]
    with scope(merchant=alice.merchant):
        entry = SmsEntry.objects.get()
    assert (entry.actor, entry.reference) == ("cli", "inv 1")
    with scopes_disabled():
        assert AuditEntry.objects.filter(action="messaging.sms.topped_up",
                                         actor_kind="cli").count() == 1


@pytest.mark.usefixtures("english_operator")
@pytest.mark.parametrize(("argv", "exit_code", "message"), [
    (["coffee", "15.50"], 2, "AMOUNT '15.50' is not a whole number of minor units "
                             "(e.g. 150000 for 1500.00)"),
    (["coffee", "lots"], 2, "AMOUNT 'lots' is not a whole number"),
    (["coffee", "0"], 1, "kopilka: error: Must be a whole number from 1 to 1000000000000 "
                         "(minor units). (amount)"),
    (["coffee", "-500"], 1, "Must be a whole number from 1 to 1000000000000"),
    (["no-such-shop", "500"], 1, "kopilka: error: No merchant with slug 'no-such-shop'. "
                                 "(merchant)"),
    (["coffee"], 2, "the following arguments are required: AMOUNT"),
])
def test_the_cli_refuses_bad_input_with_one_line_and_a_non_zero_exit(alice, capsys, argv,
                                                                     exit_code, message):
    Merchant.objects.filter(pk=alice.merchant.pk).update(slug="coffee")
    code, out, err = run(["sms-topup", *argv], capsys)
    assert code == exit_code
    assert message in err
    assert out == ""
    with scopes_disabled():
        assert not SmsEntry.objects.exists()


@billing_settings(free=100)
def test_the_operator_tops_up_in_the_admin(alice):
    operator = get_user_model().objects.create_superuser("op", "op@example.com",
                                                         "a-long-password-1")
    client = Client(headers={"Accept-Language": "en"})
    client.force_login(operator)
    page = client.get("/admin/messaging/smsaccount/top-up/")
    assert page.status_code == 200
    assert b"Top up an SMS balance" in page.content
    refused = client.post("/admin/messaging/smsaccount/top-up/",
                          {"merchant": alice.merchant.pk, "amount": "0"})
    assert refused.status_code == 200  # the form again, with the error
    done = client.post("/admin/messaging/smsaccount/top-up/",
                       {"merchant": alice.merchant.pk, "amount": "50000", "note": "wire 9"})
    assert done.status_code == 302
    assert statement(alice) == [("top_up", 50_000, 0, 0, 50_000, 100)]
    with scopes_disabled():
        entry = AuditEntry.objects.get(action="messaging.sms.topped_up")
        assert (entry.actor_kind, entry.actor_label) == ("staff", "admin:op")
    listed = client.get("/admin/messaging/smsaccount/")
    assert b'href="/admin/messaging/smsaccount/top-up/"' in listed.content
    assert client.get("/admin/messaging/smsentry/").status_code == 200
    # The price override is set on the account's page, through billing (audited).
    changed = client.post(f"/admin/messaging/smsaccount/{alice.merchant.pk}/change/",
                          {"price_per_part": "120"})
    assert changed.status_code == 302
    assert account(alice).price_per_part == 120
    with scopes_disabled():
        assert AuditEntry.objects.get(action="messaging.sms.price_saved").data == {
            "price_per_part": 120, "before": None, "released": 0}
