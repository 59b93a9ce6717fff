"""Real protocol peers on loopback for the backends to talk to: an SMTP server (aiosmtpd), an
SMPP 3.4 server (smpp34's SMSC side) that can send delivery receipts, a tap that sits on an
SMPP connection to record the PDUs and drop the line, and a JSON SMS gateway (http.server)."""

import asyncio
import json
import socket
import struct
import threading
import time
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

import smpp34
from aiosmtpd.controller import Controller

from tests.loopback import QuietHandler, http_server


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Mailbox:
    port: int
    envelopes: list = field(default_factory=list)  # aiosmtpd Envelope objects

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


@contextmanager
def smtp_server():
    mailbox = Mailbox(port=free_port())
    controller = Controller(mailbox, hostname="127.0.0.1", port=mailbox.port)
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()


def receipt_text(message_id: str, stat: str = "DELIVRD", err: str = "000") -> bytes:
    """A delivery receipt's short_message as SMSCs customarily write it (SMPP 3.4 App. B)."""
    return (f"id:{message_id} sub:001 dlvrd:{int(stat == 'DELIVRD'):03} submit date:2611230900"
            f" done date:2611230901 stat:{stat} err:{err} text:Alice Coffee").encode("ascii")


MESSAGE_STATE = {"ENROUTE": 1, "DELIVRD": 2, "EXPIRED": 3, "DELETED": 4, "UNDELIV": 5,
                 "ACCEPTD": 6, "UNKNOWN": 7, "REJECTD": 8}


@dataclass
class Smsc:
    port: int
    loop: asyncio.AbstractEventLoop | None = None
    submits: list = field(default_factory=list)  # smpp34.SubmitSmEvent, in arrival order
    binds: list = field(default_factory=list)  # system ids that bound
    sessions: list = field(default_factory=list)  # smpp34.Esme, in bind order
    unbinds: int = 0
    reject_with: int | None = None  # a command_status to answer every submit_sm with
    # A receipt stat ("DELIVRD", "UNDELIV", ...) to send for every accepted part, or None. It
    # goes to the latest receiver session if one is bound, else on the submitting session,
    # before its submit_sm_resp (the earliest a receipt can come).
    receipt: str | None = None
    receipts_sent: list = field(default_factory=list)  # (session id, message id, stat)
    pushes: list = field(default_factory=list)  # futures of send_receipt's deliver_sm

    def send_receipt(self, message_id: str, stat: str = "DELIVRD", err: str = "000", *,
                     tlvs: bool = True, esm_class: int = 0x04, session=None) -> None:
        """Push a deliver_sm receipt to `session` (default: the latest receiver). Not waited
        for: smpp34 1.5.0's server never matches the deliver_sm_resp of a receiver bind (it
        answers it with generic_nack), so acknowledgements are read from a `smpp_tap`."""
        session = session or self.receiver()
        assert session is not None, "no session to send the receipt to"
        self.pushes.append(asyncio.run_coroutine_threadsafe(
            self._deliver(session, message_id, stat, err, tlvs, esm_class), self.loop))

    def unbind(self, session) -> None:
        """End a session as an SMSC going down for maintenance does (not waited for either:
        smpp34 1.5.0 does not match a receiver's unbind_resp)."""
        async def unbind():
            with suppress(smpp34.SmppError):
                await session.unbind()

        self.pushes.append(asyncio.run_coroutine_threadsafe(unbind(), self.loop))

    def receiver(self, besides: str | None = None):
        """The latest bound session that takes deliver_sm (other than session `besides`)."""
        receivers = [esme for esme in self.sessions
                     if esme.can_receive and esme.session_id != besides]
        return receivers[-1] if receivers else None

    async def _deliver(self, session, message_id, stat, err, tlvs, esm_class):
        self.receipts_sent.append((session.session_id, message_id, stat))
        extra = [smpp34.Tlv(smpp34.TLV_RECEIPTED_MESSAGE_ID, message_id.encode() + b"\0"),
                 smpp34.Tlv(smpp34.TLV_MESSAGE_STATE, bytes([MESSAGE_STATE[stat]]))]
        # No deliver_sm_resp matched raises SmppError (see send_receipt): the tap has the truth.
        with suppress(smpp34.SmppError):
            await session.deliver_sm("79160000001", receipt_text(message_id, stat, err),
                                     source_addr="AliceCafe", esm_class=esm_class,
                                     tlvs=extra if tlvs else [])


@contextmanager
def smpp_server():
    """smpp34's SMSC on 127.0.0.1: accepts binds, answers each submit_sm with message id
    "smsc-<n>" (or the configured rejection), sends receipts when asked, records everything."""
    state = Smsc(port=free_port())
    loop = state.loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start():  # the server binds to the loop it is made in
        server = smpp34.Server(host="127.0.0.1", port=state.port, system_id="TESTSMSC")
        await server.start()
        return server

    async def serve():
        while True:
            event = await server.next()
            if isinstance(event, smpp34.Esme):
                state.binds.append(event.system_id)
                state.sessions.append(event)
            elif isinstance(event, smpp34.SubmitSmEvent):
                state.submits.append(event)
                if state.reject_with is not None:
                    event.reject(state.reject_with)
                    continue
                message_id = f"smsc-{len(state.submits)}"
                if state.receipt and event.registered_delivery:
                    receiver = state.receiver(besides=event.session_id)
                    if receiver is not None:
                        state.send_receipt(message_id, state.receipt, session=receiver)
                    else:  # a transceiver: the receipt first, acknowledged, then the answer
                        sender = next(esme for esme in state.sessions
                                      if esme.session_id == event.session_id)
                        if sender.can_receive:
                            await state._deliver(sender, message_id, state.receipt, "000",
                                                 True, 0x04)
                event.accept(message_id=message_id)
            elif isinstance(event, smpp34.Unbound):
                state.unbinds += 1
                state.sessions = [esme for esme in state.sessions
                                  if esme.session_id != event.session_id]

    server = asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=10)
    consumer = asyncio.run_coroutine_threadsafe(serve(), loop)
    try:
        yield state
    finally:
        # The sessions the test's clients ended are seen out (their Unbound events counted)
        # before the server goes: under load those events can lag behind the client.
        deadline = time.monotonic() + 5
        while state.sessions and time.monotonic() < deadline:
            time.sleep(0.02)
        consumer.cancel()
        for push in state.pushes:
            push.cancel()

        async def stop():
            await server.stop()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


@dataclass
class Tap:
    """A man in the middle of SMPP connections: ESMEs connect to `port`, the tap connects on
    to the SMSC and passes every PDU along, recording (direction, command_id, command_status,
    sequence_number, body) with direction "out" (to the SMSC) or "in" (from it)."""

    port: int
    pdus: list = field(default_factory=list)
    connections: list = field(default_factory=list)  # (esme socket, smsc socket)

    def drop(self) -> None:
        """Cut every connection now, as an SMSC that restarts does."""
        for pair in self.connections:
            for sock in pair:
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
        self.connections.clear()

    def find(self, direction: str, command_id: int, sequence: int | None = None) -> list:
        return [pdu for pdu in list(self.pdus) if pdu[0] == direction and pdu[1] == command_id
                and (sequence is None or pdu[3] == sequence)]


def _read_exactly(sock, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


@contextmanager
def smpp_tap(smsc_port: int):
    state = Tap(port=0)
    listener = socket.create_server(("127.0.0.1", 0))
    state.port = listener.getsockname()[1]
    threads = []

    def pump(source, target, direction):
        try:
            while True:
                header = _read_exactly(source, 16)
                length, command_id, status, sequence = struct.unpack(">IIII", header)
                body = _read_exactly(source, length - 16)
                state.pdus.append((direction, command_id, status, sequence, body))
                target.sendall(header + body)
        except OSError:
            for sock in (source, target):
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    closing = threading.Event()
    listener.settimeout(0.1)  # a blocked accept() would not notice the listener closing

    def accept():
        while not closing.is_set():
            try:
                esme, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # the listener was closed
            esme.settimeout(None)
            smsc = socket.create_connection(("127.0.0.1", smsc_port))
            state.connections.append((esme, smsc))
            for args in ((esme, smsc, "out"), (smsc, esme, "in")):
                worker = threading.Thread(target=pump, args=args, daemon=True)
                worker.start()
                threads.append(worker)

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield state
    finally:
        closing.set()
        acceptor.join(timeout=5)
        listener.close()
        state.drop()
        for worker in threads:
            worker.join(timeout=5)


@dataclass
class Gateway:
    url: str
    requests: list = field(default_factory=list)  # (headers, body bytes)
    answers: list = field(default_factory=list)  # (status, JSON body) to give, in order


@contextmanager
def http_gateway():
    """An SMS gateway on loopback: records requests and answers with the queued answers, then
    with 200 {"messages": [{"message-id": "gw-<n>"}]}."""
    state = Gateway(url="")

    class Handler(QuietHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append((self.headers, body))
            status, answer = (state.answers.pop(0) if state.answers else
                              (200, {"messages": [{"message-id": f"gw-{len(state.requests)}"}]}))
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    with http_server(Handler) as server:
        state.url = f"http://127.0.0.1:{server.server_port}/sms/send"
        yield state
