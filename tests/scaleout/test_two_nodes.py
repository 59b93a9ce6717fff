"""The scale-out path on one machine: two web nodes behind nginx, one PostgreSQL database,
Celery workers on RabbitMQ and the rate-limit counters in Redis — and one node killed mid-run.

Four tills sell through the proxy (look up → quote → commit with an Idempotency-Key, sent
again after a lost answer, as examples/pos_client.py does; every fifth commit is sent twice).
After a third of the sales one web node is killed with SIGKILL (the master and its workers:
a crashed host, no graceful stop). Then: every sale a till was told was accepted is in the
database exactly once, none is there that a till did not send, every member's balance is
exactly its start plus 5 % of its sales, the purchases' SMS went out through Celery, each
once, `kopilka verify-ledger` is clean, and the two nodes counted their requests in the same
Redis.

PostgreSQL only (several web nodes need it: SQLite is for one machine), and it needs nginx,
Redis and RabbitMQ on this machine: .ci/run installs and starts them and sets
KOPILKA_REQUIRE_BROKERS=1, which turns a skip for a missing one into a failure. The figures of
a run are printed (pytest -s). Documented in docs/operations.md, "Scale-out".
"""

import datetime
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection
from django.test import override_settings
from django_scopes import scopes_disabled

import kopilka.celery
from kopilka.cli import web_server_command
from kopilka.core import rls
from kopilka.core.actor import Actor
from kopilka.members import services as members
from kopilka.members.models import Member
from kopilka.messaging import services as messaging
from kopilka.messaging.models import Message
from kopilka.processing import services as processing
from kopilka.processing.models import Purchase

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow,
              pytest.mark.xdist_group("scaleout")]

AMQP = os.environ.get("KOPILKA_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
REDIS = os.environ.get("KOPILKA_TEST_SCALEOUT_REDIS_URL", "redis://127.0.0.1:6379/4")
TILLS = 4
SALES_PER_TILL = 20
KILL_AFTER = TILLS * SALES_PER_TILL // 3  # accepted sales before node A dies
ROLE_PASSWORD = "scale-out-app"
PHONE: dict[int, str] = {}  # member -> phone, as the query string carries it
WAIT = 90  # a backstop against a hang, never part of an assertion


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answers(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError:
        return False
    return True


def require(what: str, present: bool) -> None:
    if present:
        return
    why = f"{what}: the two-node run is untested (.ci/run provides it)"
    if os.environ.get("KOPILKA_REQUIRE_BROKERS") == "1":
        pytest.fail(why)
    pytest.skip(why)


def database_url(role: str | None = None, password: str = "") -> str:
    db = connection.settings_dict
    user = quote(role or db["USER"] or "", safe="") + (
        ":" + quote(password or db["PASSWORD"], safe="") if password or db["PASSWORD"] else "")
    return f"postgres://{user}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (path for path in ("/usr/sbin/nginx", "/sbin/nginx") if Path(path).exists()), None)


NGINX_CONF = """
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
daemon off;
{user}
events {{ worker_connections 512; }}
http {{
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    log_format nodes '$upstream_addr $status $request_method $uri';
    access_log {dir}/access.log nodes;
    upstream kopilka {{
        server 127.0.0.1:{a} max_fails=1 fail_timeout=60s;
        server 127.0.0.1:{b} max_fails=1 fail_timeout=60s;
        keepalive 8;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://kopilka;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $remote_addr;
            # Every POS write carries an Idempotency-Key (the receipt id): sending a POST
            # again to the other node is safe, so nginx may do it when a node dies.
            proxy_next_upstream error timeout http_502 non_idempotent;
            proxy_connect_timeout 2s;
            proxy_read_timeout 30s;
        }}
    }}
}}
"""


class Cluster:
    """Two web nodes (the command `kopilka up` runs), nginx in front, a Celery worker."""

    def __init__(self, folder: Path, env: dict):
        self.folder, self.env = folder, env
        self.ports = {"a": free_port(), "b": free_port()}
        self.port = free_port()
        self.nodes: dict[str, subprocess.Popen] = {}
        self.others: list[subprocess.Popen] = []

    def log(self, name: str) -> str:
        path = self.folder / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def spawn(self, name: str, command: list[str]) -> subprocess.Popen:
        with (self.folder / f"{name}.log").open("wb") as log:
            return subprocess.Popen(command, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)

    def start(self) -> None:
        self.others.append(self.spawn("worker", [sys.executable, "-m", "kopilka.cli", "worker",
                                                 "--no-tick"]))
        for name, port in self.ports.items():
            self.nodes[name] = self.spawn(f"node-{name}", web_server_command("127.0.0.1", port))
        conf = self.folder / "nginx.conf"
        conf.write_text(NGINX_CONF.format(
            dir=self.folder, a=self.ports["a"], b=self.ports["b"], port=self.port,
            user="user root;" if os.geteuid() == 0 else ""))
        self.others.append(self.spawn("nginx", [nginx_binary(), "-c", str(conf), "-p",
                                                str(self.folder)]))
        deadline = time.monotonic() + WAIT
        while not (all(self.health(port) for port in [*self.ports.values(), self.port])
                   and " ready." in self.log("worker")):
            for name, process in [*self.nodes.items(), ("others", None)]:
                if process is not None and process.poll() is not None:
                    raise AssertionError(f"node {name} exited:\n{self.log(f'node-{name}')}")
            if time.monotonic() > deadline:
                raise AssertionError("the cluster did not start:\n" + "\n".join(
                    self.log(name) for name in ("node-a", "node-b", "worker", "nginx")))
            time.sleep(0.2)

    @staticmethod
    def health(port: int) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as answer:
                return answer.status == 200
        except OSError:
            return False

    def kill(self, name: str) -> None:
        os.killpg(self.nodes[name].pid, signal.SIGKILL)
        self.nodes[name].wait()

    def stop(self) -> None:
        for process in [*self.nodes.values(), *self.others]:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in [*self.nodes.values(), *self.others]:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


class Till:
    """One cash register: the POS calls through the proxy, each sent again (same body, same
    Idempotency-Key) after a lost answer or a 5xx, as a real till does."""

    def __init__(self, base: str, key: str):
        self.base, self.key = base + "/api/v1/pos", key
        self.retries = 0  # sent again after a 5xx or no answer
        self.replays = 0  # sent again on purpose, as after an answer lost on the way back

    def call(self, method: str, path: str, body: dict | None = None,
             idempotency_key: str | None = None) -> dict:
        headers = {"Authorization": f"Bearer {self.key}", "Accept-Language": "en",
                   "Content-Type": "application/json"}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        data = json.dumps(body).encode() if body is not None else None
        for _attempt in range(20):
            request = urllib.request.Request(self.base + path, data=data, headers=headers,
                                             method=method)
            try:
                with urllib.request.urlopen(request, timeout=30) as answer:
                    return json.loads(answer.read())
            except urllib.error.HTTPError as error:
                if error.code < 500 and error.code != 429:
                    raise AssertionError(
                        f"{method} {path}: {error.code} {error.read()!r}") from None
            except (urllib.error.URLError, TimeoutError, ConnectionError):
                pass
            self.retries += 1
            time.sleep(0.2)
        raise AssertionError(f"{method} {path}: no answer after 20 attempts")


@pytest.fixture
def shop(alice):
    """Alice sends every message at once; eight members agreed to them."""
    actor = Actor.cli()
    with scopes_disabled():
        messaging.save_settings(alice.merchant, transactional="all",
                                quiet_from=datetime.time(0), quiet_to=datetime.time(0),
                                actor=actor)
        people = [processing.enrol(alice.merchant, phone=f"+7916700000{index}",
                                   first_name=f"Guest {index}", channel=Member.Channel.CASHIER,
                                   actor=actor) for index in range(8)]
        for person in people:
            members.grant_consent(person, members.ConsentGiven(kind="messages",
                                                               text_version="v1"),
                                  channel="cashier", actor=actor)
    PHONE.update({person.pk: f"%2B7916700000{index}" for index, person in enumerate(people)})
    return alice, people


def delete_queue(url: str, name: str) -> None:
    """The run's queue and its exchange, as Celery declared them (tests/tasks/test_celery.py)."""
    with override_settings(CELERY_BROKER_URL=url, CELERY_TASK_DEFAULT_QUEUE=name):
        app = kopilka.celery.create_app()
        with app.connection_for_write() as broker:
            queue = app.amqp.queues[name](broker.default_channel)
            queue.declare()
            queue.delete()
            queue.exchange.delete()
        app.close()


@contextmanager
def app_role(enabled: bool) -> Iterator[str | None]:
    """With row-level security: the policies installed in the test database and a login role
    that is neither a superuser, nor the tables' owner, nor has BYPASSRLS — the application's
    role of docs/operations.md; both removed afterwards."""
    if not enabled:
        yield None
        return
    role = f"kopilka_scaleout_app_{uuid.uuid4().hex[:8]}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{ROLE_PASSWORD}' NOSUPERUSER "
                       f"NOBYPASSRLS")
        cursor.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
    try:
        rls.install(app_role=role)
        yield role
    finally:
        rls.uninstall()
        with connection.cursor() as cursor:
            cursor.execute(f"DROP OWNED BY {role}")
            cursor.execute(f"DROP ROLE {role}")


@pytest.mark.parametrize("row_level_security", [False, True], ids=["plain", "rls"])
def test_two_nodes_lose_nothing_when_one_dies(shop, tmp_path, row_level_security):
    if connection.vendor != "postgresql":
        pytest.skip("several web nodes need PostgreSQL (.ci/run's second pass)")
    require("nginx (apt-get install nginx-light)", nginx_binary() is not None)
    require("Redis on 127.0.0.1:6379", answers("127.0.0.1", 6379))
    require("RabbitMQ on 127.0.0.1:5672", answers("127.0.0.1", 5672))
    alice, people = shop
    import redis

    counters = redis.Redis.from_url(REDIS)
    earlier = set(counters.keys("*kopilka:ratelimit:pos:*"))
    sms_file = tmp_path / "sms.jsonl"
    queue = f"kopilka-scaleout-{uuid.uuid4().hex[:12]}"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "kopilka.settings",
           "DATABASE_URL": database_url(), "KOPILKA_DATA_DIR": str(tmp_path / "var"),
           "KOPILKA_RLS": "off",
           "KOPILKA_WEB_WORKERS": "2", "KOPILKA_WEB_THREADS": "2",
           "KOPILKA_TASKS_BACKEND": "celery", "KOPILKA_BROKER_URL": AMQP,
           "KOPILKA_CELERY_QUEUE": queue, "CELERY_WORKER_HOSTNAME": f"{queue}@%h",
           "KOPILKA_REDIS_URL": REDIS,
           "KOPILKA_SMS_BACKEND": "file", "KOPILKA_SMS_PRICE": "0",
           "KOPILKA_SMS_OPTIONS": json.dumps({"path": str(sms_file)})}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with scopes_disabled():  # the set-up's welcome messages went to the database backend
        last_message = max(Message.objects.values_list("pk", flat=True), default=0)
    with ExitStack() as stack:
        if role := stack.enter_context(app_role(row_level_security)):
            env.update(DATABASE_URL=database_url(role, ROLE_PASSWORD), KOPILKA_RLS="on")
        stack.callback(delete_queue, AMQP, queue)
        cluster = Cluster(tmp_path, env)
        stack.callback(cluster.stop)
        started = time.monotonic()
        cluster.start()
        base = f"http://127.0.0.1:{cluster.port}"
        tills = [Till(base, alice.pos_key) for _ in range(TILLS)]
        start = {person.pk: tills[0].call("GET", f"/members/lookup?phone={PHONE[person.pk]}")
                 ["available"] for person in people}
        accepted: list[dict] = []
        sent: list[tuple[str, int, int]] = []  # receipt, member, amount
        lock = threading.Lock()
        killed = threading.Event()
        killed_at: list[int] = []
        errors: list[BaseException] = []

        def sell(number: int, till: Till) -> None:
            try:
                for sale in range(SALES_PER_TILL):
                    person = people[(number * SALES_PER_TILL + sale) % len(people)]
                    amount = 1000 + 20 * (number * SALES_PER_TILL + sale)  # 5 % is whole
                    receipt = f"T{number}-{sale:04d}"
                    lines = [{"line_id": "1", "amount": amount}]
                    found = till.call("GET", f"/members/lookup?phone={PHONE[person.pk]}")
                    quoted = till.call("POST", "/quote", {"member": {"id": found["id"]},
                                                          "lines": lines, "points_to_spend": 0})
                    assert quoted["payable"] == amount
                    with lock:
                        sent.append((receipt, person.pk, amount))
                    done = till.call("POST", "/purchases", {
                        "receipt_id": receipt, "member": {"id": found["id"]}, "lines": lines,
                        "points_to_spend": 0}, idempotency_key=receipt)
                    if sale % 5 == 4:  # the answer "lost": the till sends the sale again
                        again = till.call("POST", "/purchases", {
                            "receipt_id": receipt, "member": {"id": found["id"]},
                            "lines": lines, "points_to_spend": 0}, idempotency_key=receipt)
                        assert again["purchase_id"] == done["purchase_id"]
                        till.replays += 1
                    with lock:
                        accepted.append(done | {"receipt": receipt, "amount": amount,
                                                "member_pk": person.pk})
                        if len(accepted) >= KILL_AFTER and not killed.is_set():
                            killed.set()
                            killed_at.append(len(accepted))
                            cluster.kill("a")
            except BaseException as error:  # noqa: BLE001 - handed to the test's thread
                errors.append(error)

        threads = [threading.Thread(target=sell, args=(number, till))
                   for number, till in enumerate(tills)]
        ran = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        ran = time.monotonic() - ran
        assert not errors, errors
        assert killed_at and cluster.nodes["a"].poll() is not None
        assert cluster.nodes["b"].poll() is None

        # Every accepted sale is in the database exactly once, and nothing else is.
        with scopes_disabled():
            stored = list(Purchase.objects.filter(merchant=alice.merchant)
                          .values_list("receipt_id", "pk", "member_id", "total"))
        receipts = sorted(row[0] for row in stored)
        assert receipts == sorted(sale["receipt"] for sale in accepted)
        assert len(receipts) == len(set(receipts)) == TILLS * SALES_PER_TILL
        assert {row[0]: row[1] for row in stored} == {
            sale["receipt"]: sale["purchase_id"] for sale in accepted}
        # Balances exact: the start plus 5 % of every sale, through the proxy.
        for person in people:
            expected = start[person.pk] + sum(
                amount * 5 // 100 for _, member, amount in sent if member == person.pk)
            assert tills[0].call("GET", f"/members/lookup?phone={PHONE[person.pk]}")[
                "available"] == expected

        # The purchases' SMS all went out, each once, through the Celery worker on RabbitMQ.
        # A node killed between a commit and its publish to the broker loses that task: the
        # message waits in the outbox for the tick (every minute in production), run once here
        # when the worker has done what it got.
        def unsent(wait: float) -> tuple[int, int]:
            deadline = time.monotonic() + wait
            while True:
                with scopes_disabled():
                    messages = Message.objects.filter(merchant=alice.merchant,
                                                      pk__gt=last_message)
                    total, pending = messages.count(), messages.exclude(
                        status=Message.Status.SENT).count()
                if not pending or time.monotonic() > deadline:
                    return total, pending
                time.sleep(0.2)

        total, lost = unsent(15)
        if lost:
            tick = subprocess.run([sys.executable, "-m", "kopilka.cli", "tick"], env=env,
                                  capture_output=True, text=True, timeout=WAIT)
            assert tick.returncode == 0, tick.stdout + tick.stderr
            total, pending = unsent(WAIT)
            assert pending == 0
        assert total >= TILLS * SALES_PER_TILL // 2
        sms = [json.loads(line) for line in sms_file.read_text().splitlines()]
        assert len(sms) == len({entry["id"] for entry in sms})  # each message once
        # The tick also delivers what the set-up left in the outbox (its welcome messages, when
        # it ran): only this run's messages are counted against the sales.
        with scopes_disabled():
            ours = set(Message.objects.filter(merchant=alice.merchant, pk__gt=last_message)
                       .values_list("pk", flat=True))
        assert {entry["id"] for entry in sms if entry["id"] > last_message} == ours
        assert len(ours) == total
        assert "Task kopilka.messaging.tasks.deliver[" in cluster.log("worker")

        # Both nodes served, and counted their rate limits in the one Redis.
        access = (tmp_path / "access.log").read_text().splitlines()
        served = {line.split()[0].split(",")[-1].strip() for line in access}
        assert {f"127.0.0.1:{port}" for port in cluster.ports.values()} <= served
        counted = set(counters.keys("*kopilka:ratelimit:pos:*")) - earlier
        assert counted  # this run's POS key, counted in the shared Redis
        proxy_retries = sum("," in line.split(" ")[0] or line.split()[0].endswith(",")
                            for line in access)

        verify = subprocess.run([sys.executable, "-m", "kopilka.cli", "verify-ledger"],
                                env=env, capture_output=True, text=True, timeout=WAIT)
        assert verify.returncode == 0, verify.stdout + verify.stderr
        # Every account, even as the application's role under row-level security (the
        # command works with scopes switched off: kopilka.merchant is "*").
        assert verify.stdout.strip().splitlines()[-1] == f"OK: {len(people) + 1} accounts verified."
        print(f"\nscale-out ({'row-level security' if role else 'plain'}): "
              f"{len(accepted)} sales by {TILLS} tills through nginx, node a "
              f"killed after {killed_at[0]}; commits sent again {sum(t.replays for t in tills)}, "
              f"till retries {sum(t.retries for t in tills)}, "
              f"nginx retries on the other node {proxy_retries}; sales took {ran:.1f} s, "
              f"the whole run {time.monotonic() - started:.1f} s; {len(sms)} SMS, {lost} of them "
              f"sent by the tick after their task died with node a; "
              f"verify-ledger: {verify.stdout.strip().splitlines()[-1]}")
