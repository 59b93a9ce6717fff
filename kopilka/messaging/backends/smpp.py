"""SMS over SMPP 3.4 with smpplib: bind as a transmitter, one submit_sm per part, unbind.

Each part carries its own concatenation header (UDH: IEI 0x00, an 8-bit reference shared by
the parts, their count and its number) with esm_class UDHI; a text outside the GSM alphabet
goes as UCS-2 (data_coding 0x08), otherwise as the SMSC default alphabet (0x00). The SMSC's
message id of the first part is the provider id.

One session per message keeps the backend stateless and safe under any worker; a long-lived
transceiver session that also receives delivery receipts (deliver_sm) is the follow-up that
will set messages to "delivered". Options: `host`, `port` (2775), `system_id`, `password`,
`system_type`, `source_addr` (the sender: alphanumeric or a number), `registered_delivery`
(ask for receipts; off until they are received), `timeout` (seconds).
"""

import logging

import smpplib.client
import smpplib.consts
import smpplib.exceptions

from kopilka.messaging import sms
from kopilka.messaging.backends.base import BaseBackend, DeliveryError, Outgoing, Refused, Sent

logger = logging.getLogger(__name__)

DATA_CODING = {sms.GSM7: smpplib.consts.SMPP_ENCODING_DEFAULT,
               sms.UCS2: smpplib.consts.SMPP_ENCODING_ISO10646}
# Answers that will not change on a retry: the destination or the message is wrong.
PERMANENT = {
    smpplib.consts.SMPP_ESME_RINVDSTADR, smpplib.consts.SMPP_ESME_RINVSRCADR,
    smpplib.consts.SMPP_ESME_RINVMSGLEN, smpplib.consts.SMPP_ESME_RINVESMCLASS,
}


def _udh(reference: int, count: int, number: int) -> bytes:
    return bytes((0x05, 0x00, 0x03, reference & 0xFF, count, number))


def _address(value: str) -> tuple[int, int, str]:
    """(TON, NPI, address): a phone number is international ISDN, anything else an
    alphanumeric sender."""
    digits = value.lstrip("+")
    if digits.isdigit():
        return smpplib.consts.SMPP_TON_INTL, smpplib.consts.SMPP_NPI_ISDN, digits
    return smpplib.consts.SMPP_TON_ALNUM, smpplib.consts.SMPP_NPI_UNK, value


class SmppBackend(BaseBackend):
    name = "smpp"

    def __init__(self, host: str, port: int = 2775, *, system_id: str, password: str = "",
                 system_type: str = "", source_addr: str = "Kopilka",
                 registered_delivery: bool = False, timeout: float = 10):
        self.host, self.port = host, int(port)
        self.system_id, self.password, self.system_type = system_id, password, system_type
        self.source_addr = source_addr
        self.registered_delivery = registered_delivery
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
        client = smpplib.client.Client(self.host, self.port, timeout=self.timeout,
                                       allow_unknown_opt_params=True)
        client.set_message_sent_handler(
            lambda pdu: ids.append(pdu.message_id.decode("ascii", "replace")))
        try:
            client.connect()
            client.bind_transmitter(system_id=self.system_id, password=self.password,
                                    system_type=self.system_type)
            for number, fields in enumerate(parts, start=1):
                client.send_message(**fields)
                while len(ids) < number:  # until its submit_sm_resp (answering enquire_links)
                    # A silent SMSC raises a timeout here (a retry later) instead of being
                    # pinged for ever.
                    client.read_once(auto_send_enquire_link=False)
        except smpplib.exceptions.PDUError as error:
            status = error.args[1] if len(error.args) > 1 else None
            if status in PERMANENT:
                raise Refused(f"SMSC refused: {error.args[0]} ({status:#x})") from None
            raise DeliveryError(f"SMSC error: {error}") from None
        finally:
            self._close(client)
        return Sent(provider_id=ids[0][:100], parts=len(parts))

    def _close(self, client) -> None:
        if client.state == smpplib.consts.SMPP_CLIENT_STATE_BOUND_TX:
            try:
                client.unbind()
            except (smpplib.exceptions.ConnectionError, smpplib.exceptions.PDUError, OSError):
                # Some SMSCs drop the line instead of answering unbind; the messages were
                # already accepted, so that is no failure, and the session is over.
                logger.debug("the SMSC closed the connection on unbind")
                client.state = smpplib.consts.SMPP_CLIENT_STATE_OPEN
        # disconnect() also closes the socket a failed connect() left behind (smpplib's state
        # is still CLOSED then); it only logs a warning for states other than OPEN.
        if client.state == smpplib.consts.SMPP_CLIENT_STATE_CLOSED:
            client.state = smpplib.consts.SMPP_CLIENT_STATE_OPEN
        client.disconnect()
