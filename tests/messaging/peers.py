"""Real protocol peers on loopback for the backends to talk to: an SMTP server (aiosmtpd), an
SMPP 3.4 server (smpp34's SMSC side) and a JSON SMS gateway (http.server)."""

import asyncio
import json
import socket
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import smpp34
from aiosmtpd.controller import Controller


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


@dataclass
class Smsc:
    port: int
    submits: list = field(default_factory=list)  # smpp34.SubmitSmEvent, in arrival order
    binds: list = field(default_factory=list)  # system ids that bound
    unbinds: int = 0
    reject_with: int | None = None  # a command_status to answer every submit_sm with


@contextmanager
def smpp_server():
    """smpp34's SMSC on 127.0.0.1: accepts binds, answers each submit_sm with message id
    "smsc-<n>" (or the configured rejection), records everything."""
    state = Smsc(port=free_port())
    loop = asyncio.new_event_loop()
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
            elif isinstance(event, smpp34.SubmitSmEvent):
                state.submits.append(event)
                if state.reject_with is not None:
                    event.reject(state.reject_with)
                else:
                    event.accept(message_id=f"smsc-{len(state.submits)}")
            elif isinstance(event, smpp34.Unbound):
                state.unbinds += 1

    server = asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=10)
    consumer = asyncio.run_coroutine_threadsafe(serve(), loop)
    try:
        yield state
    finally:
        consumer.cancel()

        async def stop():
            await server.stop()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


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

    class Handler(BaseHTTPRequestHandler):
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

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_port}/sms/send"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
