"""Benchmark: the POS cashier flow end to end under load (gunicorn as `kopilka up` starts it).

Not a test. Needs the local PostgreSQL (pgbench is the reference even for SQLite).
Run:  .venv/bin/python bench/load.py [--database postgresql|sqlite] [--hot N] [--runs 3]
          [--terminals 16] [--seconds 20] [--members 2000] [--no-access-log] [--keep-alive]
PostgreSQL: the database `kopilka_load` (override with LOAD_DATABASE_URL); SQLite: a new file
in a temporary data directory. Loads the merchant of bench_commit.py (slug `bench`) with
--members members, one POS terminal (and key) per simulated terminal, and starts gunicorn with
kopilka.cli.web_server_command() in production mode (KOPILKA_ENV=production, DEBUG off, the
POS rate limit off: a terminal selling flat out is not what the limit is for; the access log
goes to the server's log file, as `kopilka up` writes it: it costs nothing measurable here).
Then, per run:
  0. pgbench TPC-B (bench_commit.pgbench) on the local PostgreSQL: the machine's reference;
  1. closed loop: --terminals terminals sell back to back for --seconds (bench/loadgen.py:
     lookup -> quote -> purchase, every third spends points, every tenth commit refunded);
  2. open loop: customers arrive on a fixed schedule at half of phase 1's purchase rate and
     take a free terminal; latency counts from the scheduled arrival (no coordinated omission).
--hot N puts every terminal on the first N members (row lock contention). Each sale opens its
own connection (a till's customers are further apart than the server's keep-alive);
--keep-alive keeps one per terminal for the whole run instead.
Ends with `kopilka verify-ledger --merchant bench`. Prints one JSON line (medians over the
runs, every run inside), appends it to bench/results/load.jsonl and writes
bench/results/load[-sqlite][-contention].md.
"""

import argparse
import asyncio
import json
import math
import os
import resource
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
import loadgen  # noqa: E402

ROOT = bench_commit.ROOT
RESULTS = ROOT / "bench" / "results"
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/kopilka_load"
TICK = os.sysconf("SC_CLK_TCK")
GOAL_RATIO, GOAL_P95_MS, GOAL_SQLITE = 0.5, 25, 300


# --- CPU accounting from /proc ----------------------------------------------------------------


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces


def process_cpu(pids) -> dict[int, float]:
    """CPU seconds (user + system, all threads) of each live process."""
    found = {}
    for pid in pids:
        fields = _stat(pid)
        if fields is not None:
            found[pid] = (int(fields[11]) + int(fields[12])) / TICK
    return found


def process_tree(root: int) -> list[int]:
    """The gunicorn master and its workers."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            parents[int(entry.name)] = int(fields[1])
    tree, grew = {root}, True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    return sorted(tree)


def database_backends(url: str | None) -> list[int]:
    """PostgreSQL server processes serving our database (not the probe's own)."""
    if url is None:
        return []
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                            "AND pid <> pg_backend_pid()").fetchall()
    return [pid for (pid,) in rows]


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies over all cores: how loaded the whole machine was."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    total = sum(values[:8])
    return total - values[3] - values[4], total


class Probe:
    """CPU used over a phase by the generator (this process), the server, the database."""

    def __init__(self, server_pid: int, pg_url: str | None):
        self.server_pid, self.pg_url = server_pid, pg_url

    def start(self):
        self.server0 = process_cpu(process_tree(self.server_pid))
        self.db0 = process_cpu(database_backends(self.pg_url))
        self.machine0 = machine_ticks()
        # last, so that the probe's own scans are not counted as the generator's work
        usage = resource.getrusage(resource.RUSAGE_SELF)
        self.t0 = time.perf_counter()
        self.self0 = usage.ru_utime + usage.ru_stime

    def stop(self) -> dict:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        wall = time.perf_counter() - self.t0
        server = process_cpu(process_tree(self.server_pid))
        db = process_cpu(database_backends(self.pg_url))
        busy, total = machine_ticks()

        def used(after, before):
            # a process born during the phase counts from zero
            return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())

        figures = {
            "generator_cpu_pct": 100 * (usage.ru_utime + usage.ru_stime - self.self0) / wall,
            "server_cpu_pct": 100 * used(server, self.server0) / wall,
            "machine_busy_pct": 100 * (busy - self.machine0[0]) / (total - self.machine0[1]),
        }
        if self.pg_url is not None:
            figures["db_cpu_pct"] = 100 * used(db, self.db0) / wall
        return {name: round(value, 1) for name, value in figures.items()}


# --- the run ------------------------------------------------------------------------------------


def percentile(ordered: list[int], p: float) -> float:
    """Nearest rank, in ms."""
    if not ordered:
        return 0.0
    return round(ordered[min(len(ordered) - 1, math.ceil(p * len(ordered)) - 1)] / 1e6, 1)


def summarise(rec: loadgen.Recorder, elapsed: float) -> dict:
    ops = {}
    for op in loadgen.OPERATIONS:
        latencies = sorted(rec.latencies[op])
        errors = sum(rec.errors[op].values())
        ops[op] = {
            "n": len(latencies), "per_s": round(len(latencies) / elapsed, 1),
            "ok_per_s": round((len(latencies) - errors) / elapsed, 1),
            "p50_ms": percentile(latencies, 0.50), "p95_ms": percentile(latencies, 0.95),
            "p99_ms": percentile(latencies, 0.99), "errors": errors,
        }
        if errors:
            ops[op]["error_codes"] = {str(code): n for code, n in rec.errors[op].items()}
            ops[op]["first_error"] = rec.first_error[op]
    result = {"seconds": round(elapsed, 2), "ops": ops, "spends": rec.spends,
              "commits_per_s": ops["purchase"]["ok_per_s"]}
    if rec.waits:
        result["wait_p95_ms"] = percentile(sorted(rec.waits), 0.95)
    return result


def with_cost(phase: dict) -> dict:
    """Server CPU per HTTP request, in ms: what the throughput is bought with."""
    requests = sum(op["per_s"] for op in phase["ops"].values())
    phase["server_cpu_ms_per_request"] = round(10 * phase["server_cpu_pct"] / requests, 2)
    return phase


async def phases(args, keys: list[str], phones: list[str], port: int, tag: str,
                 probe: Probe) -> dict:
    terminals = loadgen.open_terminals("127.0.0.1", port, keys, phones, tag,
                                       keep_alive=args.keep_alive)
    warm = loadgen.Recorder()  # first requests: connections, imports, caches
    await asyncio.gather(*(terminal.sale(warm) for terminal in terminals))
    if warm.first_error:
        raise SystemExit(f"warm-up failed: {warm.first_error}")
    probe.start()
    rec, elapsed = await loadgen.closed_loop(terminals, args.seconds)
    closed = with_cost({**summarise(rec, elapsed), **probe.stop()})
    rate = closed["commits_per_s"] / 2
    if rate <= 0:
        raise SystemExit(f"no purchase committed in phase 1: {closed}")
    probe.start()
    rec, elapsed = await loadgen.open_loop(terminals, args.seconds, rate)
    opened = with_cost({**summarise(rec, elapsed), **probe.stop(), "rate": round(rate, 1)})
    return {"closed": closed, "open": opened, "reconnects": loadgen.close_terminals(terminals)}


def flatten(run: dict) -> dict:
    """The figures of one run by dotted name, for medians over runs."""
    flat = {"pgbench_tps": run["pgbench_tps"], "ratio_to_pgbench": run["ratio_to_pgbench"]}
    for phase in ("closed", "open"):
        for name, value in run[phase].items():
            if isinstance(value, int | float):
                flat[f"{phase}.{name}"] = value
        for op, figures in run[phase]["ops"].items():
            for name in ("per_s", "p50_ms", "p95_ms", "p99_ms", "errors"):
                flat[f"{phase}.{op}.{name}"] = figures[name]
    return flat


def verify_ledger(env: dict) -> dict:
    started = time.perf_counter()
    done = subprocess.run([str(ROOT / ".venv" / "bin" / "kopilka"), "verify-ledger",
                           "--merchant", "bench"], env=env, capture_output=True, text=True)
    output = (done.stdout + done.stderr).strip().splitlines()
    return {"ok": done.returncode == 0, "exit": done.returncode,
            "output": output[-1] if output else "", "seconds": round(time.perf_counter() - started)}


def code_version() -> dict:
    """The commit and the uncommitted server files: the code is being changed beside us."""

    def git(*argv):
        return subprocess.run(["git", *argv], cwd=ROOT, capture_output=True, text=True).stdout

    changed = [line[3:] for line in git("status", "--porcelain", "kopilka").splitlines()]
    return {"head": git("rev-parse", "--short", "HEAD").strip(), "changed": changed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--terminals", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=20, help="per phase; pgbench too")
    parser.add_argument("--members", type=int, default=2_000)
    parser.add_argument("--hot", type=int, default=0, help="all terminals on the first N members")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--no-access-log", action="store_true", help="drop gunicorn's access log")
    parser.add_argument("--keep-alive", action="store_true",
                        help="one connection per terminal for the run, not one per sale")
    args = parser.parse_args()

    pg_url = os.environ.get("LOAD_DATABASE_URL", DEFAULT_URL)
    bench_commit.create_database(pg_url)  # pgbench's server, and ours unless --database sqlite
    data_dir = Path(tempfile.mkdtemp(prefix="kopilka-load-"))
    sqlite = args.database == "sqlite"
    url = f"sqlite:///{data_dir / 'kopilka.sqlite3'}" if sqlite else pg_url
    os.environ["KOPILKA_DATA_DIR"] = str(data_dir)
    bench_commit.setup_django(url)
    started = time.perf_counter()
    merchant_id, member_ids = bench_commit.load(args.members)
    load_s = round(time.perf_counter() - started)
    from django.db import connections

    from kopilka.cli import web_server_command

    keys = [bench_http.pos_key(merchant_id) for _ in range(args.terminals)]
    # bench_commit.load enrols "+7916" + the member's number, 0-based
    phones = [f"+7916{n:07d}" for n in range(args.hot or args.members)]
    port = bench_http.free_port()
    command = web_server_command("127.0.0.1", port)
    if args.no_access_log:
        at = command.index("--access-logfile")
        del command[at:at + 2]
    workers = command[command.index("--workers") + 1]
    threads = command[command.index("--threads") + 1]
    connections.close_all()

    env = {**os.environ, "DATABASE_URL": url, "KOPILKA_DATA_DIR": str(data_dir),
           "DJANGO_SETTINGS_MODULE": "kopilka.settings", "KOPILKA_ENV": "production",
           "KOPILKA_DEBUG": "0", "KOPILKA_SECRET_KEY": secrets.token_urlsafe(40),
           "KOPILKA_ALLOWED_HOSTS": "127.0.0.1", "KOPILKA_RATE_LIMIT_POS": "0"}
    env.pop("KOPILKA_LOG_LEVEL", None)  # production's default level
    log_path = data_dir / "gunicorn.log"
    # a SIGTERM to this script still stops the server (the finally below)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with open(log_path, "wb") as log:
        server = subprocess.Popen(command, env=env, stdout=log, stderr=log)
    code = code_version()
    runs = []
    try:
        bench_http.wait_healthy(port)
        probe = Probe(server.pid, None if sqlite else url)
        for n in range(args.runs):
            loadavg = Path("/proc/loadavg").read_text().split()[:3]
            tps = bench_commit.pgbench(pg_url, args.seconds)
            tag = f"{int(time.time())}-{n}"
            run = {"run": n + 1, "loadavg_before": " ".join(loadavg), "pgbench_tps": round(tps, 1),
                   **asyncio.run(phases(args, keys, phones, port, tag, probe))}
            run["ratio_to_pgbench"] = round(run["closed"]["commits_per_s"] / tps, 3)
            runs.append(run)
            print(json.dumps(run), file=sys.stderr)
    finally:
        server.terminate()
        server.wait(timeout=30)
    ledger = verify_ledger(env)

    flat = [flatten(run) for run in runs]
    median = {name: round(statistics.median(f[name] for f in flat), 3) for name in flat[0]}
    goals = {
        "commit_ratio_ge_0.5": median["ratio_to_pgbench"] >= GOAL_RATIO,
        "commit_p95_half_load_le_25ms": median["open.purchase.p95_ms"] <= GOAL_P95_MS,
    }
    if sqlite:
        goals["sqlite_commits_ge_300"] = median["closed.commits_per_s"] >= GOAL_SQLITE
    server_errors = sum(code.startswith("5") for run in runs for phase in ("closed", "open")
                        for op in run[phase]["ops"].values() for code in op.get("error_codes", {}))
    figures = {
        "bench": "pos_load", "database": args.database, "hot": args.hot,
        "terminals": args.terminals, "seconds": args.seconds, "members": len(member_ids),
        "runs": args.runs, "workers": int(workers), "threads": int(threads),
        "access_log": not args.no_access_log, "keep_alive": args.keep_alive, "load_s": load_s,
        "median": median, "goals": goals, "settings": tuning_settings(),
        "verify_ledger": ledger, "server_log": str(log_path), "per_run": runs,
        "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "code": code,
    }
    line = json.dumps(figures)
    print(line)
    with open(RESULTS / "load.jsonl", "a") as jsonl:
        jsonl.write(line + "\n")
    name = "load" + ("-sqlite" if sqlite else "") + ("-contention" if args.hot else "") + ".md"
    (RESULTS / name).write_text(markdown(figures))
    if server_errors:
        print(f"5xx answers: see {log_path}", file=sys.stderr)


def tuning_settings() -> dict:
    """The server settings from the environment that change these figures, as given."""
    return {name: value for name, value in sorted(os.environ.items())
            if name in ("KOPILKA_WEB_WORKERS", "KOPILKA_WEB_THREADS", "KOPILKA_CONN_MAX_AGE",
                        "KOPILKA_PG_PREPARED_STATEMENTS")}


def markdown(f: dict) -> str:
    m, runs = f["median"], f["per_run"]
    db = "PostgreSQL" if f["database"] == "postgresql" else "SQLite (embedded, WAL)"
    members = f"all terminals on {f['hot']} members" if f["hot"] else f"{f['members']} members"

    def table(phase):
        rows = ["| operation | per s | p50 ms | p95 ms | p99 ms | errors (non-2xx) |",
                "|---|---|---|---|---|---|"]
        for op in loadgen.OPERATIONS:
            rate = m[f"{phase}.{op}.per_s"]
            rows.append(f"| {op} | {rate:.{0 if rate >= 100 else 1}f} "
                        f"| {m[f'{phase}.{op}.p50_ms']} "
                        f"| {m[f'{phase}.{op}.p95_ms']} | {m[f'{phase}.{op}.p99_ms']} "
                        f"| {m[f'{phase}.{op}.errors']:.0f} |")
        return rows

    def each(key):
        return ", ".join(str(run[key[0]][key[1]]) if isinstance(key, tuple) else str(run[key])
                         for run in runs)

    def met(ok):
        return "met" if ok else "**not met**"

    goals = f["goals"]
    lines = [
        f"# POS load: the cashier flow end to end on {db}"
        + (f", contention on {f['hot']} members" if f["hot"] else ""),
        "",
        f"Measured {f['measured']} with bench/load.py: gunicorn as `kopilka up` starts it "
        f"(--workers {f['workers']} --threads {f['threads']}, gthread, production settings, "
        f"access log {'on' if f['access_log'] else 'off'}), {db}, {f['terminals']} terminals "
        f"({'one connection each' if f.get('keep_alive') else 'a new connection per sale'}), "
        f"{f['seconds']} s per phase, {members}, on the same 2-core machine as the generator "
        f"and the database. Median of {f['runs']} runs; load average before each run: "
        f"{'; '.join(run['loadavg_before'] for run in runs)}. Code: {f['code']['head']}"
        + (f" with uncommitted changes to {', '.join(f['code']['changed'])}"
           if f["code"]["changed"] else "") + "."
        + (f" Settings: {', '.join(f'{k}={v}' for k, v in f['settings'].items())}."
           if f.get("settings") else ""),
        "",
        f"## Phase 1: closed loop, {f['terminals']} terminals selling back to back",
        "",
        *table("closed"),
        "",
        f"## Phase 2: open loop, {m['open.rate']:.0f} sales/s (half of phase 1), latency from "
        "the scheduled arrival",
        "",
        *table("open"),
        "",
        f"Wait for a free terminal, p95: {m['open.wait_p95_ms']} ms.",
        "",
        "## Reference and CPU",
        "",
        "| what | phase 1 | phase 2 |",
        "|---|---|---|",
        f"| purchases committed per s | {m['closed.commits_per_s']:.0f} "
        f"| {m['open.commits_per_s']:.0f} |",
        f"| generator CPU, % of one core | {m['closed.generator_cpu_pct']} "
        f"| {m['open.generator_cpu_pct']} |",
        f"| server CPU (gunicorn processes), % of one core | {m['closed.server_cpu_pct']} "
        f"| {m['open.server_cpu_pct']} |",
        f"| server CPU per HTTP request, ms | {m['closed.server_cpu_ms_per_request']} "
        f"| {m['open.server_cpu_ms_per_request']} |",
        *([f"| PostgreSQL backends of the load database, % of one core "
           f"| {m['closed.db_cpu_pct']} | {m['open.db_cpu_pct']} |"]
          if "closed.db_cpu_pct" in m else []),
        f"| whole machine busy, % of 2 cores | {m['closed.machine_busy_pct']} "
        f"| {m['open.machine_busy_pct']} |",
        "",
        f"pgbench TPC-B (-c 8 -j 2, scale 10, {f['seconds']} s) on the local PostgreSQL: "
        f"{m['pgbench_tps']:.0f} tps; commits / pgbench = {m['ratio_to_pgbench']}.",
        f"Per run: commits/s {each(('closed', 'commits_per_s'))}; pgbench tps "
        f"{each('pgbench_tps')}; commit p95 at half load "
        f"{', '.join(str(run['open']['ops']['purchase']['p95_ms']) for run in runs)} ms; "
        f"keep-alive connections the server closed (idle > gunicorn's keepalive, 2 s) and the "
        f"generator reopened: {each('reconnects')}.",
        "",
        "## Goals",
        "",
        "| goal | figure | |",
        "|---|---|---|",
        f"| commits >= {GOAL_RATIO} x pgbench | {m['ratio_to_pgbench']} "
        f"| {met(goals['commit_ratio_ge_0.5'])} |",
        f"| commit p95 <= {GOAL_P95_MS} ms at half load | {m['open.purchase.p95_ms']} ms "
        f"| {met(goals['commit_p95_half_load_le_25ms'])} |",
        *([f"| SQLite >= {GOAL_SQLITE} commits/s | {m['closed.commits_per_s']:.0f} "
           f"| {met(goals['sqlite_commits_ge_300'])} |"] if "sqlite_commits_ge_300" in goals
          else []),
        "",
        f"`kopilka verify-ledger --merchant bench` after the runs: "
        f"{'passed' if f['verify_ledger']['ok'] else 'FAILED'} "
        f"({f['verify_ledger']['output']!r}, {f['verify_ledger']['seconds']} s).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
