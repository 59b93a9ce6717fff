"""A real webhook receiver on loopback, and the real task worker run in this process.

Tasks run the way production runs them: the services queue them with `transaction.on_commit`
into django-tasks-db's database backend (the project's TASKS setting), and `run_worker()` runs
that backend's own `db_worker` command in batch mode — it executes every task that is ready,
deferred retries included once their `run_after` has come (moved with time-machine), then
stops. The tests that need it are transactional (`django_db(transaction=True)`), so commits,
rollbacks and on_commit callbacks are real ones.
"""

import hashlib
import hmac
import io
import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message

from django.core.management import call_command

from tests.loopback import QuietHandler, http_server


@dataclass
class Received:
    path: str
    headers: Message
    body: bytes


@dataclass
class Receiver:
    url: str
    requests: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answers to give, in order; then 200
    gate: threading.Event | None = None  # when set up, each request waits for it to open
    arrived: threading.Event = field(default_factory=threading.Event)


@contextmanager
def serve():
    """A webhook receiver on 127.0.0.1 (a free port) that records what it gets."""
    state = Receiver(url="")

    class Handler(QuietHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append(Received(self.path, self.headers, body))
            state.arrived.set()
            if state.gate is not None:
                state.gate.wait(timeout=60)  # a safety net, not part of any assertion
            status = state.statuses.pop(0) if state.statuses else 200
            answer = f"answer {len(state.requests)}".encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    with http_server(Handler) as server:
        state.url = f"http://127.0.0.1:{server.server_port}/hooks/kopilka"
        try:
            yield state
        finally:
            if state.gate is not None:
                state.gate.set()  # a handler still waiting must not block the shutdown


def run_worker() -> str:
    """django-tasks-db's worker over every ready task, then stop. The command installs its own
    signal handlers (it is meant to own its process): put pytest's back afterwards."""
    signals = [signal.SIGINT, signal.SIGTERM, signal.SIGQUIT]
    saved = {number: signal.getsignal(number) for number in signals}
    out = io.StringIO()
    try:
        call_command("db_worker", batch=True, startup_delay=False, reload=False, interval=0,
                     verbosity=0, stdout=out)
    finally:
        for number, handler in saved.items():
            signal.signal(number, handler)
    return out.getvalue()


def check_signature(secret: str, received: Received) -> int:
    """The receiver's check, written out independently of kopilka.webhooks.signing: HMAC-SHA256
    over "<t>.<raw body>" with the endpoint's secret. Returns the signed timestamp."""
    parts = dict(part.split("=", 1) for part in received.headers["Kopilka-Signature"].split(","))
    signed = parts["t"].encode() + b"." + received.body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(parts["v1"], expected), "the signature does not verify"
    return int(parts["t"])


def send(client, method, url, body=None):
    return getattr(client, method)(url, body, content_type="application/json")


def register(client, url, events, **extra):
    response = send(client, "post", "/api/v1/manage/webhooks",
                    {"url": url, "events": events, **extra})
    assert response.status_code == 201, response.json()
    return response.json()
