"""`kopilka up` with two gunicorn workers: every scrape, whichever worker answers it, adds up
the counts of all the processes (the web workers' and the ticker's); stale values of an
earlier run are gone; the JSON log has one line per request and gunicorn writes no access log
of its own."""

import json
import os
import subprocess
import sys
import time
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.test_up import free_port, stop, wait_for

pytestmark = pytest.mark.slow

TOKEN = "scraper-token-for-the-test"


def scrape(port) -> dict[tuple, float]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics",
                                     headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read().decode()
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def test_a_scrape_sees_every_worker(tmp_path):
    stale = tmp_path / "metrics" / "counter_1.db"
    stale.parent.mkdir()
    stale.write_bytes(b"values of an earlier run")
    port = free_port()
    env = {**os.environ, "KOPILKA_DATA_DIR": str(tmp_path), "KOPILKA_WEB_WORKERS": "2",
           "KOPILKA_WEB_THREADS": "2", "KOPILKA_METRICS_TOKEN": TOKEN,
           "KOPILKA_LOG_FORMAT": "json"}
    for name in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "PROMETHEUS_MULTIPROC_DIR"):
        env.pop(name, None)
    process = subprocess.Popen(
        [sys.executable, "-m", "kopilka.cli", "up", "--port", str(port)], env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        wait_for(process, f"http://127.0.0.1:{port}/health")
        assert not stale.exists()
        health = ("kopilka_http_requests_total",
                  (("method", "GET"), ("route", "health"), ("status", "200")))
        # The polls that waited for the start: answered ones are counted, refused ones not.
        before = scrape(port)[health]
        for _ in range(20):
            wait_for(process, f"http://127.0.0.1:{port}/health")
        scrapes = [scrape(port) for _ in range(6)]
        # 20 more answers, however the workers shared them, in every scrape.
        assert [samples[health] - before for samples in scrapes] == [20] * 6
        # The ticker is a process of its own: a web worker's scrape shows its jobs (its first
        # tick may still be running on a busy machine).
        ticked = ("kopilka_tick_job_duration_seconds_count", (("job", "messages due"),))
        deadline = time.monotonic() + 120
        while not scrape(port).get(ticked) and time.monotonic() < deadline:
            time.sleep(1)
        assert scrape(port)[ticked] >= 1
    finally:
        output = stop(process)
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    requests = [line for line in lines if line["logger"] == "kopilka.request"]
    assert len([line for line in requests if line["route"] == "health"]) == before + 20
    assert {"method", "route", "status", "duration_ms", "principal"} <= set(requests[0])
    assert '"GET /health' not in output  # no access log of gunicorn's
