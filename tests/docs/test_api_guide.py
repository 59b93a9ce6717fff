"""docs/api.md runs: its shell examples, top to bottom in one bash, against a fresh
`kopilka up --demo` (SQLite in its own data directory, a free port), with real curl and jq.
Each example's status, headers and JSON fields are compared with what the guide shows
(tests/docs/guide.py says how the guide writes them and what is ignored: times, key secrets,
passwords). What the reader reads off the demo's console — a one-time code (`CODE=123456`), an
invitation key (`KEY=kp_inv_...`) — the test reads off the server's output the same way
(`docs-sms-code`, `docs-invitation-key`).
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.docs.guide import Step, mismatches, parse_expected_json, parse_guide

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "api.md"
MOSCOW = ZoneInfo("Europe/Moscow")
# The demo's members with birthdays (kopilka/demo.py) and its "9-12 double bonuses" rule.
DEMO_BIRTHDAYS = [(3, 14), (11, 2)]

# Logs each call's status, headers and body for the comparison; passes the output through
# unchanged, so pipelines into jq work as they do for the reader.
CURL_WRAPPER = """#!{python}
import json, os, subprocess, sys, tempfile
with tempfile.NamedTemporaryFile() as headers:
    done = subprocess.run(
        [os.environ["DOCS_REAL_CURL"], *sys.argv[1:], "-D", headers.name,
         "-w", "%{{stderr}}@@DOCS-CODE %{{http_code}}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    sys.stdout.buffer.write(done.stdout)
    sys.stdout.flush()
    err, _, code = done.stderr.decode().rpartition("@@DOCS-CODE ")
    sys.stderr.write(err)
    raw = open(headers.name, "rb").read().decode("latin-1")
body = done.stdout.decode()
while body.startswith("HTTP/"):  # -i: the headers are in the output too
    body = body.split("\\r\\n\\r\\n", 1)[-1]
blocks = [b for b in raw.replace("\\r\\n", "\\n").split("\\n\\n") if b.strip()]
last = blocks[-1].splitlines() if blocks else []
with open(os.environ["DOCS_CURL_LOG"], "a") as log:
    log.write(json.dumps({{
        "step": int(os.environ.get("DOCS_STEP", "-1")), "status": int(code or 0),
        "headers": dict(line.split(":", 1) for line in last[1:] if ":" in line),
        "body": body, "args": sys.argv[1:],
    }}) + "\\n")
sys.exit(done.returncode)
"""

# The one-time code the demo's console SMS brought to a phone (what the reader reads off the
# `kopilka up` console): the newest code SMS to it that was not given out before.
SMS_CODE = """#!{python}
import os, re, sys, time
phone, log, seen_file = sys.argv[1], os.environ["DOCS_SERVER_LOG"], os.environ["DOCS_CODES_SEEN"]
seen = set(open(seen_file).read().split()) if os.path.exists(seen_file) else set()
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    text = open(log, encoding="utf-8", errors="replace").read()
    found = re.findall(r"^--- sms #(\\d+) to " + re.escape(phone) + r"\\n(.*\\b(\\d{{6}})\\b.*)$",
                       text, flags=re.M)
    fresh = [(number, code) for number, _, code in found if number not in seen]
    if fresh:
        number, code = fresh[-1]
        open(seen_file, "a").write(number + "\\n")
        print(code)
        sys.exit(0)
    time.sleep(0.2)
sys.exit("no code SMS to " + phone)
"""

# The invitation key the newest invitation mail to an address carried (what the reader reads off
# the `kopilka up` console, where the demo's console mail backend (kopilka/core/mail.py) prints
# each mail's headers and text, then a line of 79 dashes), not given out before.
INVITATION_KEY = """#!{python}
import email, email.policy, os, re, sys, time
address, log, seen_file = sys.argv[1], os.environ["DOCS_SERVER_LOG"], os.environ["DOCS_KEYS_SEEN"]
seen = set(open(seen_file).read().split()) if os.path.exists(seen_file) else set()
# A mail as the console prints it: its top-level headers (MIME-Version among them), a blank
# line, the body, the dashes.
MAIL = re.compile(r"^Content-Type: [^\\n]*\\n(?:[^\\n]+\\n)*?"
                  r"MIME-Version: [^\\n]*\\n(?:[^\\n]+\\n)*?"
                  r"\\n.*?(?=^-{{79}}$)", flags=re.M | re.S)
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    text = open(log, encoding="utf-8", errors="replace").read()
    fresh = []
    for raw in MAIL.findall(text):
        mail = email.message_from_string(raw, policy=email.policy.default)
        to = [each.addr_spec for each in mail["To"].addresses] if mail["To"] else []
        if mail["Message-ID"] in seen or address not in to:
            continue
        body = mail.get_body(("plain",))
        content = body.get_content() if body else ""
        key = re.search(r"\\bkp_inv_[A-Za-z0-9]+_[A-Za-z0-9_-]+", content)
        if key:
            fresh.append((mail["Message-ID"], key.group(0)))
    if fresh:
        message_id, key = fresh[-1]
        open(seen_file, "a").write(message_id + "\\n")
        print(key)
        sys.exit(0)
    time.sleep(0.2)
sys.exit("no invitation mail to " + address)
"""

# `CODE=123456   # ... +79165556677 ...` in the guide: the reader types the code the SMS
# brought; the test reads it off the server's console the same way.
CODE_LINE = re.compile(r"^CODE=\d{6}(\s+#.*?(\+\d{8,15}))", re.MULTILINE)
# `KEY=kp_inv_...   # ... manager@demo.kopilka.local`: the key the invitation mail brought.
KEY_LINE = re.compile(r"^KEY=kp_inv_\.\.\.(\s+#.*?([\w.+-]+@[\w.-]+\w))", re.MULTILINE)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def figures_may_differ(moment: datetime) -> str | None:
    """Why the demo's figures differ from the guide's at this moment, if they do."""
    local = moment.astimezone(MOSCOW)
    minutes = local.hour * 60 + local.minute
    if 9 * 60 - 5 <= minutes < 12 * 60 + 5:
        return "the demo's '9-12 double bonuses' rule applies now (Moscow time)"
    for month, day in DEMO_BIRTHDAYS:
        for year in (local.year - 1, local.year, local.year + 1):
            if abs((local.date() - date(year, month, day)).days) <= 4:
                return "a demo member's birthday bonus applies now"
    return None


@pytest.fixture
def tools():
    missing = [tool for tool in ("curl", "jq", "bash") if not shutil.which(tool)]
    if missing:
        message = f"the API guide's examples need {', '.join(missing)}"
        if os.environ.get("CI"):
            pytest.fail(message + " (.ci/run installs them)")
        pytest.skip(message)
    return {tool: shutil.which(tool) for tool in ("curl", "jq", "bash")}


@pytest.fixture
def demo_server(tmp_path):
    """`kopilka up --demo` on a free port, on SQLite in its own data directory; yields its URL,
    the keys it printed and its console log."""
    port = free_port()
    data_dir = tmp_path / "var"
    log_path = tmp_path / "server.log"
    env = {**os.environ, "KOPILKA_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1"}
    for name in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "KOPILKA_SMS_BACKEND"):
        env.pop(name, None)
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "kopilka.cli", "up", "--demo", "--port", str(port)],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300  # ~30 s on a quiet machine, 130 s seen at load 10+
        while True:
            try:
                with urllib.request.urlopen(url + "/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, "the demo did not start:\n" + log_path.read_text()
            time.sleep(0.3)
        printed = log_path.read_text()
        keys = {
            "POS_KEY": re.search(r"POS API key:\s+Authorization: Bearer (\S+)", printed).group(1),
            "MGT_TOKEN": re.search(r"Management API:\s+Authorization: Bearer (\S+)",
                                   printed).group(1),
        }
        yield url, keys, log_path
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def build_script(steps: list[Step]) -> str:
    parts = ["__step() { export DOCS_STEP=$1; printf '\\n@@DOCS-STEP %s@@\\n' \"$1\"; }"]
    for n, step in enumerate(steps):
        code = CODE_LINE.sub(lambda m: f'CODE=$(docs-sms-code {m.group(2)}){m.group(1)}',
                             step.code)
        code = KEY_LINE.sub(lambda m: f'KEY=$(docs-invitation-key {m.group(2)}){m.group(1)}',
                            code)
        parts += [f"__step {n}", code]
    parts.append("__step end")
    return "\n".join(parts) + "\n"


def test_the_guide_has_runnable_examples_with_expectations():
    """Cheap checks of the guide itself, so a broken example fails fast without a server."""
    steps = parse_guide(GUIDE.read_text())
    assert len(steps) >= 60
    # Moments are computed from now (`date -d ...`), so the guide runs on any day.
    commands = [line.split(" #")[0] for step in steps for line in step.code.splitlines()
                if not line.lstrip().startswith("#")]
    assert not [line for line in commands if re.search(r"\d{4}-\d\d-\d\dT", line)]
    code = "\n".join(step.code for step in steps)
    assert len(CODE_LINE.findall(code)) == 2
    assert len(KEY_LINE.findall(code)) == 3


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="the demo server runs on SQLite whatever the suite's database: the SQLite run "
           "covers the guide",
)
def test_the_api_guide_runs_top_to_bottom_on_the_demo(demo_server, tools, tmp_path):
    url, keys, server_log = demo_server
    steps = parse_guide(GUIDE.read_text())
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name, text in (("curl", CURL_WRAPPER), ("docs-sms-code", SMS_CODE),
                       ("docs-invitation-key", INVITATION_KEY)):
        (bindir / name).write_text(text.format(python=sys.executable))
        (bindir / name).chmod(0o755)
    curl_log = tmp_path / "curl.jsonl"
    script = tmp_path / "guide.sh"
    script.write_text(build_script(steps))
    env = {
        "PATH": f"{bindir}:{os.environ['PATH']}", "HOME": str(tmp_path), "LANG": "C.UTF-8",
        "KOPILKA": url, **keys,
        "DOCS_REAL_CURL": tools["curl"], "DOCS_CURL_LOG": str(curl_log),
        "DOCS_SERVER_LOG": str(server_log), "DOCS_CODES_SEEN": str(tmp_path / "codes-seen"),
        "DOCS_KEYS_SEEN": str(tmp_path / "keys-seen"),
    }
    before = figures_may_differ(datetime.now(MOSCOW))
    started = time.monotonic()
    done = subprocess.run([tools["bash"], "--noprofile", "--norc", str(script)], env=env,
                          capture_output=True, text=True, timeout=600)
    seconds = time.monotonic() - started
    loose = before or figures_may_differ(datetime.now(MOSCOW))
    print(f"the API guide ran {len(steps)} steps in {seconds:.1f} s"
          f"{'; figures not compared: ' + loose if loose else ''}", file=sys.stderr)
    assert "@@DOCS-STEP end@@" in done.stdout, done.stdout[-3000:] + done.stderr[-3000:]

    printed = dict(re.findall(r"\n@@DOCS-STEP (\d+)@@\n(.*?)(?=\n@@DOCS-STEP )",
                              done.stdout, flags=re.S))
    calls: dict[int, list[dict]] = {}
    for line in curl_log.read_text().splitlines():
        call = json.loads(line)
        calls.setdefault(call["step"], []).append(call)

    problems = []
    for n, step in enumerate(steps):
        where = f"docs/api.md:{step.line}"
        step_calls = calls.get(n, [])
        for call in step_calls:
            if call["status"] >= 500 or call["status"] == 0:
                problems.append(f"{where}: {call['status']} for curl {call['args']}")
        expected = step.expectation
        if expected is None:
            if step_calls:
                problems.append(f"{where}: calls the API but shows no answer")
            continue
        last = step_calls[-1] if step_calls else None
        if expected.status is not None:
            if last is None:
                problems.append(f"{where}: shows {expected.status}, but no curl ran")
                continue
            if last["status"] != expected.status:
                problems.append(f"{where}: shows {expected.status}, the server answered "
                                f"{last['status']} {last['body'][:500]}")
                continue
        for earlier in step_calls[:-1]:
            if not 200 <= earlier["status"] < 300:
                problems.append(f"{where}: an earlier call answered {earlier['status']}")
        for header, value in expected.headers.items():
            got = {k.strip().lower(): v.strip() for k, v in last["headers"].items()}
            if got.get(header.lower()) != value:
                problems.append(f"{where}: header {header}: {got.get(header.lower())!r}")
        if not expected.has_body:
            continue
        text = printed.get(str(n), "") if expected.printed else last["body"]
        try:
            actual = json.loads(text)
        except json.JSONDecodeError:
            problems.append(f"{where}: not JSON: {text[:500]!r}")
            continue
        problems += [f"{where}: {problem}" for problem in
                     mismatches(expected.body, actual, loose=bool(loose))]
    assert not problems, "\n".join(problems) + "\n--- stderr:\n" + done.stderr[-3000:]


def test_the_comparison_ignores_what_the_guide_says_it_ignores():
    shown = parse_expected_json(
        '{"id": 2, "key": "kp_pos_...", "created_at": "2026-11-23T17:17:24.008Z",'
        ' "password": "...", "items": [{"id": 1, ...}, ...]}', where=0)
    answer = {"id": 2, "key": "kp_pos_ab12_secret", "created_at": "2027-01-02T03:04:05Z",
              "password": "x1", "items": [{"id": 1, "name": "a"}, {"id": 0}]}
    assert mismatches(shown, answer) == []
    assert mismatches(shown, {**answer, "extra": 1}) == [".extra: not in the guide"]
    assert mismatches(shown, {**answer, "key": "kp_mgt_x"}) == [
        ".key: 'kp_mgt_x' does not start with 'kp_pos_'"]
    assert mismatches({"n": 1}, {"n": True}) == [
        ".n: the guide shows 1, the server answered True"]
    # Where the demo's figures move with the hour, points are not compared; ids and codes are.
    assert mismatches({"id": 1, "available": 5}, {"id": 1, "available": 9}, loose=True) == []
    assert mismatches({"id": 1}, {"id": 2}, loose=True) != []


def test_figures_differ_in_the_morning_and_around_demo_birthdays():
    assert figures_may_differ(datetime(2027, 6, 1, 10, 30, tzinfo=MOSCOW))
    assert figures_may_differ(datetime(2027, 3, 15, 15, 0, tzinfo=MOSCOW))
    assert figures_may_differ(datetime(2027, 6, 1, 15, 0, tzinfo=MOSCOW)) is None
    assert figures_may_differ(datetime(2027, 6, 1, 8, 50, tzinfo=MOSCOW) - timedelta(0)) is None
