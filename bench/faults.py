"""Fault runs: kill web workers, kill the task worker, restart PostgreSQL, soak — then check
that nothing was lost or done twice.

Not a test. Run as root (it starts its own PostgreSQL as the `postgres` OS user):

    .venv/bin/python bench/faults.py [--run web-kill|worker-kill|pg-restart|soak|all]
                                     [--members 2000] [--soak-seconds 600]

Everything runs on loopback against a PRIVATE PostgreSQL cluster this script creates
(`initdb` into a temporary directory, `pg_ctl` on a free port from 55432) and removes at the
end, so restarting it disturbs nobody; the machine's shared PostgreSQL is never touched. The
web server is gunicorn exactly as `kopilka up` starts it (`kopilka.cli.web_server_command`),
with `KOPILKA_RATE_LIMIT_POS=0`. Clients are threads with keep-alive `http.client`
connections committing purchases (`POST /api/v1/pos/purchases` with an `Idempotency-Key` and a
`receipt_id`); on a lost connection, a 5xx or a 409 "key in use" they send the same request
again (same key, same receipt) until it succeeds.

1. **web-kill** — `kill -9` a gunicorn worker every 1-2 s while the clients buy.
2. **worker-kill** — members born today with a birthday gift; `kopilka tick` grants the gifts
   and queues the SMS, `kopilka worker` sends them through the `http` backend to a gateway on
   loopback that records each one; the worker's process group is killed with SIGKILL
   mid-batch and started again. The message it held waits out its claim's lease (2 minutes)
   and is sent by the worker's tick.
3. **pg-restart** — `pg_ctl restart -m fast` under load: the clients must see 503 with
   `Retry-After` (never a 500) and the same gunicorn workers must serve again afterwards.
4. **soak** — steady load for --soak-seconds; the RSS of every gunicorn worker every 10 s.

Every run ends with checks (each receipt one purchase with its ledger entries, balances equal
to what the answers said, no idempotency record left in progress, `kopilka verify-ledger`),
prints one JSON line, and bench/results/faults.md gets a table per run.
"""

import argparse
import contextlib
import http.client
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from bench_commit import load, setup_django  # noqa: E402

PG_BIN = Path("/usr/lib/postgresql/15/bin")
KOPILKA = ROOT / ".venv" / "bin" / "kopilka"
PURCHASES = "/api/v1/pos/purchases"
DATABASE = "kopilka_faults"
WELCOME = 10_000  # bench_commit.load()'s program: every member starts with it
BIRTHDAY_POINTS = 5_000
GATEWAY_DELAY = 0.03  # seconds per SMS: the batch lasts long enough to be killed in the middle


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def free_port(preferred: int = 0) -> int:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", preferred))
        except OSError:
            probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- the private PostgreSQL -----------------------------------------------------------------


class Cluster:
    """A throwaway PostgreSQL cluster owned by the `postgres` OS user, on 127.0.0.1:port."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="kopilka-faults-pg-"))
        shutil.chown(self.dir, "postgres", "postgres")
        self.data = self.dir / "data"
        self.port = free_port(55432)
        self._as_postgres([PG_BIN / "initdb", "-D", self.data, "-U", "postgres",
                           "--auth=trust", "--encoding=UTF8", "--no-sync"])
        self.pg_ctl("start", "-o", f"-p {self.port} -k {self.dir} "
                                   "-c listen_addresses=127.0.0.1 -c max_connections=100")
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{DATABASE}"')

    def url(self, name: str = DATABASE) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def _as_postgres(self, command: list) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *map(str, command)], check=True,
                       stdout=subprocess.DEVNULL, cwd=self.dir)

    def pg_ctl(self, action: str, *options: str) -> None:
        # restart reuses the start's options (postmaster.opts)
        self._as_postgres([PG_BIN / "pg_ctl", "-D", self.data, "-l", self.dir / "postgres.log",
                           "-w", "-t", "60", action, *options])

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.pg_ctl("stop", "-m", "immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


# --- processes ------------------------------------------------------------------------------


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text()
                # the command may hold spaces and parentheses: fields start after the last ")"
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
    return sorted(found)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Web:
    """gunicorn as `kopilka up` runs it, in its own process group."""

    def __init__(self, env: dict, workdir: Path):
        from kopilka.cli import web_server_command

        self.port = free_port()
        self.log = open(workdir / "gunicorn.log", "ab")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(web_server_command("127.0.0.1", self.port), env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, http.client.HTTPException):
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/health")
                if conn.getresponse().status == 200 and len(self.workers()) >= 1:
                    return
            time.sleep(0.3)
        raise RuntimeError("gunicorn did not start: see gunicorn.log")

    def workers(self) -> list[int]:
        return children_of(self.proc.pid)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.log.close()


# --- the clients ----------------------------------------------------------------------------


class Load:
    """Client threads committing purchases until stopped; each request is retried as it was
    (same Idempotency-Key, same receipt) until it gets its 200/201."""

    def __init__(self, port: int, pos_key: str, member_ids: list[int], threads: int,
                 prefix: str, pause: float = 0.0, seed: int = 1):
        self.port, self.pos_key, self.member_ids = port, pos_key, member_ids
        self.prefix, self.pause = prefix, pause
        self.stats = Counter()
        self.accrued = {}  # receipt -> (member id, points accrued) from the answer
        self.events = []  # (monotonic time, "ok" | "503" | "500" | "conn")
        self.problems = []  # answers that were wrong, kept for the report
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._client, args=(n, seed + n), daemon=True)
                        for n in range(threads)]

    def start(self) -> "Load":
        for thread in self.threads:
            thread.start()
        return self

    def stop(self, give_up_after: float = 90) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(give_up_after)
        self.stats["stuck_clients"] = sum(thread.is_alive() for thread in self.threads)

    def _note(self, kind: str) -> None:
        with self.lock:
            self.stats[kind] += 1
            self.events.append((time.monotonic(), kind))

    def _client(self, n: int, seed: int) -> None:
        rng = random.Random(seed)
        conn = None
        i = 0
        while not self.stopping.is_set():
            receipt = f"{self.prefix}-{n}-{i}"
            member = rng.choice(self.member_ids)
            body = json.dumps({
                "member": {"id": member}, "receipt_id": receipt,
                "lines": [{"line_id": "1", "amount": rng.randint(10_000, 200_000),
                           "product_group": "food"}],
            }).encode()
            headers = {"Authorization": f"Bearer {self.pos_key}", "Idempotency-Key": receipt,
                       "Content-Type": "application/json", "Accept-Language": "en"}
            while True:  # the same request until it succeeds
                try:
                    if conn is None:
                        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                    conn.request("POST", PURCHASES, body, headers)
                    response = conn.getresponse()
                    data = response.read()
                except (OSError, http.client.HTTPException):
                    self._note("conn")  # a killed worker, a closed keep-alive connection
                    if conn is not None:
                        conn.close()
                    conn = None
                    time.sleep(0.1)
                    continue
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
                status = response.status
                if status in (200, 201):
                    answer = json.loads(data)
                    with self.lock:
                        self.accrued[receipt] = (member, answer["points_accrued"])
                    # A replay: the first attempt committed but its answer was lost (a killed
                    # worker); 200 is the purchase's own replay of the receipt.
                    replayed = response.getheader("Idempotent-Replayed") == "true"
                    self._note("ok_replayed" if replayed or status == 200 else "ok")
                    break
                if status == 503:
                    problem = json.loads(data)
                    retry_after = response.getheader("Retry-After")
                    if problem.get("type") != "/problems/database-unavailable" or not retry_after:
                        self.problems.append((status, dict(response.getheaders()), data[:300]))
                    self._note("503" if retry_after else "503_without_retry_after")
                    time.sleep(int(retry_after or 1))
                    continue
                if status == 409 and b"idempotency-key-in-use" in data:
                    self._note("409_in_use")  # the first attempt is still running: wait
                    time.sleep(float(response.getheader("Retry-After") or 1))
                    continue
                self._note(str(status))
                self.problems.append((status, dict(response.getheaders()), data[:300]))
                if status >= 500:
                    time.sleep(0.2)
                    continue
                break  # a 4xx: a bug in this client or the server; reported, not retried
            i += 1
            if self.pause:
                time.sleep(self.pause)
        if conn is not None:
            conn.close()


# --- checks ---------------------------------------------------------------------------------


def balances(member_ids: list[int]) -> dict[int, int]:
    from django.db import connections
    from django_scopes import scopes_disabled

    from kopilka.ledger.models import Account

    connections.close_all()  # the cluster may have restarted under this process's connection
    with scopes_disabled():
        return {member: available + pending for member, available, pending in
                Account.objects.filter(member_id__in=member_ids)
                .values_list("member_id", "available", "pending")}


def verify_ledger(url: str) -> bool:
    done = subprocess.run([KOPILKA, "verify-ledger"], env={**os.environ, "DATABASE_URL": url},
                          capture_output=True, text=True)
    if done.returncode:
        log(f"verify-ledger failed: {done.stdout[-2000:]} {done.stderr[-2000:]}")
    return done.returncode == 0


def check_purchases(load_: Load, before: dict[int, int], url: str) -> dict:
    """Each answered receipt is one purchase with its ledger entries; each member's balance
    moved by what the answers said; no idempotency record of the run left in progress."""
    from django.db.models import Count
    from django_scopes import scopes_disabled

    from kopilka.api.models import IdempotencyRecord
    from kopilka.ledger.models import Entry
    from kopilka.processing.models import Purchase

    after = balances(list(before))
    with scopes_disabled():
        rows = list(Purchase.objects.filter(receipt_id__startswith=load_.prefix + "-")
                    .values_list("pk", "receipt_id"))
        counts = Counter(receipt for _pk, receipt in rows)
        with_entries = set(
            Entry.objects.filter(cause_type="purchase", cause_id__in=[str(pk) for pk, _ in rows])
            .values("cause_id").annotate(n=Count("id")).values_list("cause_id", flat=True)
        )
        in_progress = IdempotencyRecord.objects.filter(
            key__startswith=load_.prefix + "-", state=IdempotencyRecord.State.IN_PROGRESS
        ).count()
    expected = Counter()
    for member, points in load_.accrued.values():
        expected[member] += points
    wrong_balances = sum(after[m] - before[m] != expected[m] for m in before)
    return {
        "receipts_answered": len(load_.accrued),
        "purchases": len(rows),
        "receipts_twice": sum(n > 1 for n in counts.values()),
        "receipts_missing": len(set(load_.accrued) - set(counts)),
        "purchases_unanswered": len(set(counts) - set(load_.accrued)),
        "purchases_without_entries": sum(str(pk) not in with_entries for pk, _ in rows),
        "wrong_balances": wrong_balances,
        "idempotency_in_progress": in_progress,
        "verify_ledger": verify_ledger(url),
    }


def purchases_ok(checks: dict) -> bool:
    return (checks["verify_ledger"] and checks["purchases"] == checks["receipts_answered"]
            and not any(checks[k] for k in (
                "receipts_twice", "receipts_missing", "purchases_unanswered",
                "purchases_without_entries", "wrong_balances", "idempotency_in_progress")))


def client_errors(stats: Counter) -> dict:
    return {key: stats[key] for key in sorted(stats)}


# --- the runs -------------------------------------------------------------------------------


def run_web_kill(ctx, kills: int = 10) -> dict:
    web = Web(ctx.env, ctx.work)
    before = balances(ctx.member_ids)
    load_ = Load(web.port, ctx.pos_key, ctx.member_ids, threads=4, prefix="wk").start()
    time.sleep(2)
    killed = []
    rng = random.Random(7)
    for _n in range(kills):
        workers = web.workers()
        if workers:
            victim = rng.choice(workers)
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)
        time.sleep(rng.uniform(1, 2))
    time.sleep(2)
    load_.stop()
    web.stop()
    checks = check_purchases(load_, before, ctx.url)
    return {"run": "web-kill", "client_threads": 4, "workers_killed": len(killed),
            "clients": client_errors(load_.stats), "checks": checks,
            "bad_answers": len(load_.problems),
            "ok": purchases_ok(checks) and not load_.problems and not load_.stats["500"]}


def run_pg_restart(ctx) -> dict:
    web = Web(ctx.env, ctx.work)
    workers_before = web.workers()
    before = balances(ctx.member_ids)
    load_ = Load(web.port, ctx.pos_key, ctx.member_ids, threads=4, prefix="pg").start()
    time.sleep(4)
    restart_at = time.monotonic()
    ctx.cluster.pg_ctl("restart", "-m", "fast")
    restarted_at = time.monotonic()
    time.sleep(8)
    load_.stop()
    workers_after = web.workers()
    web.stop()
    with load_.lock:
        events = list(load_.events)
    failures = [t for t, kind in events if kind not in ("ok", "ok_replayed")]
    last_failure = max(failures, default=restart_at)
    first_ok_after = min((t for t, kind in events if kind == "ok" and t > last_failure),
                         default=None)
    checks = check_purchases(load_, before, ctx.url)
    return {
        "run": "pg-restart", "client_threads": 4,
        "restart_seconds": round(restarted_at - restart_at, 2),
        "recovered_seconds_after_restart_began": (
            None if first_ok_after is None else round(first_ok_after - restart_at, 2)),
        "ok_after_restart": sum(kind == "ok" and t > restarted_at for t, kind in events),
        "same_gunicorn_workers": workers_before == workers_after,
        "clients": client_errors(load_.stats), "checks": checks,
        "bad_answers": len(load_.problems), "bad_answer_samples": [
            [status, body.decode(errors="replace")] for status, _h, body in load_.problems[:3]],
        "ok": (purchases_ok(checks) and not load_.problems and load_.stats["503"] > 0
               and not load_.stats["500"] and first_ok_after is not None
               and workers_before == workers_after),
    }


def run_soak(ctx, seconds: int) -> dict:
    web = Web(ctx.env, ctx.work)
    before = balances(ctx.member_ids)
    load_ = Load(web.port, ctx.pos_key, ctx.member_ids, threads=2, prefix="soak",
                 pause=0.02).start()
    samples = []  # (seconds since start, {pid: rss KiB})
    started = time.monotonic()
    while True:
        elapsed = time.monotonic() - started
        samples.append((elapsed, {pid: rss_kib(pid) for pid in web.workers()}))
        if elapsed >= seconds or web.proc.poll() is not None:
            break
        time.sleep(min(10, seconds - elapsed))
    load_.stop()
    exited_early = web.proc.poll() is not None  # stopped by someone else: the run is void
    web.stop()
    checks = check_purchases(load_, before, ctx.url)
    pids = sorted(set().union(*(rss for _t, rss in samples)))
    per_worker = {}
    for pid in pids:
        series = [(t, rss[pid]) for t, rss in samples if pid in rss]
        values = [v for _, v in series]
        # The slope leaves out the first minute: a new worker's imports and caches fill it.
        steady = [(t, v) for t, v in series if t >= 60]
        slope = (statistics.linear_regression(*zip(*steady, strict=True)).slope * 60
                 if len(steady) > 2 else None)
        per_worker[pid] = {"start_kib": values[0], "end_kib": values[-1], "max_kib": max(values),
                           "slope_kib_per_min_after_1_min": slope and round(slope, 1),
                           "samples": len(values),
                           "every_minute_kib": [v for t, v in series if round(t) % 60 < 10]}
    errors = sum(n for kind, n in load_.stats.items() if kind not in ("ok", "ok_replayed"))
    return {
        "run": "soak", "seconds": seconds, "client_threads": 2,
        "purchases_per_second": round(load_.stats["ok"] / seconds, 1),
        "workers": per_worker, "clients": client_errors(load_.stats), "errors": errors,
        "gunicorn_exited_early": exited_early,
        "checks": checks, "ok": purchases_ok(checks) and errors == 0 and not exited_early,
    }


class Gateway(BaseHTTPRequestHandler):
    """An SMS gateway on loopback: records every message (by Kopilka's message id) and answers
    with a provider id."""

    received = Counter()
    lock = threading.Lock()

    def do_POST(self):
        payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        time.sleep(GATEWAY_DELAY)
        with self.lock:
            self.received[payload["ref"]] += 1
            number = sum(self.received.values())
        body = json.dumps({"id": f"gw-{number}"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def birthday_members(count: int) -> tuple[int, list[int]]:
    """A merchant giving a birthday gift, with `count` members born today (its local date)
    who agreed to messages; no transactional messages, no quiet hours."""
    from datetime import time as clock_time

    from django_scopes import scope

    from kopilka.core.actor import Actor
    from kopilka.members.services import ConsentGiven
    from kopilka.messaging import services as messaging
    from kopilka.processing import services
    from kopilka.programs import services as programs
    from kopilka.tenancy import services as tenancy

    actor = Actor.cli()
    merchant = tenancy.create_merchant("Birthdays", owner_email="bday@example.com",
                                       slug="bday", actor=actor).merchant
    today = datetime.now(ZoneInfo(merchant.timezone)).date()
    born = today.replace(year=1990) if (today.month, today.day) != (2, 29) else today
    ids = []
    with scope(merchant=merchant):
        programs.save_program(merchant, {
            "type": "bonus", "birthday_gift": {"points": BIRTHDAY_POINTS, "validity_days": 30},
            "tiers": [{"code": "base", "name": "Base",
                       "accrual": {"kind": "percent", "percent": "5"}}],
        }, actor=actor)
        messaging.save_settings(merchant, transactional="off", quiet_from=clock_time(0),
                                quiet_to=clock_time(0), actor=actor)
        for n in range(count):
            ids.append(services.enrol(
                merchant, phone=f"+7917{n:07d}", actor=actor, channel="import",
                first_name="Anna", birth_date=born, consents=[ConsentGiven("messages", "v1")],
            ).pk)
    return merchant.pk, ids


def run_worker_kill(ctx, members: int = 300, timeout: int = 300) -> dict:
    from django.db import connections
    from django.db.models import Count
    from django_scopes import scopes_disabled

    from kopilka.ledger.models import Entry
    from kopilka.messaging.models import Message

    merchant_id, member_ids = birthday_members(members)
    Gateway.received.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {**ctx.env, "KOPILKA_SMS_BACKEND": "http", "KOPILKA_SMS_OPTIONS": json.dumps({
        "url": f"http://127.0.0.1:{server.server_port}/sms", "format": "json",
        "body": {"to": "{to}", "text": "{text}", "ref": "{id}"}, "id_path": "id"})}
    # the gifts and the messages queued
    subprocess.run([KOPILKA, "tick", "--quiet"], env=env, check=True, stdout=ctx.worker_log)
    with scopes_disabled():
        queued = Message.objects.filter(merchant_id=merchant_id).count()

    def worker():
        # `kopilka worker` (db_worker and its tick) in a group of its own: SIGKILL to the group
        # is a worker host dying.
        return subprocess.Popen([KOPILKA, "worker"], env=env, start_new_session=True,
                                stdout=ctx.worker_log, stderr=subprocess.STDOUT)

    started = time.monotonic()
    first = worker()
    while sum(Gateway.received.values()) < queued // 3 and time.monotonic() - started < 60:
        time.sleep(0.05)
    sent_before_kill = sum(Gateway.received.values())
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    killed_at = time.monotonic()
    second = worker()

    def sent() -> int:
        connections.close_all()
        with scopes_disabled():
            return Message.objects.filter(merchant_id=merchant_id,
                                          status=Message.Status.SENT).count()

    while sent() < queued and time.monotonic() - started < timeout:
        time.sleep(2)
    all_sent_after_kill = round(time.monotonic() - killed_at, 1)
    os.killpg(second.pid, signal.SIGTERM)
    second.wait(30)
    server.shutdown()
    server.server_close()
    connections.close_all()
    with scopes_disabled():
        statuses = dict(Message.objects.filter(merchant_id=merchant_id)
                        .values_list("status").annotate(n=Count("id")).order_by())
        message_ids = set(Message.objects.filter(merchant_id=merchant_id)
                          .values_list("pk", flat=True))
        gifts = Counter(Entry.objects.filter(cause_type="birthday")
                        .values_list("account__member_id", flat=True))
    delivered = {int(ref) for ref in Gateway.received}
    checks = {
        "messages": queued,
        "statuses": statuses,
        "never_reached_gateway": len(message_ids - delivered),
        "duplicates_at_gateway": sum(n - 1 for n in Gateway.received.values()),
        "members_with_gift": sum(gifts[m] >= 1 for m in member_ids),
        "gifts_doubled": sum(gifts[m] > 1 for m in member_ids),
        "verify_ledger": verify_ledger(ctx.url),
    }
    return {
        "run": "worker-kill", "members_born_today": members,
        "sent_before_kill": sent_before_kill, "all_sent_seconds_after_kill": all_sent_after_kill,
        "checks": checks,
        "ok": (checks["verify_ledger"] and statuses == {"sent": queued} and queued == members
               and not checks["never_reached_gateway"] and not checks["gifts_doubled"]
               and checks["members_with_gift"] == members),
    }


# --- the report -----------------------------------------------------------------------------


def markdown(results: list[dict], command: str, old: str) -> str:
    """bench/results/faults.md: a section per run; the runs not done now keep theirs."""
    sections = {}
    for chunk in old.split("\n## ")[1:]:
        sections[chunk.split(":", 1)[0]] = "## " + chunk.rstrip() + "\n"
    for result in results:
        lines = [f"## {result['run']}: {'passed' if result['ok'] else 'FAILED'}", "",
                 f"`{command}`, {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}.", "",
                 "| measure | value |", "| --- | --- |"]
        for key, value in result.items():
            if key in ("run", "ok", "workers", "bad_answer_samples"):
                continue
            if isinstance(value, dict):
                for sub, item in value.items():
                    lines.append(f"| {key}.{sub} | {item} |")
            else:
                lines.append(f"| {key} | {value} |")
        for pid, rss in (result.get("workers") or {}).items():
            lines.append(f"| worker {pid}: RSS KiB start / end / max; slope after 1 min, "
                         f"KiB/min | {rss['start_kib']} / {rss['end_kib']} / {rss['max_kib']}; "
                         f"{rss['slope_kib_per_min_after_1_min']} |")
            lines.append(f"| worker {pid}: RSS KiB each minute | "
                         f"{' '.join(map(str, rss['every_minute_kib']))} |")
        sections[result["run"]] = "\n".join(lines) + "\n"
    order = ["web-kill", "worker-kill", "pg-restart", "soak"]
    return "\n".join([
        "# Fault runs",
        "",
        f"{os.cpu_count()} CPUs shared with other jobs. A private PostgreSQL 15 cluster on "
        "loopback; gunicorn as `kopilka up` starts it. `loadavg` is the machine's (1/5/15 min) "
        "when the run ended. What each run does and checks: the docstring of bench/faults.py.",
        "",
        *(sections[name] for name in order if name in sections),
    ])


class Context:
    pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", default="all",
                        choices=["web-kill", "worker-kill", "pg-restart", "soak", "all"])
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--birthday-members", type=int, default=300)
    parser.add_argument("--soak-seconds", type=int, default=600)
    parser.add_argument("--no-report", action="store_true",
                        help="do not write bench/results/faults.md")
    args = parser.parse_args()
    if os.geteuid() != 0:
        parser.error("run as root: the private PostgreSQL is started as the postgres user")

    ctx = Context()
    ctx.work = Path(tempfile.mkdtemp(prefix="kopilka-faults-"))
    ctx.cluster = Cluster()
    results = []
    try:
        ctx.url = ctx.cluster.url()
        ctx.env = {
            **os.environ, "DATABASE_URL": ctx.url, "DJANGO_SETTINGS_MODULE": "kopilka.settings",
            "KOPILKA_DATA_DIR": str(ctx.work), "KOPILKA_RATE_LIMIT_POS": "0",
            "KOPILKA_LOG_LEVEL": "WARNING", "KOPILKA_AUTOMATION_HOUR": "0",
            "KOPILKA_SMS_FREE_PARTS": "1000000",
        }
        os.environ["KOPILKA_DATA_DIR"] = str(ctx.work)
        setup_django(ctx.url)
        from django_scopes import scope

        from kopilka.core.actor import Actor
        from kopilka.tenancy import services as tenancy
        from kopilka.tenancy.models import Merchant

        log(f"cluster on port {ctx.cluster.port}; loading {args.members} members")
        merchant_id, ctx.member_ids = load(args.members)
        merchant = Merchant.objects.get(pk=merchant_id)
        with scope(merchant=merchant):
            _terminal, ctx.pos_key = tenancy.create_terminal(merchant, store_name="Faults",
                                                             actor=Actor.cli())
        ctx.worker_log = open(ctx.work / "worker.log", "ab")  # noqa: SIM115
        runs = {"web-kill": lambda: run_web_kill(ctx),
                "worker-kill": lambda: run_worker_kill(ctx, args.birthday_members),
                "pg-restart": lambda: run_pg_restart(ctx),
                "soak": lambda: run_soak(ctx, args.soak_seconds)}
        for name in runs if args.run == "all" else [args.run]:
            log(f"run {name}")
            started = time.monotonic()
            result = runs[name]()
            result["wall_seconds"] = round(time.monotonic() - started, 1)
            result["loadavg"] = loadavg()
            results.append(result)
            print(json.dumps({"bench": "faults", **result}, default=str), flush=True)
    finally:
        if hasattr(ctx, "worker_log"):
            ctx.worker_log.close()
        ctx.cluster.remove()
        if results and all(result["ok"] for result in results):
            shutil.rmtree(ctx.work, ignore_errors=True)
        else:  # gunicorn.log and worker.log say what went wrong
            log(f"logs kept in {ctx.work}")
    if not args.no_report:
        command = "bench/faults.py " + " ".join(sys.argv[1:])
        report = ROOT / "bench" / "results" / "faults.md"
        old = report.read_text() if report.exists() else ""
        report.write_text(markdown(results, command.strip(), old))
    return 0 if all(result["ok"] for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
