"""`kopilka up` with two web processes, under either web server (gunicorn, the default, and
granian): every scrape, whichever process answers it, adds up the counts of all the processes
(the web workers' and the ticker's); stale values of an earlier run are gone; the JSON log has
one line per request and the web server writes no access log of its own; granian spreads the
connections over its processes; SIGTERM, as a service manager sends it, stops everything
calmly."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.test_up import free_port, wait_for

pytestmark = pytest.mark.slow

TOKEN = "scraper-token-for-the-test"


def scrape(port) -> dict[tuple, float]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics",
                                     headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read().decode()
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def requests_per_process(directory) -> list[float]:
    """HTTP requests each process counted in its own file of the multiprocess directory."""
    from prometheus_client.mmap_dict import MmapedDict

    counts = []
    for path in sorted(directory.glob("counter_*.db")):
        counts.append(sum(value for key, value, *_ in
                          MmapedDict.read_all_values_from_file(str(path))
                          if json.loads(key)[1] == "kopilka_http_requests_total"))
    return [count for count in counts if count]


@pytest.mark.parametrize("server", ["granian", "gunicorn"])
def test_a_scrape_sees_every_worker(tmp_path, server):
    stale = tmp_path / "metrics" / "counter_1.db"
    stale.parent.mkdir()
    stale.write_bytes(b"values of an earlier run")
    port = free_port()
    env = {**os.environ, "KOPILKA_DATA_DIR": str(tmp_path), "KOPILKA_WEB_WORKERS": "2",
           "KOPILKA_WEB_THREADS": "2", "KOPILKA_METRICS_TOKEN": TOKEN,
           "KOPILKA_LOG_FORMAT": "json", "KOPILKA_WEB_SERVER": server}
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
        # The polls that waited for the start: answered ones are counted, refused ones not. A
        # poll that gave up while the server was starting (10 s on a busy machine) may still be
        # answered, and counted, after the first answer: the count settles first.
        before, settled = scrape(port)[health], None
        while settled != before:
            time.sleep(1)
            settled, before = before, scrape(port)[health]
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
        if server == "granian":
            # Each process has a socket of its own (SO_REUSEPORT) and the kernel spreads new
            # connections over them: the 26 requests and more above, each on a new connection,
            # reached both (all on one would be a chance of 2 in 2**26).
            assert len(requests_per_process(tmp_path / "metrics")) == 2
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # to `kopilka up` alone, as systemd does
        output, _ = process.communicate(timeout=120)
    assert process.returncode == 0, output
    assert "kopilka: stopped" in output and "on its own" not in output
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    requests = [line for line in lines if line["logger"] == "kopilka.request"]
    assert len([line for line in requests if line["route"] == "health"]) == before + 20
    assert {"method", "route", "status", "duration_ms", "principal"} <= set(requests[0])
    assert '"GET /health' not in output  # no access log of the web server's
    assert f"Starting {server}" in output
