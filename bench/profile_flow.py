"""Profile of the cashier flow in one process: lookup -> quote -> commit through Django's full
request path (middleware, django-ninja, services, ORM), without a web server or network.

Not a test. Run:
  .venv/bin/python bench/profile_flow.py [--flows 400] [--profile cprofile|pyinstrument]
Loads the merchant of bench_commit.py (2 000 members, PostgreSQL `kopilka_bench`, override with
BENCH_DATABASE_URL), then runs the flow --flows times and prints one JSON line: wall and CPU
per flow of this process, CPU per flow of its PostgreSQL backend (/proc), and the SQL
statements of one flow (--sql prints them). With --profile it also prints where the CPU goes
(cProfile totals per package, or pyinstrument's call tree). `--src DIR` runs another
checkout's `kopilka` package (e.g. a `git worktree` of an older commit) for a before/after
comparison in the same conditions.

`--commit-only` runs only the commit (`POST /pos/purchases` with an Idempotency-Key, the
member by phone), so the figures are per commit. `--round-trips` sends the database traffic
through a small TCP relay on loopback that counts round trips: a round trip is the client
sending after it has heard from the server (a pipeline of statements and its Sync counts
once), so "statements" and "round trips" differ exactly by what pipelining saves.
"""

import argparse
import collections
import contextlib
import json
import os
import random
import socket
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_commit  # noqa: E402  (a sibling script, not a package)


def backend_cpu_seconds(connection) -> float:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class RoundTrips:
    """A TCP relay between Django and PostgreSQL that counts round trips: each time the client
    sends after the server last spoke (or first) is one. It runs in a child process (threads
    per connection, loopback), so its CPU is not counted as the flow's."""

    def __init__(self, host: str, port: int):
        import multiprocessing

        context = multiprocessing.get_context("fork")
        self._count = context.Value("q", 0)
        listener = socket.create_server(("127.0.0.1", 0))
        self.port = listener.getsockname()[1]
        self.process = context.Process(target=self._serve, args=(listener, (host, port)),
                                       daemon=True)
        self.process.start()
        listener.close()

    @property
    def count(self) -> int:
        return self._count.value

    def _serve(self, listener, target) -> None:
        while True:
            client, _address = listener.accept()
            server = socket.create_connection(target)
            for sock in (client, server):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            state = {"last": "server"}
            for args in ((client, server, state, "client"), (server, client, state, "server")):
                threading.Thread(target=self._pipe, args=args, daemon=True).start()

    def _pipe(self, source, sink, state, side: str) -> None:
        try:
            while data := source.recv(65536):
                with self._count.get_lock():
                    if side == "client" and state["last"] == "server":
                        self._count.value += 1
                    state["last"] = side
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


def per_package(stats: dict, flows: int) -> list[tuple[str, float]]:
    """cProfile's own time summed by package (django.db/models, psycopg, kopilka.api, ...)."""
    totals = collections.Counter()
    for (filename, _line, _name), (_cc, _nc, own, _cum, _callers) in stats.items():
        if "site-packages/" in filename:
            parts = filename.split("site-packages/")[1].split("/")
            name = "/".join(parts[:3] if parts[0] == "django" else parts[:1])
        elif "/kopilka/" in filename:
            name = "kopilka/" + filename.split("/kopilka/")[1].split("/")[0]
        else:
            name = "python (stdlib, builtins)"
        totals[name] += own
    return [(name, round(seconds / flows * 1000, 2)) for name, seconds in totals.most_common(15)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", type=int, default=400)
    parser.add_argument("--profile", choices=("cprofile", "pyinstrument"))
    parser.add_argument("--src", help="a checkout whose kopilka package to run")
    parser.add_argument("--stats", help="with --profile cprofile: also save the stats here "
                        "(python -m pstats FILE)")
    parser.add_argument("--sql", action="store_true",
                        help="also print the SQL statements of one flow, one per line")
    parser.add_argument("--commit-only", action="store_true",
                        help="the commit alone, not lookup, quote and commit")
    parser.add_argument("--round-trips", action="store_true",
                        help="count the database round trips of one flow (through a relay)")
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL", bench_commit.DEFAULT_URL)
    bench_commit.create_database(url)
    relay = None
    if args.round_trips:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        relay = RoundTrips(parts.hostname or "127.0.0.1", parts.port or 5432)
        url = parts._replace(netloc=f"{parts.username or 'postgres'}@127.0.0.1:{relay.port}"
                             ).geturl()
    if args.src:
        sys.path.insert(0, str(Path(args.src).resolve()))
    os.environ["KOPILKA_RATE_LIMIT_POS"] = "0"
    os.environ["KOPILKA_DEBUG"] = "0"
    bench_commit.setup_django(url)
    import bench_http
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    import kopilka

    merchant_id, member_ids = bench_commit.load(2_000)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {bench_http.pos_key(merchant_id)}")
    counter = iter(range(10**9))

    def flow() -> None:
        n = next(counter)
        phone = f"+7916{random.randrange(len(member_ids)):07d}"
        sale = {"member": {"phone": phone}, "points_to_spend": 100 if n % 3 == 0 else 0,
                "lines": [{"line_id": "1", "amount": random.randint(10_000, 200_000),
                           "product_group": "food"},
                          {"line_id": "2", "amount": random.randint(1_000, 50_000),
                           "product_group": "drinks"}]}
        receipt = f"profile-{time.time_ns()}-{n}"
        answers = [] if args.commit_only else [
            client.get("/api/v1/pos/members/lookup", {"phone": phone}),
            client.post("/api/v1/pos/quote", sale, content_type="application/json"),
        ]
        answers.append(client.post("/api/v1/pos/purchases", {**sale, "receipt_id": receipt},
                                   content_type="application/json",
                                   HTTP_IDEMPOTENCY_KEY=receipt))
        if [answer.status_code for answer in answers] != [200, 200, 201][-len(answers):]:
            raise SystemExit(f"unexpected answers: {[a.content[:200] for a in answers]}")

    for _ in range(50):  # warm-up: compiled programs and queries, connections
        flow()
    round_trips = None
    if relay is not None:
        samples = []
        for _ in range(5):
            before = relay.count
            flow()
            samples.append(relay.count - before)
        round_trips = sorted(samples)[2]  # the median of five
    with CaptureQueriesContext(connection) as queries:
        flow()
    statements = len(queries.captured_queries)  # read now: the next request clears the log
    if args.sql:
        for query in queries.captured_queries:
            print(f"{query['time']:>6} {query['sql'][:300]}")
    profiler = None
    if args.profile == "cprofile":
        import cProfile
        # CPU time, not wall time: waits for PostgreSQL would otherwise count as psycopg's.
        profiler = cProfile.Profile(time.process_time)
    elif args.profile == "pyinstrument":
        from pyinstrument import Profiler  # pip install pyinstrument (not a dependency)
        profiler = Profiler(interval=0.0005)
    backend_before = backend_cpu_seconds(connection)
    wall, cpu = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable() if args.profile == "cprofile" else profiler.start()
    for _ in range(args.flows):
        flow()
    if profiler:
        profiler.disable() if args.profile == "cprofile" else profiler.stop()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    backend = backend_cpu_seconds(connection) - backend_before
    figures = {
        "bench": "profile_flow", "kopilka": str(Path(kopilka.__file__).parent.parent),
        "flows": args.flows, "profiled": args.profile,
        "wall_ms_per_flow": round(wall / args.flows * 1000, 2),
        "cpu_ms_per_flow": round(cpu / args.flows * 1000, 2),
        "postgres_cpu_ms_per_flow": round(backend / args.flows * 1000, 2),
        "flow": "commit" if args.commit_only else "sale", "statements_per_flow": statements,
        "round_trips_per_flow": round_trips,
        "loadavg": Path("/proc/loadavg").read_text().split()[:3],
    }
    if args.profile == "cprofile":
        import pstats
        figures["own_ms_per_flow_by_package"] = per_package(pstats.Stats(profiler).stats,
                                                            args.flows)
        if args.stats:
            profiler.dump_stats(args.stats)
    print(json.dumps(figures))
    if args.profile == "pyinstrument":
        print(profiler.output_text(unicode=False, color=False))


if __name__ == "__main__":
    main()
