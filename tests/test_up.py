"""`kopilka up --demo` end to end: a real web server (gunicorn) and worker on SQLite."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(data_dir, port):
    env = {**os.environ, "KOPILKA_DATA_DIR": str(data_dir)}
    env.pop("DATABASE_URL", None)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.Popen(
        [sys.executable, "-m", "kopilka.cli", "up", "--demo", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )


def wait_for(process, url, deadline=300):
    """The first answer from url, polling while `up` runs. The deadline is only a backstop
    against a hang: migrations and the demo take seconds alone and a minute on a busy machine."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if process.poll() is not None:
            raise AssertionError(f"kopilka up exited with {process.returncode} before {url} "
                                 f"answered:\n{process.stdout.read()}")
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return response.status, response.read().decode()
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer within {deadline}s")


def stop(process) -> str:
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C does: the whole group gets SIGINT
    output, _ = process.communicate(timeout=120)
    return output


def run_once(data_dir):
    port = free_port()
    process = start(data_dir, port)
    try:
        status, body = wait_for(process, f"http://127.0.0.1:{port}/health")
        assert status == 200 and '"status": "ok"' in body
        status, body = wait_for(process, f"http://127.0.0.1:{port}/admin/login/")
        assert status == 200 and "csrfmiddlewaretoken" in body
    finally:
        output = stop(process)
    assert process.returncode == 0, output
    return output


def pos_key(output: str) -> str:
    line = next(line for line in output.splitlines() if "POS API key:" in line)
    return line.split("Bearer ")[1].split()[0]


def test_up_demo_serves_and_second_run_reuses_the_data(tmp_path):
    first = run_once(tmp_path)
    assert "Kopilka demo" in first and "Operator admin:" in first
    # The demo's welcome SMS carry wallet links to this server, not to the default address.
    links = re.findall(r"https?://[^/\s]+/m/\w{10}", first)
    assert links and all(link.startswith("http://127.0.0.1:") for link in links), links
    assert (tmp_path / "kopilka.sqlite3").exists()
    second = run_once(tmp_path)
    assert "Demo data already exists." in second
    assert pos_key(second) == pos_key(first)
    for output in (first, second):
        # Ctrl-C is a requested stop, not a crash.
        lines = output.splitlines()
        assert lines.index("kopilka: stopping...") < lines.index("kopilka: stopped"), output
        assert "on its own" not in output and "shutting down the others" not in output
