"""SMPP delivery receipts against a real SMSC on loopback (smpp34's server side): the sending
session asks for receipts, the receipts session (`ReceiptListener`, `kopilka smpp-receipts`)
takes them and `receipts.apply` marks the outbox — delivered, failed, or unchanged — once,
for the one message of that provider and id, whichever merchant's it is.

Acknowledgements are read off a tap between the receiver and the SMSC (smpp34 1.5.0's server
cannot report them for a receiver bind; see peers.Smsc.send_receipt)."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
import smpp34
import smpplib.client
import smpplib.smpp
import time_machine
from django.db import connection
from django.test import override_settings
from django_scopes import scope, scopes_disabled

from kopilka import cli
from kopilka.core.actor import Actor
from kopilka.messaging import receipts, services, tasks
from kopilka.messaging.backends.smpp import ReceiptListener, SmppBackend, parse_receipt
from kopilka.messaging.models import Message, MessagePart
from tests.messaging.peers import MESSAGE_STATE, receipt_text, smpp_server, smpp_tap

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow,
              pytest.mark.usefixtures("sending")]

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
DELIVER_SM, DELIVER_SM_RESP, UNBIND, UNBIND_RESP = 0x00000005, 0x80000005, 0x00000006, 0x80000006
BIRTHDAY = "Анна, с днём рождения! Alice Coffee дарит вам подарок: 300 бонусов на месяц!"


@pytest.fixture(autouse=True)
def quick_retries():
    """Receipts that overtake their message are tried again every 0.1 s for 2 s here (not
    every second for a minute), and none is left waiting after its test."""
    grace, every = receipts.later.grace, receipts.later.every
    receipts.later.grace, receipts.later.every = 2, 0.1
    yield
    receipts.later.join(timeout=10)
    receipts.later.grace, receipts.later.every = grace, every


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"not true within {timeout} s: {predicate}")


def backend(port, **options) -> SmppBackend:
    # A short timeout: smpp34's server leaves an unbind unanswered while one of its receipts
    # waits for an acknowledgement it cannot match (see peers.Smsc.send_receipt).
    return SmppBackend("127.0.0.1", port, system_id="kopilka", reconnect_min=0.1,
                       reconnect_max=0.4, timeout=1, **options)


@contextmanager
def sending_to(port, **options):
    options = {"host": "127.0.0.1", "port": port, "system_id": "kopilka", **options}
    with override_settings(MESSAGING={"sms": {
            "BACKEND": "kopilka.messaging.backends.smpp.SmppBackend", "OPTIONS": options}}):
        yield


@contextmanager
def listening(port, **options):
    """The receipts session in a thread, as `kopilka smpp-receipts` runs it."""
    listener = ReceiptListener(backend(port, **options))
    stop = threading.Event()
    thread = threading.Thread(target=listener.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_for(lambda: listener.sessions == 1)
        yield listener
    finally:
        stop.set()
        thread.join(timeout=10)
        assert not thread.is_alive()


def send(alice, event="one_time_code", **context) -> Message:
    with scope(merchant=alice.merchant):
        message = services.queue(alice.merchant, event=event, member=alice.member,
                                 language="en", context=context or {"code": "4821"})
    tasks.attempt(message.pk)
    return row(message.pk)


def row(pk) -> Message:
    with scopes_disabled():
        return Message.objects.get(pk=pk)


def acknowledged(tap, count: int) -> list:
    """The first `count` deliver_sm the SMSC sent through the tap, each paired with the status
    of the deliver_sm_resp that answered it (same sequence number)."""
    def answered():
        sent = tap.find("in", DELIVER_SM)[:count]
        pairs = [(pdu, tap.find("out", DELIVER_SM_RESP, pdu[3])) for pdu in sent]
        if len(pairs) == count and all(answers for _, answers in pairs):
            return [(pdu, answers[0][2]) for pdu, answers in pairs]
        return None
    return wait_for(answered)


def test_a_delivery_receipt_marks_the_message_delivered(alice):
    with smpp_server() as smsc, smpp_tap(smsc.port) as tap, listening(tap.port), \
            sending_to(smsc.port), time_machine.travel(T0, tick=False) as traveller:
        receiver = smsc.receiver()
        message = send(alice)
        assert (message.status, message.provider_id, message.sent_at) == ("sent", "smsc-1", T0)
        assert smsc.submits[0].registered_delivery == 1
        traveller.shift(timedelta(seconds=42))
        smsc.send_receipt("smsc-1", "DELIVRD", session=receiver)
        [(_, status)] = acknowledged(tap, 1)
        message = row(message.pk)
    assert status == 0
    assert (message.status, message.delivered_at, message.error, message.attempts) == (
        "delivered", T0 + timedelta(seconds=42), "", 1)


@pytest.mark.parametrize("tlvs", [True, False], ids=["tlv", "text-only"])
def test_an_undeliverable_receipt_fails_the_message_for_good(alice, tlvs):
    with smpp_server() as smsc, smpp_tap(smsc.port) as tap, listening(tap.port), \
            sending_to(smsc.port), time_machine.travel(T0, tick=False):
        receiver = smsc.receiver()
        message = send(alice)
        smsc.send_receipt("smsc-1", "UNDELIV", "001", tlvs=tlvs, session=receiver)
        acknowledged(tap, 1)
        message = row(message.pk)
        assert (message.status, message.error, message.delivered_at, message.attempts) == (
            "failed", "UNDELIV err:001", None, 1)
        # The provider tried: the outbox does not.
        assert tasks.deliver_due(T0 + timedelta(days=1)) == 0
    assert [len(smsc.submits), row(message.pk).attempts] == [1, 1]


def test_the_same_receipt_twice_changes_nothing(alice):
    before = dict(receipts.counts)
    with smpp_server() as smsc, smpp_tap(smsc.port) as tap, listening(tap.port), \
            sending_to(smsc.port), time_machine.travel(T0, tick=False) as traveller:
        receiver = smsc.receiver()
        message = send(alice)
        smsc.send_receipt("smsc-1", "DELIVRD", session=receiver)
        acknowledged(tap, 1)
        traveller.shift(timedelta(minutes=5))
        smsc.send_receipt("smsc-1", "DELIVRD", session=receiver)
        smsc.send_receipt("smsc-1", "UNDELIV", "099", session=receiver)  # too late: settled
        assert [status for _, status in acknowledged(tap, 3)] == [0, 0, 0]
    message = row(message.pk)
    assert (message.status, message.delivered_at, message.error) == ("delivered", T0, "")
    assert {name: receipts.counts[name] - before.get(name, 0)
            for name in ("updated", "unchanged", "unknown")} == {
        "updated": 1, "unchanged": 2, "unknown": 0}


def test_a_two_part_message_is_delivered_when_both_parts_are(alice):
    with smpp_server() as smsc, smpp_tap(smsc.port) as tap, listening(tap.port), \
            sending_to(smsc.port), time_machine.travel(T0, tick=False) as traveller:
        receiver = smsc.receiver()
        with scope(merchant=alice.merchant):
            services.save_template(alice.merchant, event="birthday", language="en",
                                   body=BIRTHDAY.replace("Анна", "{name}"), actor=Actor.cli())
        message = send(alice, event="birthday", name="Анна")
        assert (message.status, message.parts, message.provider_id) == ("sent", 2, "smsc-1")
        assert parts(message) == [(1, "smpp", "smsc-1", None, ""), (2, "smpp", "smsc-2", None, "")]
        assert [submit.registered_delivery for submit in smsc.submits] == [1, 1]
        smsc.send_receipt("smsc-2", "DELIVRD", session=receiver)  # the second part first
        acknowledged(tap, 1)
        half, half_parts = row(message.pk), parts(message)
        smsc.send_receipt("smsc-2", "DELIVRD", session=receiver)  # again: nothing new
        acknowledged(tap, 2)
        again, again_parts = row(message.pk), parts(message)
        traveller.shift(timedelta(seconds=30))
        smsc.send_receipt("smsc-1", "DELIVRD", session=receiver)
        acknowledged(tap, 3)
        whole = row(message.pk)
    assert (half.status, half.delivered_at) == ("sent", None)
    assert half_parts == again_parts == [(1, "smpp", "smsc-1", None, ""),
                                         (2, "smpp", "smsc-2", T0, "")]
    assert (again.status, again.delivered_at) == ("sent", None)
    assert (whole.status, whole.provider_id, whole.delivered_at) == (
        "delivered", "smsc-1", T0 + timedelta(seconds=30))
    assert parts(whole) == [(1, "smpp", "smsc-1", T0 + timedelta(seconds=30), ""),
                            (2, "smpp", "smsc-2", T0, "")]


def test_a_twelve_part_message_is_delivered_when_all_twelve_receipts_came(alice):
    """Twelve parts, so twelve SMSC ids (far more than a provider_id column could list): each
    receipt, in any order, finds its own part."""
    order = [12, 5, 1, 9, 2, 11, 3, 8, 4, 10, 6, 7]
    with smpp_server() as smsc, smpp_tap(smsc.port) as tap, listening(tap.port), \
            sending_to(smsc.port), time_machine.travel(T0, tick=False):
        receiver = smsc.receiver()
        with scope(merchant=alice.merchant):
            services.save_template(alice.merchant, event="birthday", language="en",
                                   body="{name}, " + "Ж" * 790, actor=Actor.cli())
        message = send(alice, event="birthday", name="Анна")
        assert (message.status, message.parts, message.provider_id) == ("sent", 12, "smsc-1")
        for count, number in enumerate(order, start=1):
            smsc.send_receipt(f"smsc-{number}", "DELIVRD", session=receiver)
            acknowledged(tap, count)
            assert row(message.pk).status == ("delivered" if count == 12 else "sent")
    assert [status for _, status in acknowledged(tap, 12)] == [0] * 12
    assert parts(message) == [(number, "smpp", f"smsc-{number}", T0, "")
                              for number in range(1, 13)]
    assert (row(message.pk).status, row(message.pk).delivered_at) == ("delivered", T0)


def test_a_receipt_is_three_statements_found_by_the_index(alice, bob,
                                                          django_assert_num_queries):
    """A receipt reads its part by (provider, provider_id) and writes the part and the message:
    three statements however many messages the outbox holds, and the read uses the index."""
    for number in range(30):  # other messages that share no id with the receipt
        stored(bob, "smpp", f"n-{number}", f"n-{number}-2")
    message = stored(alice, "smpp", *(f"q-{number}" for number in range(1, 13)))
    for number in range(1, 12):
        assert receipts.apply("smpp", f"q-{number}", receipts.DELIVERED, at=T0)
    with django_assert_num_queries(3) as captured:
        assert receipts.apply("smpp", "q-12", receipts.DELIVERED, at=T0)
    with django_assert_num_queries(1):  # a second word on a settled message: read only
        assert not receipts.apply("smpp", "q-12", receipts.FAILED, at=T0)
    lookup = captured.captured_queries[0]["sql"]
    assert "LIKE" not in lookup.upper()
    assert '"messaging_messagepart"."provider_id" = ' in lookup
    assert (row(message.pk).status, row(message.pk).delivered_at) == ("delivered", T0)
    with scopes_disabled():
        plan = MessagePart.objects.filter(provider="smpp", provider_id="q-12").explain()
    if connection.vendor == "sqlite":  # PostgreSQL may well scan a table this small
        assert "messagepart_receipt" in plan


def test_one_undelivered_part_fails_the_whole_message(alice):
    at = T0 + timedelta(minutes=1)
    message = stored(alice, "smpp", "p-1", "p-2", "p-3")
    assert receipts.apply("smpp", "p-1", receipts.DELIVERED, at=at)
    assert not receipts.apply("smpp", "p-1", receipts.FAILED, "late", at=at)  # p-1 delivered
    assert row(message.pk).status == "sent"
    assert receipts.apply("smpp", "p-3", receipts.FAILED, "EXPIRED err:000", at=at)
    assert not receipts.apply("smpp", "p-2", receipts.DELIVERED, at=at)  # settled: failed
    assert parts(message) == [(1, "smpp", "p-1", at, ""), (2, "smpp", "p-2", None, ""),
                              (3, "smpp", "p-3", None, "EXPIRED err:000")]
    message = row(message.pk)
    assert (message.status, message.provider_id, message.error, message.delivered_at) == (
        "failed", "p-1", "part 3 of 3: EXPIRED err:000", None)


def test_a_receipt_for_an_unknown_id_is_acknowledged_and_counted(alice, caplog):
    before = receipts.counts["unknown"]
    with smpp_server() as smsc, smpp_tap(smsc.port) as tap, listening(tap.port), \
            sending_to(smsc.port):
        receiver = smsc.receiver()
        message = send(alice)
        smsc.send_receipt("nobody-7", "DELIVRD", session=receiver)
        [(_, status)] = acknowledged(tap, 1)
        assert status == 0  # taken: the SMSC must not send it again and again
        receipts.later.join(timeout=10)  # it waited its grace for a message, in vain
    assert receipts.counts["unknown"] - before == 1
    assert ("receipt for an unknown message: provider smpp, id 'nobody-7', delivered "
            "(after waiting for its message)") in caplog.messages
    assert (row(message.pk).status, row(message.pk).delivered_at) == ("sent", None)


def test_a_receipt_that_overtakes_its_message_is_applied_when_it_is_stored(alice):
    """The receipt comes while the worker has not stored the provider id yet."""
    with smpp_server() as smsc, smpp_tap(smsc.port) as tap, listening(tap.port), \
            sending_to(smsc.port), time_machine.travel(T0, tick=False):
        smsc.receipt = "DELIVRD"  # the SMSC sends it to the receiver as it accepts the part
        message = send(alice)
        acknowledged(tap, 1)
        delivered = wait_for(lambda: row(message.pk).delivered_at)
    assert (row(message.pk).status, delivered) == ("delivered", T0)


def test_the_sending_transceiver_applies_a_receipt_it_gets(alice):
    """No receipts session: the SMSC sends the receipt on the sending session itself, even
    before it answers the submit_sm; it is acknowledged and applied once the message is
    stored."""
    with smpp_server() as smsc, smpp_tap(smsc.port) as tap, sending_to(tap.port), \
            time_machine.travel(T0, tick=False):
        smsc.receipt = "DELIVRD"
        message = send(alice)
        [(_, status)] = acknowledged(tap, 1)
        assert (message.status, status, smsc.receipts_sent[0][1:]) == (
            "sent", 0, ("smsc-1", "DELIVRD"))
        wait_for(lambda: row(message.pk).status == "delivered")
    assert (row(message.pk).delivered_at, smsc.unbinds) == (T0, 1)


def test_the_receiver_binds_again_after_the_smsc_drops_the_line(alice):
    with smpp_server() as smsc, smpp_tap(smsc.port) as tap, listening(tap.port) as listener, \
            sending_to(smsc.port), time_machine.travel(T0, tick=False):
        first = smsc.receiver()
        tap.drop()
        wait_for(lambda: listener.sessions == 2)
        second = wait_for(lambda: smsc.receiver(besides=first.session_id))
        message = send(alice)
        smsc.send_receipt("smsc-1", "DELIVRD", session=second)
        wait_for(lambda: row(message.pk).status == "delivered")
        smsc.unbind(second)  # and when the SMSC ends the session politely
        wait_for(lambda: listener.sessions == 3)
        assert wait_for(lambda: tap.find("out", UNBIND_RESP))
    # receiver, receiver again, sender, receiver again
    assert smsc.binds == ["kopilka"] * 4


def test_receipts_match_provider_and_exact_id_across_merchants(alice, bob):
    mine = stored(alice, "smpp", "m-7")
    longer = stored(bob, "smpp", "m-70")
    other_provider = stored(bob, "http", "m-7")
    other_case = stored(bob, "smpp", "M-7", "x-1")
    assert receipts.apply("smpp", "m-7", receipts.DELIVERED, at=T0) is receipts.Outcome.UPDATED
    assert receipts.apply("smpp", "m-7", receipts.DELIVERED, at=T0) is receipts.Outcome.UNCHANGED
    assert receipts.apply("smpp", "m-", receipts.DELIVERED, at=T0) is receipts.Outcome.UNKNOWN
    assert [(row(m.pk).merchant_id, row(m.pk).status) for m in (mine, longer, other_provider,
                                                                 other_case)] == [
        (alice.merchant.pk, "delivered"), (bob.merchant.pk, "sent"), (bob.merchant.pk, "sent"),
        (bob.merchant.pk, "sent")]


@pytest.mark.parametrize(("stat", "tlvs", "esm_class", "status", "error"), [
    ("DELIVRD", True, 0x04, "delivered", ""),
    ("DELIVRD", False, 0x04, "delivered", ""),
    ("UNDELIV", False, 0x04, "failed", "UNDELIV err:005"),
    ("REJECTD", True, 0x04, "failed", "REJECTD err:005"),
    ("EXPIRED", False, 0x04, "failed", "EXPIRED err:005"),
    ("DELETED", True, 0x04, "failed", "DELETED err:005"),
    ("ACCEPTD", True, 0x04, "sent", ""),
    ("ENROUTE", False, 0x04, "sent", ""),
    ("UNKNOWN", True, 0x04, "sent", ""),
    ("DELIVRD", True, 0x20, "sent", ""),  # an intermediate notification is no final word
])
def test_what_each_receipt_does_to_a_sent_message(alice, stat, tlvs, esm_class, status,
                                                  error):
    message = stored(alice, "smpp", "r-1")
    tlv = [smpp34.Tlv(smpp34.TLV_RECEIPTED_MESSAGE_ID, b"r-1\0"),
           smpp34.Tlv(smpp34.TLV_MESSAGE_STATE, bytes([MESSAGE_STATE[stat]]))] if tlvs else []
    receipt = parse_receipt(decoded(smpp34.DeliverSm(
        "AliceCafe", "79160000001", receipt_text("r-1", stat, "005"), esm_class=esm_class,
        tlvs=tlv)))
    assert receipt.provider_id == "r-1"
    receipts.take(receipt, at=T0)
    message = row(message.pk)
    assert (message.status, message.error, message.delivered_at) == (
        status, error, T0 if status == "delivered" else None)


def test_the_receipt_tlvs_win_over_the_text_and_a_phones_message_is_no_receipt():
    text_says_delivered = smpp34.DeliverSm(
        "AliceCafe", "79160000001", receipt_text("text-id", "DELIVRD"), esm_class=0x04,
        tlvs=[smpp34.Tlv(smpp34.TLV_RECEIPTED_MESSAGE_ID, b"tlv-id\0"),
              smpp34.Tlv(smpp34.TLV_MESSAGE_STATE, bytes([8])),
              smpp34.Tlv(smpp34.TLV_NETWORK_ERROR_CODE, bytes([3, 0, 5]))])
    assert parse_receipt(decoded(text_says_delivered)) == receipts.Receipt(
        provider="smpp", provider_id="tlv-id", state="failed",
        error="REJECTD err:000 network error 030005")
    reply = smpp34.DeliverSm("79160000001", "AliceCafe", b"STOP id:1 stat:DELIVRD")
    assert parse_receipt(decoded(reply)) is None


def test_a_receipt_sent_as_data_sm_is_read_from_its_tlvs():
    client = smpplib.client.Client("127.0.0.1", 0, allow_unknown_opt_params=True)
    data_sm = smpplib.smpp.make_pdu("data_sm", client=client, source_addr="AliceCafe",
                                    destination_addr="79160000001", esm_class=0x04,
                                    receipted_message_id="d-1", message_state=5)
    pdu = smpplib.smpp.parse_pdu(data_sm.generate(), client=client,
                                 allow_unknown_opt_params=True)
    assert parse_receipt(pdu) == receipts.Receipt(provider="smpp", provider_id="d-1",
                                                  state="failed", error="UNDELIV")


def test_smpp_receipts_command_stops_cleanly_on_sigterm(tmp_path):
    with smpp_server() as smsc, smpp_tap(smsc.port) as tap:
        env = {**os.environ, "KOPILKA_DATA_DIR": str(tmp_path), "KOPILKA_SMS_BACKEND": "smpp",
               "KOPILKA_SMS_OPTIONS": json.dumps({"host": "127.0.0.1", "port": tap.port,
                                                  "system_id": "kopilka", "password": "pw"})}
        env.pop("DATABASE_URL", None)
        env.pop("DJANGO_SETTINGS_MODULE", None)
        process = subprocess.Popen([sys.executable, "-m", "kopilka.cli", "smpp-receipts"],
                                   env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)
        try:
            wait_for(lambda: smsc.binds, timeout=60)
            assert smsc.receiver() is not None  # bound as a receiver
            process.send_signal(signal.SIGTERM)
            output, errors = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
        assert process.returncode == 0, errors
        unbinds = tap.find("out", UNBIND)
    assert len(unbinds) == 1  # it unbound before it went
    assert output.splitlines() == [
        f"Receiving delivery receipts from 127.0.0.1:{tap.port} as kopilka "
        "(SIGTERM or Ctrl-C stops)",
        "kopilka: stopped; receipts: 0 applied, 0 changed nothing, 0 for unknown messages, "
        "0 still waiting",
    ]


def test_smpp_receipts_command_needs_the_smpp_backend(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["smpp-receipts"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err == (
        "kopilka: error: the SMS backend is kopilka.messaging.backends.console.ConsoleBackend, "
        "not SMPP (KOPILKA_SMS_BACKEND=smpp): there are no SMPP receipts to receive\n")


# --- helpers ---------------------------------------------------------------------------------

def decoded(pdu):
    """What smpplib makes of the bytes smpp34 encodes: two codecs, no mock."""
    client = smpplib.client.Client("127.0.0.1", 0, allow_unknown_opt_params=True)
    return smpplib.smpp.parse_pdu(pdu.encode(), client=client, allow_unknown_opt_params=True)


def stored(tenant, provider, *part_ids) -> Message:
    """A message the provider accepted as parts with these ids (as tasks.attempt leaves it)."""
    with scope(merchant=tenant.merchant):
        message = Message.objects.create(
            merchant=tenant.merchant, member=None, event="one_time_code", channel="sms",
            recipient="+79160000001", language="en", body="code 1", status="sent",
            attempts=1, next_attempt_at=T0, provider=provider, provider_id=part_ids[0],
            parts=len(part_ids), created_at=T0, sent_at=T0)
        MessagePart.objects.bulk_create(
            MessagePart(merchant=tenant.merchant, message=message, number=number,
                        provider=provider, provider_id=part_id)
            for number, part_id in enumerate(part_ids, start=1))
    return message


def parts(message) -> list[tuple]:
    with scopes_disabled():
        return list(MessagePart.objects.filter(message_id=message.pk).order_by("number")
                    .values_list("number", "provider", "provider_id", "delivered_at", "error"))
