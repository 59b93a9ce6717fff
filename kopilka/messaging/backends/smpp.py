"""SMS over SMPP 3.4 with smpplib, and the delivery receipts that come back.

**Sending.** One session per message: bind (as a transceiver by default), one submit_sm per
part, unbind. Each part carries its own concatenation header (UDH: IEI 0x00, an 8-bit
reference shared by the parts, their count and its number) with esm_class UDHI; a text
outside the GSM alphabet goes as UCS-2 (data_coding 0x08), otherwise as the SMSC default
alphabet (0x00). Every part asks for a delivery receipt (registered_delivery 1); the SMSC's
message ids of all parts are the parts' provider ids (`Sent.part_ids`, stored as
`MessagePart` rows; the first is the message's `provider_id`). One session per message keeps the
backend stateless and safe under any worker.

**Receipts.** The SMSC answers each part with a deliver_sm whose esm_class says "delivery
receipt", naming the part's message id (the receipted_message_id TLV, or `id:` in the text
"id:… sub:… dlvrd:… submit date:… done date:… stat:DELIVRD err:000") and its fate (the
message_state TLV, or `stat:`). They come on a long-lived session: `ReceiptListener`, run by
`kopilka smpp-receipts` beside the worker, binds as a receiver and stays bound, reconnecting
with backoff. A sending session that happens to get receipts (a transceiver) applies them too.
Every deliver_sm is acknowledged, a receipt for an unknown id too (the SMSC would resend it
forever otherwise); only when Kopilka cannot record it (the database is away) does it answer
"temporary error", so the SMSC delivers it again later. What a receipt changes is in
`kopilka/messaging/receipts.py`.

Options: `host`, `port` (2775), `system_id`, `password`, `system_type`, `source_addr` (the
sender: alphanumeric or a number), `registered_delivery` (ask for receipts, on), `bind`
(the sending session: "transceiver" or "transmitter"), `receiver_bind` (the receipts session:
"receiver" or "transceiver"), `enquire_link` (seconds of silence before the receipts session
checks the line), `reconnect_min` / `reconnect_max` (its backoff, seconds), `timeout`.
"""

import logging
import re
import select
import threading
import time

import smpplib.client
import smpplib.consts
import smpplib.exceptions
import smpplib.smpp
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import close_old_connections, connection
from django.utils.module_loading import import_string

from kopilka.messaging import receipts, sms
from kopilka.messaging.backends.base import BaseBackend, DeliveryError, Outgoing, Refused, Sent

logger = logging.getLogger(__name__)

DATA_CODING = {sms.GSM7: smpplib.consts.SMPP_ENCODING_DEFAULT,
               sms.UCS2: smpplib.consts.SMPP_ENCODING_ISO10646}
# Answers that will not change on a retry: the destination or the message is wrong.
PERMANENT = {
    smpplib.consts.SMPP_ESME_RINVDSTADR, smpplib.consts.SMPP_ESME_RINVSRCADR,
    smpplib.consts.SMPP_ESME_RINVMSGLEN, smpplib.consts.SMPP_ESME_RINVESMCLASS,
}
BINDS = ("transmitter", "receiver", "transceiver")
BOUND = {smpplib.consts.SMPP_CLIENT_STATE_BOUND_TX, smpplib.consts.SMPP_CLIENT_STATE_BOUND_RX,
         smpplib.consts.SMPP_CLIENT_STATE_BOUND_TRX}
LOST = (smpplib.exceptions.ConnectionError, smpplib.exceptions.PDUError, OSError)

# esm_class bits 2-5, the message type: an SMSC delivery receipt or an intermediate
# notification (SMPP 3.4, 5.2.12). Anything else is a message from a phone.
ESM_TYPE, ESM_RECEIPT, ESM_INTERMEDIATE = 0x3C, 0x04, 0x20
# The receipt's `stat:` (SMPP 3.4 Appendix B) and what it means for the message.
STATS = {
    "DELIVRD": receipts.DELIVERED,
    "UNDELIV": receipts.FAILED, "REJECTD": receipts.FAILED, "EXPIRED": receipts.FAILED,
    "DELETED": receipts.FAILED,
    "ACCEPTD": receipts.PENDING, "ENROUTE": receipts.PENDING, "UNKNOWN": receipts.PENDING,
}
# The message_state TLV's values (SMPP 3.4, 5.2.28) as the same words.
MESSAGE_STATES = {1: "ENROUTE", 2: "DELIVRD", 3: "EXPIRED", 4: "DELETED", 5: "UNDELIV",
                  6: "ACCEPTD", 7: "UNKNOWN", 8: "REJECTD"}
_RECEIPT_FIELD = re.compile(r"(?:^|\s)(id|stat|err):(\S*)", re.IGNORECASE)


def _udh(reference: int, count: int, number: int) -> bytes:
    return bytes((0x05, 0x00, 0x03, reference & 0xFF, count, number))


def _address(value: str) -> tuple[int, int, str]:
    """(TON, NPI, address): a phone number is international ISDN, anything else an
    alphanumeric sender."""
    digits = value.lstrip("+")
    if digits.isdigit():
        return smpplib.consts.SMPP_TON_INTL, smpplib.consts.SMPP_NPI_ISDN, digits
    return smpplib.consts.SMPP_TON_ALNUM, smpplib.consts.SMPP_NPI_UNK, value


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("ascii", "replace")
    return str(value)


def parse_receipt(pdu, provider: str = "smpp") -> receipts.Receipt | None:
    """The delivery receipt a deliver_sm (or data_sm) carries, or None when it is a message
    from a phone. The TLVs win over the text when both are there (the text's format is only
    customary)."""
    kind = (getattr(pdu, "esm_class", None) or 0) & ESM_TYPE
    tlv_id = _text(getattr(pdu, "receipted_message_id", None)).rstrip("\x00")
    if kind not in (ESM_RECEIPT, ESM_INTERMEDIATE) and not tlv_id:
        return None
    fields: dict[str, str] = {}
    text = getattr(pdu, "short_message", None) or getattr(pdu, "message_payload", None)
    for name, value in _RECEIPT_FIELD.findall(_text(text)):
        fields.setdefault(name.lower(), value)  # the first one: the free text may say "id:"
    stat = MESSAGE_STATES.get(getattr(pdu, "message_state", None) or 0) or fields.get(
        "stat", "").upper()
    state = receipts.PENDING if kind == ESM_INTERMEDIATE else STATS.get(stat, receipts.PENDING)
    error = ""
    if state == receipts.FAILED:
        error = f"{stat} err:{fields['err']}" if fields.get("err") else stat
        network = getattr(pdu, "network_error_code", None)
        if network:
            raw = network.encode("latin-1") if isinstance(network, str) else bytes(network)
            error += f" network error {raw.hex()}"
    return receipts.Receipt(provider=provider, provider_id=tlv_id or fields.get("id", ""),
                            state=state, error=error)


class SmppBackend(BaseBackend):
    name = "smpp"

    def __init__(self, host: str, port: int = 2775, *, system_id: str, password: str = "",
                 system_type: str = "", source_addr: str = "Kopilka",
                 registered_delivery: bool = True, bind: str = "transceiver",
                 receiver_bind: str = "receiver", enquire_link: float = 30,
                 reconnect_min: float = 1, reconnect_max: float = 60, timeout: float = 10):
        if bind not in ("transmitter", "transceiver"):
            raise ImproperlyConfigured(f"SMPP bind must be transmitter or transceiver: {bind!r}")
        if receiver_bind not in ("receiver", "transceiver"):
            raise ImproperlyConfigured(
                f"SMPP receiver_bind must be receiver or transceiver: {receiver_bind!r}")
        self.host, self.port = host, int(port)
        self.system_id, self.password, self.system_type = system_id, password, system_type
        self.source_addr = source_addr
        self.registered_delivery = registered_delivery
        self.bind, self.receiver_bind = bind, receiver_bind
        self.enquire_link = float(enquire_link)
        self.reconnect_min, self.reconnect_max = float(reconnect_min), float(reconnect_max)
        self.timeout = timeout

    def submissions(self, message: Outgoing) -> list[dict]:
        """The submit_sm fields of each part of the message."""
        segmented = sms.segment(message.body)
        count = len(segmented.parts)
        source_ton, source_npi, source = _address(self.source_addr)
        dest_ton, dest_npi, destination = _address(message.recipient)
        common = {
            "source_addr_ton": source_ton, "source_addr_npi": source_npi, "source_addr": source,
            "dest_addr_ton": dest_ton, "dest_addr_npi": dest_npi, "destination_addr": destination,
            "data_coding": DATA_CODING[segmented.encoding],
            "registered_delivery": int(self.registered_delivery),
        }
        if count == 1:
            return [{**common, "esm_class": smpplib.consts.SMPP_MSGTYPE_DEFAULT,
                     "short_message": sms.encode(segmented.parts[0], segmented.encoding)}]
        return [
            {**common, "esm_class": smpplib.consts.SMPP_GSMFEAT_UDHI,
             "short_message": _udh(message.id, count, number)
             + sms.encode(text, segmented.encoding)}
            for number, text in enumerate(segmented.parts, start=1)
        ]

    def send(self, message: Outgoing) -> Sent:
        parts = self.submissions(message)
        ids: list[str] = []
        client = self.client()
        try:
            client.connect()
            self.bind_as(client, self.bind)
            for fields in parts:
                client.send_message(**fields)
                # Until its submit_sm_resp, answering what comes first (receipts of earlier
                # messages, enquire_link). A silent SMSC raises a timeout here (a retry later).
                while True:
                    pdu = client.read_pdu()
                    if pdu.is_error() or pdu.command == "generic_nack":
                        client.error_pdu_handler(pdu)  # raises PDUError with the status
                    if pdu.command == "submit_sm_resp":
                        ids.append(_text(pdu.message_id))
                        break
                    if not self.answer(client, pdu):
                        raise DeliveryError("the SMSC ended the session")
        except smpplib.exceptions.PDUError as error:
            status = error.args[1] if len(error.args) > 1 else None
            if status in PERMANENT:
                raise Refused(f"SMSC refused: {error.args[0]} ({status:#x})") from None
            raise DeliveryError(f"SMSC error: {error}") from None
        finally:
            self.close(client)
        return Sent.of_parts(ids, parts=len(parts))

    # --- a session, for sending and for receipts --------------------------------------------

    def client(self) -> smpplib.client.Client:
        return smpplib.client.Client(self.host, self.port, timeout=self.timeout,
                                     allow_unknown_opt_params=True)

    def bind_as(self, client, mode: str) -> None:
        getattr(client, f"bind_{mode}")(system_id=self.system_id, password=self.password,
                                         system_type=self.system_type)

    def answer(self, client, pdu) -> bool:
        """Answer a PDU the SMSC sent on its own: take a receipt, acknowledge it; answer
        enquire_link and unbind. False when the SMSC ended the session."""
        command = pdu.command
        if command in ("deliver_sm", "data_sm"):  # some SMSCs send receipts as data_sm
            _respond(client, pdu, f"{command}_resp", self.take(pdu))
        elif command == "enquire_link":
            _respond(client, pdu, "enquire_link_resp")
        elif command == "unbind":
            _respond(client, pdu, "unbind_resp")
            client.state = smpplib.consts.SMPP_CLIENT_STATE_OPEN
            return False
        elif command == "generic_nack":
            logger.info("the SMSC answered generic_nack (%#x) to PDU %s", pdu.status,
                        pdu.sequence)
        elif command != "enquire_link_resp":
            logger.info("ignored SMPP %s from the SMSC", command)
        return True

    def take(self, pdu) -> int:
        """The answer's status for a deliver_sm (or data_sm), having recorded its receipt."""
        receipt = parse_receipt(pdu, self.name)
        if receipt is None:
            logger.info("a message from %s to %s ignored: not a delivery receipt",
                        _text(getattr(pdu, "source_addr", None)),
                        _text(getattr(pdu, "destination_addr", None)))
            return smpplib.consts.SMPP_ESME_ROK
        try:
            receipts.take(receipt)
        except Exception:
            # Not recorded: "temporary error" makes the SMSC deliver it again later.
            logger.exception("receipt %r could not be recorded", receipt.provider_id)
            return smpplib.consts.SMPP_ESME_RX_T_APPN
        return smpplib.consts.SMPP_ESME_ROK

    def close(self, client) -> None:
        """Unbind (answering whatever comes before the SMSC's unbind_resp) and disconnect."""
        if client.state in BOUND:
            try:
                client.send_pdu(smpplib.smpp.make_pdu("unbind", client=client))
                deadline = time.monotonic() + self.timeout
                while time.monotonic() < deadline:
                    pdu = client.read_pdu()
                    if pdu.command == "unbind_resp" or not self.answer(client, pdu):
                        break
            except LOST:
                # Some SMSCs drop the line instead of answering unbind; the messages were
                # already accepted, so that is no failure, and the session is over.
                logger.debug("the SMSC closed the connection on unbind")
            client.state = smpplib.consts.SMPP_CLIENT_STATE_OPEN
        # disconnect() also closes the socket a failed connect() left behind (smpplib's state
        # is still CLOSED then); it only logs a warning for states other than OPEN.
        if client.state == smpplib.consts.SMPP_CLIENT_STATE_CLOSED:
            client.state = smpplib.consts.SMPP_CLIENT_STATE_OPEN
        client.disconnect()


def _respond(client, pdu, command: str, status: int = smpplib.consts.SMPP_ESME_ROK) -> None:
    response = smpplib.smpp.make_pdu(command, client=client, status=status)
    response.sequence = pdu.sequence
    client.send_pdu(response)


class ReceiptListener:
    """The long-lived receipts session (`kopilka smpp-receipts`): bind as a receiver, take
    every receipt, check a silent line with enquire_link, and when the session ends or breaks,
    bind again after `reconnect_min` seconds, doubling up to `reconnect_max` while it fails.
    `run` returns when `stop` is set (unbinding first)."""

    POLL = 0.5  # seconds between looks at `stop`

    def __init__(self, backend: SmppBackend):
        self.backend = backend
        self.sessions = 0  # how many times it bound

    @classmethod
    def from_settings(cls) -> "ReceiptListener":
        config = settings.MESSAGING["sms"]
        backend_class = import_string(config["BACKEND"])
        if not (isinstance(backend_class, type) and issubclass(backend_class, SmppBackend)):
            raise ImproperlyConfigured(
                f"the SMS backend is {config['BACKEND']}, not SMPP "
                "(KOPILKA_SMS_BACKEND=smpp): there are no SMPP receipts to receive")
        return cls(backend_class(**config.get("OPTIONS", {})))

    def run(self, stop: threading.Event) -> None:
        try:
            self._run(stop)
        finally:
            connection.close()  # this thread's own connection, if receipts opened one

    def _run(self, stop: threading.Event) -> None:
        backend = self.backend
        delay = backend.reconnect_min
        while not stop.is_set():
            bound_before = self.sessions
            try:
                self.session(stop)
            except LOST as error:
                logger.warning("SMPP receipts session with %s:%s: %s", backend.host,
                               backend.port, error or type(error).__name__)
            except Exception:  # a PDU smpplib cannot read, a bug: log it, keep receiving
                logger.exception("SMPP receipts session with %s:%s failed", backend.host,
                                 backend.port)
            if stop.is_set():
                break
            if self.sessions > bound_before:
                delay = backend.reconnect_min  # it was bound: the next failure starts over
            logger.info("binding again in %.1f s", delay)
            if stop.wait(delay):
                break
            delay = min(delay * 2, backend.reconnect_max)

    def session(self, stop: threading.Event) -> None:
        backend = self.backend
        client = backend.client()
        try:
            client.connect()
            backend.bind_as(client, backend.receiver_bind)
            self.sessions += 1
            logger.info("bound to %s:%s as %s %s for delivery receipts", backend.host,
                        backend.port, backend.receiver_bind, backend.system_id)
            heard, asked = time.monotonic(), None
            while not stop.is_set():
                # select first: a read that times out half-way through a PDU would lose it.
                ready, _, _ = select.select([client._socket], [], [], self.POLL)
                now = time.monotonic()
                if ready:
                    pdu = client.read_pdu()
                    heard, asked = now, None
                    close_old_connections()  # a long-lived process: drop dead connections
                    if not backend.answer(client, pdu):
                        logger.info("the SMSC ended the receipts session")
                        return
                elif asked is None and now - heard >= backend.enquire_link:
                    client.send_pdu(smpplib.smpp.make_pdu("enquire_link", client=client))
                    asked = now
                elif asked is not None and now - asked >= backend.timeout:
                    raise smpplib.exceptions.ConnectionError("no answer to enquire_link")
        finally:
            backend.close(client)
