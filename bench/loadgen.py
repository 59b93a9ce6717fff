"""Load generator for bench/load.py: simulated POS terminals over raw HTTP/1.1.

One asyncio stream per terminal (a new one per sale, or one for the run with keep_alive),
requests written by hand and answers parsed by hand (status line, Content-Length, body): no
HTTP library per call, so the generator stays cheap next to the server it measures.
Latencies come from time.perf_counter_ns().

A terminal runs the cashier flow against the POS API:
  GET  /api/v1/pos/members/lookup?phone=...      the member's card and balance
  POST /api/v1/pos/quote                          what the basket would do (max_redeem_points)
  POST /api/v1/pos/purchases                      the commit; every third one spends points
  POST /api/v1/pos/purchases/{receipt}/refunds    a full refund of every tenth commit
Writes carry an Idempotency-Key and unique receipt/refund ids, so a write resent after a
dropped keep-alive connection is safe.
"""

import asyncio
import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import quote as urlquote

OPERATIONS = ("lookup", "quote", "purchase", "refund")


@dataclass
class Recorder:
    """Latencies (ns) and non-2xx answers per operation, for one phase."""

    latencies: dict = field(default_factory=lambda: {op: [] for op in OPERATIONS})
    errors: dict = field(default_factory=lambda: {op: Counter() for op in OPERATIONS})
    first_error: dict = field(default_factory=dict)
    waits: list = field(default_factory=list)  # open loop: scheduled time -> terminal free
    spends: int = 0

    def add(self, op: str, status: int, latency_ns: int, body: bytes) -> None:
        self.latencies[op].append(latency_ns)
        if not 200 <= status < 300:
            self.errors[op][status] += 1
            self.first_error.setdefault(op, f"{status} {body[:300].decode(errors='replace')}")


class Connection:
    """One keep-alive HTTP/1.1 connection with a terminal's key."""

    def __init__(self, host: str, port: int, key: str):
        self.host, self.port = host, port
        self.fixed = f"Host: {host}:{port}\r\nAuthorization: Bearer {key}\r\n".encode()
        self.reader = self.writer = None
        self.reconnects = 0

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def request(self, method: str, path: str, body=None, extra: bytes = b""):
        payload = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
        head = f"{method} {path} HTTP/1.1\r\n".encode() + self.fixed + extra
        if body is not None:
            head += b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(payload)
        message = head + b"\r\n" + payload
        for attempt in range(2):
            if self.writer is None:
                # asyncio sets TCP_NODELAY on stream sockets itself.
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            try:
                self.writer.write(message)
                header = await self.reader.readuntil(b"\r\n\r\n")
                break
            except (ConnectionError, asyncio.IncompleteReadError):
                # The server dropped an idle keep-alive connection: open a new one, send again.
                self.close()
                if attempt:
                    raise
                self.reconnects += 1
        lines = header.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length, close = 0, False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        data = await self.reader.readexactly(length) if length else b""
        if close:
            self.close()
        return status, data


class Terminal:
    """A simulated cash register: its connection, its counters, its random numbers."""

    def __init__(self, index: int, conn: Connection, phones: list[str], run_tag: str, seed: str,
                 keep_alive: bool = False):
        self.conn, self.phones, self.keep_alive = conn, phones, keep_alive
        self.tag = f"{run_tag}-t{index}"
        self.rng = random.Random(seed)
        self.sales = 0
        self.commits = 0

    async def _call(self, rec: Recorder, op: str, method: str, path: str, body=None,
                    extra: bytes = b"", late_ns: int = 0):
        started = time.perf_counter_ns()
        try:
            status, data = await self.conn.request(method, path, body, extra)
        except (OSError, asyncio.IncompleteReadError) as error:
            # No answer at all (a worker killed, the server gone): an error with status 0.
            self.conn.close()
            status, data = 0, repr(error).encode()
        rec.add(op, status, time.perf_counter_ns() - started + late_ns, data)
        return status, data

    async def sale(self, rec: Recorder, late_ns: int = 0) -> None:
        """One customer at the counter. late_ns (open loop) is how long the customer waited
        for a free terminal: added to every operation's latency, as the time it should have
        started is that much earlier (no coordinated omission).

        Without keep_alive the sale's requests share one connection, closed at the end: a real
        till's customers are further apart than the server keeps an idle connection (gunicorn:
        2 s), so each sale reaches whichever web worker accepts it first. Kept open for good,
        a connection stays with the worker that accepted it, and 16 terminals spread unevenly
        over 4 single-threaded workers left the box half idle in some runs."""
        try:
            await self._sale(rec, late_ns)
        finally:
            if not self.keep_alive:
                self.conn.close()

    async def _sale(self, rec: Recorder, late_ns: int) -> None:
        rng = self.rng
        self.sales += 1
        phone = rng.choice(self.phones)
        status, data = await self._call(
            rec, "lookup", "GET", f"/api/v1/pos/members/lookup?phone={urlquote(phone)}",
            late_ns=late_ns)
        if status != 200:
            return
        card = json.loads(data)
        basket = {"member": {"id": card["id"]}, "lines": [
            {"line_id": "1", "amount": rng.randint(10_000, 200_000), "product_group": "food"},
            {"line_id": "2", "amount": rng.randint(1_000, 50_000), "product_group": "drinks"},
        ]}
        status, data = await self._call(rec, "quote", "POST", "/api/v1/pos/quote", basket,
                                        late_ns=late_ns)
        if status != 200:
            return
        spend = 0
        if self.sales % 3 == 0:
            # Within the program's cap and a quarter of the balance: other terminals may spend
            # on the same member meanwhile (--hot), and a 409 is not what is measured.
            spend = min(json.loads(data)["max_redeem_points"], card["available"] // 4,
                        rng.randint(100, 2_000))
            rec.spends += spend > 0
        receipt = f"{self.tag}-{self.sales}"
        status, _ = await self._call(
            rec, "purchase", "POST", "/api/v1/pos/purchases",
            {**basket, "receipt_id": receipt, "points_to_spend": spend,
             "payment_method": "card"},
            extra=b"Idempotency-Key: %s\r\n" % receipt.encode(), late_ns=late_ns)
        if status != 201:
            return
        self.commits += 1
        if self.commits % 10 == 0:
            await self._call(
                rec, "refund", "POST", f"/api/v1/pos/purchases/{receipt}/refunds",
                {"refund_id": f"{receipt}-r"},
                extra=b"Idempotency-Key: %s-r\r\n" % receipt.encode(), late_ns=late_ns)


def open_terminals(host: str, port: int, keys: list[str], phones: list[str],
                   run_tag: str, keep_alive: bool = False) -> list[Terminal]:
    return [Terminal(i, Connection(host, port, key), phones, run_tag, seed=f"{run_tag}-{i}",
                     keep_alive=keep_alive)
            for i, key in enumerate(keys)]


def close_terminals(terminals: list[Terminal]) -> int:
    for terminal in terminals:
        terminal.conn.close()
    return sum(terminal.conn.reconnects for terminal in terminals)


async def closed_loop(terminals: list[Terminal], seconds: float) -> tuple[Recorder, float]:
    """Every terminal sells back to back for `seconds`: the maximum throughput."""
    rec = Recorder()
    started = time.perf_counter()
    end = started + seconds

    async def run(terminal):
        while time.perf_counter() < end:
            await terminal.sale(rec)

    await asyncio.gather(*(run(terminal) for terminal in terminals))
    return rec, time.perf_counter() - started


async def open_loop(terminals: list[Terminal], seconds: float,
                    rate: float) -> tuple[Recorder, float]:
    """Customers arrive on a fixed schedule, `rate` per second, whatever the answers' speed;
    each takes the first free terminal. Latency counts from the scheduled arrival."""
    rec = Recorder()
    idle = asyncio.Queue()
    for terminal in terminals:
        idle.put_nowait(terminal)
    interval = int(1e9 / rate)
    start = time.perf_counter_ns() + 10_000_000
    end = start + int(seconds * 1e9)
    pending = set()

    async def customer(scheduled):
        terminal = await idle.get()
        late = max(0, time.perf_counter_ns() - scheduled)
        rec.waits.append(late)
        try:
            await terminal.sale(rec, late_ns=late)
        finally:
            idle.put_nowait(terminal)

    n = 0
    while (scheduled := start + n * interval) < end:
        delay = scheduled - time.perf_counter_ns()
        if delay > 0:
            await asyncio.sleep(delay / 1e9)
        task = asyncio.create_task(customer(scheduled))
        pending.add(task)
        task.add_done_callback(pending.discard)
        n += 1
    await asyncio.gather(*pending)
    return rec, (time.perf_counter_ns() - start) / 1e9
