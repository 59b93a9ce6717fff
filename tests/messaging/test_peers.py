"""Backends against real peers on loopback: an SMTP server (aiosmtpd) receives the email, an
SMPP 3.4 server (smpp34) receives submit_sm PDUs from smpplib, an HTTP gateway receives the
request; and the file and console backends write what they should."""

import email
import email.policy
import io
import json
from datetime import date

import pytest
import smpp34
from django.test import override_settings
from django_scopes import scope, scopes_disabled

from kopilka.core.actor import Actor
from kopilka.members.models import Member
from kopilka.messaging import services, tasks
from kopilka.messaging.backends.base import Outgoing
from kopilka.messaging.backends.console import ConsoleBackend
from kopilka.messaging.backends.file import FileBackend
from kopilka.messaging.models import Message, MessagePart
from tests.messaging.peers import free_port, http_gateway, smpp_server, smtp_server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow,
              pytest.mark.usefixtures("sending")]


def channel(backend, **options):
    return {"BACKEND": f"kopilka.messaging.backends.{backend}", "OPTIONS": options}


def smpp_to(smsc_port, **options):
    options = {"host": "127.0.0.1", "port": smsc_port, "system_id": "kopilka", **options}
    return override_settings(MESSAGING={"sms": channel("smpp.SmppBackend", **options)})


def send(alice, **arguments) -> Message:
    with scope(merchant=alice.merchant):
        message = services.queue(alice.merchant, **arguments)
    tasks.attempt(message.pk)
    with scopes_disabled():
        return Message.objects.get(pk=message.pk)


def test_email_reaches_a_real_smtp_server(alice):
    with scopes_disabled():
        Member.objects.filter(pk=alice.member.pk).update(email="anna@example.com")
    alice.member.refresh_from_db()
    with smtp_server() as mailbox, override_settings(
        MAILERS={"default": {"BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                             "OPTIONS": {"host": "127.0.0.1", "port": mailbox.port,
                                         "use_tls": False, "timeout": 10}}},
        MESSAGING={"email": channel("email.EmailBackend",
                                    from_email="bonus@alice.example")},
    ):
        row = send(alice, event="gift", member=alice.member, channel="email", language="ru",
                   context={"name": "Анна", "points": 30_000, "date": date(2027, 1, 15)})
    [envelope] = mailbox.envelopes
    assert (envelope.mail_from, envelope.rcpt_tos) == ("bonus@alice.example",
                                                       ["anna@example.com"])
    received = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert received["Subject"] == "Подарок"
    assert received["To"] == "anna@example.com"
    assert received.get_content().strip() == (
        "Анна, Alice Coffee дарит вам 300 бонусов до 15 января 2027 г.")
    assert (row.status, row.provider, row.attempts) == ("sent", "email", 1)
    # A long Message-ID is folded onto its own line; unfolded, it keeps the leading space.
    assert received["Message-ID"].strip() == f"<{row.provider_id}>"
    assert f".kopilka-{row.pk}@alice.example" in row.provider_id


def _text(submit) -> tuple[bytes, str]:
    """(UDH, text) of a submit_sm as the SMSC got it."""
    raw = submit.short_message
    header = raw[: raw[0] + 1] if submit.esm_class & 0x40 else b""
    body = raw[len(header):]
    return header, body.decode("utf-16-be") if submit.data_coding == 8 else body.decode("ascii")


def test_sms_reaches_a_real_smpp_server_in_ucs2_parts(alice):
    body = "Анна, с днём рождения! Alice Coffee дарит вам подарок: 300 бонусов на месяц!"
    assert len(body) == 76  # over 70 Cyrillic characters: two UCS-2 parts
    with smpp_server() as smsc, smpp_to(smsc.port, password="secret",
                                                source_addr="AliceCafe"):
        with scope(merchant=alice.merchant):
            services.save_template(alice.merchant, event="birthday", language="ru",
                                   body=body.replace("Анна", "{name}"), actor=Actor.cli())
        row = send(alice, event="birthday", member=alice.member, context={"name": "Анна"})
    assert smsc.binds == ["kopilka"]
    first, second = smsc.submits
    for submit in (first, second):
        assert (submit.destination_addr, submit.dest_addr_ton, submit.dest_addr_npi) == (
            "79160000001", 1, 1)
        assert (submit.source_addr, submit.source_addr_ton) == ("AliceCafe", 5)
        assert (submit.data_coding, submit.esm_class, submit.registered_delivery) == (8, 0x40, 1)
    (udh1, text1), (udh2, text2) = _text(first), _text(second)
    reference = row.pk & 0xFF
    assert udh1 == bytes((5, 0, 3, reference, 2, 1))
    assert udh2 == bytes((5, 0, 3, reference, 2, 2))
    assert (len(text1), text1 + text2) == (67, body)
    assert (row.status, row.provider, row.provider_id, row.parts) == ("sent", "smpp",
                                                                      "smsc-1", 2)
    with scopes_disabled():
        assert list(MessagePart.objects.filter(message=row).order_by("number").values_list(
            "number", "provider", "provider_id", "delivered_at")) == [
            (1, "smpp", "smsc-1", None), (2, "smpp", "smsc-2", None)]
    assert smsc.unbinds == 1


def test_a_latin_sms_goes_as_one_gsm_part(alice):
    with smpp_server() as smsc, smpp_to(smsc.port, source_addr="+15550001111",
                                                registered_delivery=True):
        row = send(alice, event="one_time_code", member=alice.member, language="en",
                   context={"code": "4821"})
    [submit] = smsc.submits
    assert _text(submit) == (b"", "Alice Coffee: your code is 4821. Do not share it.")
    assert (submit.data_coding, submit.esm_class, submit.registered_delivery) == (0, 0, 1)
    assert (submit.source_addr, submit.source_addr_ton, submit.source_addr_npi) == (
        "15550001111", 1, 1)
    assert (row.status, row.provider_id, row.parts) == ("sent", "smsc-1", 1)


def test_an_smsc_rejecting_the_destination_refuses_the_message(alice):
    with smpp_server() as smsc, smpp_to(smsc.port):
        smsc.reject_with = smpp34.ESME_RINVDSTADR
        row = send(alice, event="one_time_code", member=alice.member, context={"code": "1"})
    assert (row.status, row.attempts) == ("refused", 1)
    assert row.error == "SMSC refused: (11) submit_sm_resp: Invalid Destination Address (0xb)"


def test_an_unreachable_smsc_is_retried(alice):
    with smpp_to(free_port()):
        row = send(alice, event="one_time_code", member=alice.member, context={"code": "1"})
    assert (row.status, row.attempts, row.error) == ("queued", 1,
                                                     "ConnectionError: Connection refused")


def test_sms_reaches_an_http_gateway(alice):
    with http_gateway() as gateway, override_settings(MESSAGING={"sms": channel(
        "http.HttpBackend", url=gateway.url, preset="vonage", sender="Alice",
        auth="Bearer t0ken")}):
        ok = send(alice, event="one_time_code", member=alice.member, language="en",
                  context={"code": "77"})
        gateway.answers += [(503, {"error": "busy"}), (400, {"error": "bad number"})]
        busy = send(alice, event="one_time_code", member=alice.member, context={"code": "1"})
        bad = send(alice, event="one_time_code", member=alice.member, context={"code": "2"})
    headers, body = gateway.requests[0]
    assert headers["Authorization"] == "Bearer t0ken"
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"to": "79160000001", "from": "Alice", "type": "unicode",
                                "text": "Alice Coffee: your code is 77. Do not share it.",
                                "client-ref": str(ok.pk)}
    assert (ok.status, ok.provider, ok.provider_id) == ("sent", "http", "gw-1")
    assert (busy.status, busy.error) == ("queued", 'DeliveryError: HTTP 503: {"error": "busy"}')
    assert (bad.status, bad.error) == ("refused", 'HTTP 400: {"error": "bad number"}')


def test_file_and_console_backends_write_the_message(tmp_path):
    message = Outgoing(id=7, channel="sms", recipient="+79160000001", body="Привет, Анна")
    path = tmp_path / "out" / "messages.jsonl"
    FileBackend(path=str(path)).send(message)
    sent = FileBackend(path=str(path)).send(message)
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [{k: v for k, v in line.items() if k != "at"} for line in lines] == [
        {"id": 7, "channel": "sms", "to": "+79160000001", "subject": "", "text": "Привет, Анна"}
    ] * 2
    assert sent.provider_id == "file-7"
    stream = io.StringIO()
    ConsoleBackend(stream=stream).send(message)
    assert stream.getvalue() == "--- sms #7 to +79160000001\nПривет, Анна\n"
