"""Benchmark: the web server under the POS load: gunicorn (sync, gthread) against granian (WSGI).

Not a test. Needs the local PostgreSQL and pgbench; granian (pip install granian) for its rows.
Run:  .venv/bin/python bench/bench_server.py [--runs 3] [--seconds 15] [--terminals 16]
          [--workers 4] [--members 2000] [--servers gunicorn-sync,gunicorn-gthread,granian]
          [--keep-alive]
One PostgreSQL database, `kopilka_bench_server` (BENCH_DATABASE_URL), loaded with the merchant
of bench_commit.py and one POS terminal (key) per simulated terminal. Per run: pgbench TPC-B
(bench_commit.pgbench) first, then each server in turn (the order rotates from run to run),
started fresh with the same number of processes (--workers, one request at a time each: what
`kopilka up` runs on PostgreSQL) in production mode, as bench/load.py starts gunicorn, and
driven by bench/loadgen.py's terminals through three phases of --seconds each:
  commits   closed loop, POST /api/v1/pos/purchases alone, keyed (Idempotency-Key), the member
            by phone, every third spending 100 points;
  sales     closed loop, the cashier's sale: lookup -> quote -> commit (+ a refund of every
            tenth commit), bench/loadgen.py;
  half      open loop at half of `sales`' rate; latency counted from the scheduled arrival.
A terminal opens a new connection per commit (per sale), as a till does; --keep-alive keeps one
per terminal for the run instead (where a server that accepts greedily shows it).
After the phases, GET /health while --slow-clients clients hold a connection with half a
request sent (a slow link): a server that gives each of them a process stops answering.
Measured per phase: commits/s, p50/p95, the server's CPU (every process of its tree, from
/proc) per commit, and how the requests spread over the worker processes: each process counts
the requests it answered into its own file of the Prometheus multiprocess directory
(kopilka/core/metrics.py), read here per process. Prints one JSON line (medians over the runs,
every run inside), appends it to bench/results/server.jsonl and writes bench/results/server.md
(server-keep-alive.md with --keep-alive).
"""

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_commit  # noqa: E402  (sibling scripts, not a package)
import bench_http  # noqa: E402
import load  # noqa: E402
import loadgen  # noqa: E402

ROOT = bench_commit.ROOT
RESULTS = ROOT / "bench" / "results"
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/kopilka_bench_server"
SERVERS = ("gunicorn-sync", "gunicorn-gthread", "granian")


def server_command(name: str, port: int, workers: int) -> list[str]:
    """The command `kopilka up` runs (kopilka.cli.web_server_command) for the server's family,
    with --workers processes serving one request at a time each."""
    from kopilka.cli import web_server_command

    family, _, variant = name.partition("-")
    if family not in ("gunicorn", "granian"):
        raise SystemExit(f"unknown server {name!r}")
    os.environ.update(KOPILKA_WEB_SERVER=family, KOPILKA_WEB_WORKERS=str(workers),
                      KOPILKA_WEB_THREADS="1")
    command = web_server_command("127.0.0.1", port)
    if family == "gunicorn":
        command[command.index("--worker-class") + 1] = variant or "gthread"
    elif variant == "bp1":  # at most one request in a worker at a time
        command[-1:-1] = ["--backpressure", "1"]
    return command


# --- per-process request counts from the Prometheus multiprocess files ---------------------------


def requests_per_process(directory: Path) -> dict[int, float]:
    from prometheus_client.mmap_dict import MmapedDict

    counts = {}
    for path in directory.glob("counter_*.db"):
        pid = int(path.stem.split("_")[1])
        total = 0.0
        for key, value, *_ in MmapedDict.read_all_values_from_file(str(path)):
            if json.loads(key)[1] == "kopilka_http_requests_total":
                total += value
        counts[pid] = total
    return counts


def spread(before: dict[int, float], after: dict[int, float], workers: int) -> dict:
    """Requests answered per worker process over the phase, busiest first (a process that
    answered none counts as 0), and the busiest one's over the mean."""
    per = sorted((int(after[pid] - before.get(pid, 0.0)) for pid in after), reverse=True)
    per = ([n for n in per if n > 0] + [0] * workers)[:max(workers, sum(n > 0 for n in per))]
    mean = sum(per) / len(per)
    return {"per_worker": per, "max_over_mean": round(per[0] / mean, 2) if mean else 0}


# --- phases -------------------------------------------------------------------------------------


async def commits_only(terminals: list[loadgen.Terminal],
                       seconds: float) -> tuple[loadgen.Recorder, float]:
    """Every terminal commits back to back: POST /pos/purchases alone, keyed."""
    rec = loadgen.Recorder()
    started = time.perf_counter()
    end = started + seconds

    async def run(terminal):
        rng = terminal.rng
        while time.perf_counter() < end:
            terminal.sales += 1
            receipt = f"{terminal.tag}-c{terminal.sales}"
            body = {"member": {"phone": rng.choice(terminal.phones)}, "receipt_id": receipt,
                    "points_to_spend": 100 if terminal.sales % 3 == 0 else 0,
                    "payment_method": "card", "lines": [
                        {"line_id": "1", "amount": rng.randint(10_000, 200_000),
                         "product_group": "food"},
                        {"line_id": "2", "amount": rng.randint(1_000, 50_000),
                         "product_group": "drinks"}]}
            await terminal._call(rec, "purchase", "POST", "/api/v1/pos/purchases", body,
                                 extra=b"Idempotency-Key: %s\r\n" % receipt.encode())
            if not terminal.keep_alive:
                terminal.conn.close()

    await asyncio.gather(*(run(terminal) for terminal in terminals))
    return rec, time.perf_counter() - started


def phase_figures(rec, elapsed, probe, metrics_dir, counts_before, workers) -> dict:
    summary = load.summarise(rec, elapsed)
    cpu = probe.stop()
    commit = summary["ops"]["purchase"]
    commits = summary["commits_per_s"]
    requests = sum(op["per_s"] for op in summary["ops"].values())
    return {
        "commits_per_s": commits, "requests_per_s": round(requests, 1),
        "commit_p50_ms": commit["p50_ms"], "commit_p95_ms": commit["p95_ms"],
        "commit_p99_ms": commit["p99_ms"],
        "errors": sum(op["errors"] for op in summary["ops"].values()),
        "error_codes": {op: figures["error_codes"] for op, figures in summary["ops"].items()
                        if "error_codes" in figures},
        **cpu,
        "server_cpu_ms_per_commit": round(10 * cpu["server_cpu_pct"] / commits, 2)
        if commits else None,
        "server_cpu_ms_per_request": round(10 * cpu["server_cpu_pct"] / requests, 2)
        if requests else None,
        **spread(counts_before, requests_per_process(metrics_dir), workers),
    }


async def phases(args, port, keys, phones, tag, probe, metrics_dir) -> dict:
    terminals = loadgen.open_terminals("127.0.0.1", port, keys, phones, tag,
                                       keep_alive=args.keep_alive)
    warm = loadgen.Recorder()
    await asyncio.gather(*(terminal.sale(warm) for terminal in terminals))
    if warm.first_error:
        raise SystemExit(f"warm-up failed: {warm.first_error}")
    result = {}
    counts = requests_per_process(metrics_dir)
    probe.start()
    rec, elapsed = await commits_only(terminals, args.seconds)
    result["commits"] = phase_figures(rec, elapsed, probe, metrics_dir, counts, args.workers)
    counts = requests_per_process(metrics_dir)
    probe.start()
    rec, elapsed = await loadgen.closed_loop(terminals, args.seconds)
    result["sales"] = phase_figures(rec, elapsed, probe, metrics_dir, counts, args.workers)
    rate = result["sales"]["commits_per_s"] / 2
    counts = requests_per_process(metrics_dir)
    probe.start()
    rec, elapsed = await loadgen.open_loop(terminals, args.seconds, rate)
    result["half"] = {**phase_figures(rec, elapsed, probe, metrics_dir, counts, args.workers),
                      "rate": round(rate, 1), "wait_p95_ms": load.summarise(rec, elapsed)
                      .get("wait_p95_ms")}
    result["reconnects"] = loadgen.close_terminals(terminals)
    return result


def slow_clients(port: int, count: int) -> str:
    """`count` clients that send half a request and wait (a slow mobile link, or slowloris),
    then one GET /health: how long it takes to answer while they hold on."""
    import socket
    import urllib.request

    held = []
    try:
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(b"POST /api/v1/pos/purchases HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            held.append(sock)
        time.sleep(0.5)
        started = time.perf_counter()
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10).read()
        except OSError as error:
            return f"no answer in 10 s ({type(error).__name__})"
        return f"answered in {1000 * (time.perf_counter() - started):.0f} ms"
    finally:
        for sock in held:
            sock.close()


def run_server(name, args, env, keys, phones, tag, pg_url, data_dir) -> dict:
    port = bench_http.free_port()
    metrics_dir = data_dir / f"metrics-{tag}"
    metrics_dir.mkdir()
    log_path = data_dir / f"{tag}.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            server_command(name, port, args.workers),
            env={**env, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)},
            stdout=log, stderr=log, start_new_session=True)
    try:
        bench_http.wait_healthy(port)
        probe = load.Probe(server.pid, pg_url)
        result = asyncio.run(phases(args, port, keys, phones, tag, probe, metrics_dir))
        workers = [pid for pid in load.process_tree(server.pid) if pid != server.pid]
        result["processes"] = len(load.process_tree(server.pid))
        if args.slow_clients:
            result["slow_clients"] = slow_clients(port, args.slow_clients)
    finally:
        # SIGTERM, as a service manager stops it: every server must stop on its own, in time.
        stop_started = time.perf_counter()
        server.terminate()
        try:
            server.wait(timeout=30)
            stopped = f"exit code {server.returncode}"
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
            stopped = "killed after 30 s"
    result["worker_pids"] = len(workers)
    result["sigterm"] = f"{stopped} in {time.perf_counter() - stop_started:.1f} s"
    result["log"] = str(log_path)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--seconds", type=int, default=15, help="per phase; pgbench too")
    parser.add_argument("--terminals", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4,
                        help="processes of each server (`kopilka up` on 2 cores: 4)")
    parser.add_argument("--members", type=int, default=2_000)
    parser.add_argument("--servers", default=",".join(SERVERS))
    parser.add_argument("--slow-clients", type=int, default=8,
                        help="after the phases: GET /health while N clients send half a "
                        "request and wait (0: skip)")
    parser.add_argument("--keep-alive", action="store_true",
                        help="one connection per terminal for the run, not one per commit/sale")
    args = parser.parse_args()
    servers = args.servers.split(",")

    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    bench_commit.create_database(url)
    data_dir = Path(tempfile.mkdtemp(prefix="kopilka-server-"))
    os.environ["KOPILKA_DATA_DIR"] = str(data_dir)
    bench_commit.setup_django(url)
    merchant_id, member_ids = bench_commit.load(args.members)
    keys = [bench_http.pos_key(merchant_id) for _ in range(args.terminals)]
    phones = [f"+7916{n:07d}" for n in range(args.members)]
    from django.db import connections

    connections.close_all()
    env = {**os.environ, "DATABASE_URL": url, "KOPILKA_DATA_DIR": str(data_dir),
           "DJANGO_SETTINGS_MODULE": "kopilka.settings", "KOPILKA_ENV": "production",
           "KOPILKA_DEBUG": "0", "KOPILKA_SECRET_KEY": secrets.token_urlsafe(40),
           "KOPILKA_ALLOWED_HOSTS": "127.0.0.1", "KOPILKA_RATE_LIMIT_POS": "0"}
    env.pop("KOPILKA_LOG_LEVEL", None)  # production's level: the access log is written
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    runs = []
    for n in range(args.runs):
        loadavg = " ".join(Path("/proc/loadavg").read_text().split()[:3])
        tps = bench_commit.pgbench(url, args.seconds)
        run = {"run": n + 1, "loadavg_before": loadavg, "pgbench_tps": round(tps, 1)}
        order = servers[n % len(servers):] + servers[:n % len(servers)]
        for name in order:
            tag = f"{name}-{int(time.time())}-{n}"
            figures = run_server(name, args, env, keys, phones, tag, url, data_dir)
            figures["loadavg_after"] = " ".join(Path("/proc/loadavg").read_text().split()[:3])
            for phase in ("commits", "sales"):
                figures[phase]["ratio_to_pgbench"] = round(figures[phase]["commits_per_s"] / tps,
                                                           3)
            run[name] = figures
            print(json.dumps({"run": n + 1, "server": name, **figures}), file=sys.stderr)
        runs.append(run)
    ledger = load.verify_ledger({**env, "DATABASE_URL": url})

    median = medians(runs, servers)
    figures = {
        "bench": "web_server", "servers": servers, "runs": args.runs, "seconds": args.seconds,
        "terminals": args.terminals, "workers": args.workers, "members": len(member_ids),
        "keep_alive": args.keep_alive, "slow_clients": args.slow_clients, "median": median,
        "verify_ledger": ledger,
        "versions": versions(), "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "code": load.code_version(), "per_run": runs,
    }
    line = json.dumps(figures)
    print(line)
    with open(RESULTS / "server.jsonl", "a") as jsonl:
        jsonl.write(line + "\n")
    name = "server-keep-alive.md" if args.keep_alive else "server.md"
    (RESULTS / name).write_text(markdown(figures))


def medians(runs: list[dict], servers: list[str]) -> dict:
    median = {}
    for name in servers:
        for phase in ("commits", "sales", "half"):
            for key in ("commits_per_s", "ratio_to_pgbench", "commit_p50_ms", "commit_p95_ms",
                        "server_cpu_ms_per_commit", "server_cpu_ms_per_request",
                        "server_cpu_pct", "machine_busy_pct", "db_cpu_pct", "max_over_mean",
                        "errors", "rate"):
                values = [run[name][phase][key] for run in runs
                          if run[name][phase].get(key) is not None]
                if values:
                    median[f"{name}.{phase}.{key}"] = round(statistics.median(values), 3)
    median["pgbench_tps"] = round(statistics.median(run["pgbench_tps"] for run in runs), 1)
    return median


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for package in ("gunicorn", "granian"):
        with contextlib.suppress(PackageNotFoundError):
            found[package] = version(package)
    return found


def markdown(f: dict) -> str:
    m, runs = f["median"], f["per_run"]
    lines = [
        "# The web server under the POS load: gunicorn against granian",
        "",
        f"Measured {f['measured']} with bench/bench_server.py: {f['workers']} processes each "
        f"serving one request at a time, {f['terminals']} terminals "
        f"({'one connection each' if f['keep_alive'] else 'a new connection per commit/sale'}), "
        f"{f['seconds']} s per phase, {f['members']} members, PostgreSQL on the same 2-core "
        f"machine. Median of {f['runs']} runs; versions "
        f"{', '.join(f'{k} {v}' for k, v in f['versions'].items())}; load average before each "
        f"run: {'; '.join(run['loadavg_before'] for run in runs)}. pgbench TPC-B: "
        f"{m['pgbench_tps']:.0f} tps (median; per run "
        f"{', '.join(str(run['pgbench_tps']) for run in runs)}).",
        "",
        "| server | commits alone /s (ratio) | p50 / p95 ms | server CPU ms / commit | "
        "sales /s (ratio) | commit p50 / p95 ms | server CPU ms / sale | half load: rate, "
        "commit p95 ms | busiest worker / mean (commits, sales) | errors |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in f["servers"]:
        def g(phase, key, name=name):
            return m.get(f"{name}.{phase}.{key}", "–")

        errors = sum(g(phase, "errors") for phase in ("commits", "sales", "half")
                     if g(phase, "errors") != "–")
        lines.append(
            f"| {name} | {g('commits', 'commits_per_s')} ({g('commits', 'ratio_to_pgbench')}) "
            f"| {g('commits', 'commit_p50_ms')} / {g('commits', 'commit_p95_ms')} "
            f"| {g('commits', 'server_cpu_ms_per_commit')} "
            f"| {g('sales', 'commits_per_s')} ({g('sales', 'ratio_to_pgbench')}) "
            f"| {g('sales', 'commit_p50_ms')} / {g('sales', 'commit_p95_ms')} "
            f"| {g('sales', 'server_cpu_ms_per_commit')} "
            f"| {g('half', 'rate')}: {g('half', 'commit_p95_ms')} "
            f"| {g('commits', 'max_over_mean')}, {g('sales', 'max_over_mean')} | {errors} |")
    lines += ["", "Per run (commits alone /s; requests per worker process, commits phase):", ""]
    for run in runs:
        for name in f["servers"]:
            r = run[name]
            lines.append(f"- run {run['run']}, {name}: {r['commits']['commits_per_s']} commits/s, "
                         f"{r['sales']['commits_per_s']} sales/s, half-load commit p95 "
                         f"{r['half']['commit_p95_ms']} ms; per worker "
                         f"{r['commits']['per_worker']}, sales phase {r['sales']['per_worker']}"
                         + (f"; GET /health with {f['slow_clients']} slow clients: "
                            f"{r['slow_clients']}" if "slow_clients" in r else "")
                         + f"; SIGTERM: {r['sigterm']}; load after "
                         f"{r['loadavg_after']}")
    lines += ["", f"`kopilka verify-ledger --merchant bench` after the runs: "
              f"{'passed' if f['verify_ledger']['ok'] else 'FAILED'} "
              f"({f['verify_ledger']['output']!r}).", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
