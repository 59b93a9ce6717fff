"""Benchmark: the members and transactions exports (ANL-3) of the largest generated merchant.

Not a test. Run (the generator first; its database name must contain "gen"):
    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/kopilka_gen_analytics \\
        .venv/bin/python bench/generate.py --members 200000 --purchases 1000000 --merchants 1
    BENCH_DATABASE_URL=... .venv/bin/python bench/bench_analytics_export.py

Each export runs in a fresh child process (so one's memory does not hide the next one's): the
real `exports.start(..., background=False)`, rows streamed from the database in chunks into
XlsxWriter's constant_memory workbook or the CSV writer. Reported per export: rows, seconds,
the child's peak resident memory (ru_maxrss) and its resident memory after Django's setup, so
the export's own share is the difference; and the file's size. Prints one JSON line and writes
bench/results/analytics-export.md.
"""

import json
import os
import resource
import sys
import time
from multiprocessing import get_context
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench_commit import setup_django  # noqa: E402
from generate import DEFAULT_URL  # noqa: E402

RESULTS = ROOT / "bench" / "results"


def rss_mb() -> float:
    """This process's peak resident memory so far, MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one(url: str, kind: str, fmt: str, queue) -> None:
    setup_django(url)
    from django_scopes import scope, scopes_disabled

    from kopilka.analytics import exports
    from kopilka.core.actor import Actor
    from kopilka.members.models import Member
    from kopilka.tenancy.models import Merchant

    with scopes_disabled():
        merchant = max(Merchant.objects.all(),
                       key=lambda m: Member.objects.filter(merchant=m).count())
    before = rss_mb()
    with scope(merchant=merchant):
        start = time.perf_counter()
        export = exports.start(merchant, kind=kind, format=fmt, phones=True, language="ru",
                               actor=Actor.cli(), background=False)
        seconds = time.perf_counter() - start
        size = exports.file_path(export).stat().st_size
        exports.file_path(export).unlink()
    queue.put({"kind": kind, "format": fmt, "rows": export.rows_done,
               "seconds": round(seconds, 1), "rss_setup_mb": round(before, 1),
               "rss_peak_mb": round(rss_mb(), 1), "file_mb": round(size / 2**20, 1),
               "rows_per_second": round(export.rows_done / seconds)})


def main() -> None:
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    if "gen" not in url.rsplit("/", 1)[-1]:
        raise SystemExit("BENCH_DATABASE_URL must name a generated database (contains 'gen')")
    context = get_context("spawn")
    found = []
    for kind, fmt in (("members", "xlsx"), ("members", "csv"), ("transactions", "xlsx")):
        queue = context.Queue()
        child = context.Process(target=one, args=(url, kind, fmt, queue))
        child.start()
        found.append(queue.get())
        child.join()
    print(json.dumps({"database": url.split(":", 1)[0], "exports": found}))
    RESULTS.mkdir(exist_ok=True)
    lines = ["# Exports (bench/bench_analytics_export.py)", "",
             "| export | rows | seconds | rows/s | RSS after setup, MB | peak RSS, MB | file, MB |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['kind']} {r['format']} | {r['rows']:,} | {r['seconds']} | "
              f"{r['rows_per_second']:,} | {r['rss_setup_mb']} | {r['rss_peak_mb']} | "
              f"{r['file_mb']} |" for r in found]
    (RESULTS / "analytics-export.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
