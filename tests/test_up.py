"""`kopilka up --demo` end to end: a real gunicorn and worker on the embedded default."""

import os
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


def wait_for(url, deadline=60):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status, response.read().decode()
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer within {deadline}s")


def stop(process) -> str:
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C does: the whole group gets SIGINT
    output, _ = process.communicate(timeout=30)
    return output


def run_once(data_dir):
    port = free_port()
    process = start(data_dir, port)
    try:
        status, body = wait_for(f"http://127.0.0.1:{port}/health")
        assert status == 200 and '"status": "ok"' in body
        status, body = wait_for(f"http://127.0.0.1:{port}/admin/login/")
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
    assert (tmp_path / "kopilka.sqlite3").exists()
    second = run_once(tmp_path)
    assert "Demo data already exists." in second
    assert pos_key(second) == pos_key(first)
    assert "kopilka: stopping" in second
