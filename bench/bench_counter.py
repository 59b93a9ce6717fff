"""Benchmark: counter speed in the browser — register a member, sell to a phone card (the
member's QR), sell to a plastic card — against OpenBonus's norms (15 s, 5 s, 2 s).

Not a test. Needs Debian's Chromium (apt-get install chromium) and the test extras
(Playwright). Run:  .venv/bin/python bench/bench_counter.py [--runs 5] [--latency 0 150 400]

It creates a café on a new SQLite database (the embedded default) with a browser counter and a
cashier, starts `kopilka up` on it (web server and worker; SMS to a file, so the benchmark reads
the registration code the way the customer would read it off the phone), and drives the
cashier workplace in Chromium on a tablet viewport. For each flow it reports two numbers:

- system time: from the key press, tap or scan that asks for the next screen to that screen
  settled (htmx:afterSettle, or the load of a new page), measured inside the page with the
  page's own clock, summed over the flow's steps; with Chrome's network emulation adding 0, 150
  and 400 ms to every round trip; and the round trips the flow made (documents and htmx
  requests; static files are cached after the first page);
- interaction cost: the keys, taps, scans and decisions the flow asks of the cashier, in seconds
  by the keystroke-level model (key 0.28 s, tap 1.1 s, decision 1.35 s, scan 1.0 s; the
  constants of ../shared/UI.md).

The flow's time is the two added. Prints a table (medians over --runs) and one JSON line, and
writes bench/results/counter.md.
"""

import argparse
import contextlib
import io
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CHROMIUM = os.environ.get("KOPILKA_CHROMIUM", "/usr/bin/chromium")
KLM = {"key": 0.28, "tap": 1.1, "decision": 1.35, "scan": 1.0}
NORMS = {"register": 15.0, "phone card sale": 5.0, "plastic card sale": 2.0}
PIN = "2580"
PLASTIC = "2000000000017"

# Recorded in every page before its scripts run. The start of a step is the last Enter, click
# or scanner burst; its end the next htmx settle or page load. The clock is Date.now() because a
# step may end on a new page (performance.now() starts again with each page).
MEASURE = """
(function () {
  var store = window.sessionStorage;
  function start() { store.setItem("bench-start", String(Date.now())); }
  function end(kind) {
    var began = Number(store.getItem("bench-start") || 0);
    if (!began) { return; }  // a swap nobody asked for by a key or tap (the live quote)
    store.removeItem("bench-start");
    var done = JSON.parse(store.getItem("bench-steps") || "[]");
    done.push({kind: kind, ms: Date.now() - began, at: location.pathname});
    store.setItem("bench-steps", JSON.stringify(done));
  }
  document.addEventListener("keydown", function (e) { if (e.key === "Enter") { start(); } }, true);
  document.addEventListener("click", start, true);
  document.addEventListener("htmx:afterSettle", function () { end("swap"); });
  window.addEventListener("load", function () { end("page"); });
}());
"""


@dataclass
class Flow:
    name: str
    operations: dict  # KLM operation -> count
    steps: list = field(default_factory=list)  # ms per measured step
    round_trips: int = 0

    @property
    def interaction_s(self) -> float:
        return sum(KLM[op] * n for op, n in self.operations.items())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare(data_dir: Path) -> dict:
    """The café, its counter device, a cashier with a PIN, and two known customers."""
    os.environ.update({
        "DATABASE_URL": f"sqlite:///{data_dir / 'kopilka.sqlite3'}",
        "KOPILKA_DATA_DIR": str(data_dir), "DJANGO_SETTINGS_MODULE": "kopilka.settings",
        "KOPILKA_LOG_LEVEL": "WARNING",
    })
    import django

    django.setup()
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command
    from django.http import HttpResponse
    from django_scopes import scope

    from kopilka import demo
    from kopilka.core.actor import Actor
    from kopilka.members import services as members
    from kopilka.tenancy import invitations
    from kopilka.tenancy import services as tenancy
    from kopilka.tenancy.models import Merchant, Staff, Terminal
    from kopilka.web.cashier import counter

    call_command("migrate", verbosity=0)
    demo.ensure_demo("http://127.0.0.1")
    merchant = Merchant.objects.get(slug=demo.DEMO_SLUG)
    actor = Actor.cli()
    terminal, key = tenancy.create_terminal(merchant, store_name="Тверская, 1", name="Bench",
                                            kind=Terminal.Kind.BROWSER, actor=actor)
    with scope(merchant=merchant), contextlib.redirect_stdout(io.StringIO()):  # the mail
        invited = invitations.invite_staff(merchant, email="bench-cashier@example.com",
                                           role=Staff.Role.CASHIER, by=None, actor=actor)
    staff = invitations.accept_invitation(invited.key, password=secrets.token_urlsafe(12))
    with scope(merchant=merchant):
        phone_member = members.find_member(merchant, phone="+79161234567")
        plastic_member = members.find_member(merchant, phone="+79167654321")
        members.issue_card(plastic_member, number=PLASTIC, actor=actor)
    session = SessionStore()
    session[counter.SESSION_KEY] = {"terminal": terminal.pk, "staff": staff.pk}
    session.create()
    response = HttpResponse()
    counter.remember_device(response, key)
    from django.conf import settings

    return {
        "cookies": [
            {"name": counter.DEVICE_COOKIE, "value": response.cookies[counter.DEVICE_COOKIE].value},
            {"name": settings.SESSION_COOKIE_NAME, "value": session.session_key},
        ],
        "qr": phone_member.qr_token,
        "card": PLASTIC,
        "secret_key": settings.SECRET_KEY,
    }


def start_server(data_dir: Path, port: int, secret_key: str) -> subprocess.Popen:
    env = {**os.environ, "KOPILKA_DATA_DIR": str(data_dir),
           "DATABASE_URL": f"sqlite:///{data_dir / 'kopilka.sqlite3'}",
           "KOPILKA_SECRET_KEY": secret_key, "KOPILKA_SMS_BACKEND": "file",
           # as a café runs it: production settings (no DEBUG; static files cached)
           "KOPILKA_ENV": "production", "KOPILKA_ALLOWED_HOSTS": "127.0.0.1",
           "KOPILKA_EMAIL_HOST": "127.0.0.1",
           "KOPILKA_RATE_LIMIT_POS": "0"}
    log = (data_dir / "server.log").open("wb")
    server = subprocess.Popen([sys.executable, "-m", "kopilka.cli", "up", "--host", "127.0.0.1",
                               "--port", str(port)], env=env, stdout=log, stderr=log,
                              start_new_session=True)
    for _ in range(150):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).read()
            return server
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"kopilka up did not come up; see {data_dir / 'server.log'}")


def code_sent_to(data_dir: Path, phone_tail: str, after: int) -> str:
    """The newest one-time code sent to a phone ending in `phone_tail` (the customer reads it)."""
    path = data_dir / "messages.jsonl"
    for _ in range(100):
        if path.exists():
            lines = path.read_text(encoding="utf-8").splitlines()[after:]
            for line in reversed(lines):
                message = json.loads(line)
                if message["to"].endswith(phone_tail):
                    found = re.search(r"\b(\d{4,8})\b", message["text"])
                    if found:
                        return found.group(1)
        time.sleep(0.1)
    raise SystemExit("no code was sent")


def message_count(data_dir: Path) -> int:
    path = data_dir / "messages.jsonl"
    return len(path.read_text(encoding="utf-8").splitlines()) if path.exists() else 0


class Counter:
    """One tablet at the counter: a Chromium tab with the device and cashier cookies."""

    def __init__(self, browser, playwright, base: str, cookies: list, latency_ms: int):
        device = playwright.devices["iPad Mini"]
        options = {k: v for k, v in device.items() if k != "default_browser_type"}
        self.context = browser.new_context(**options, locale="ru")
        self.context.add_cookies([{**c, "url": base} for c in cookies])
        self.context.add_init_script(MEASURE)
        self.page = self.context.new_page()
        self.base = base
        self.trips = 0
        self.page.on("request", self._count)
        cdp = self.context.new_cdp_session(self.page)
        cdp.send("Network.enable")
        cdp.send("Network.emulateNetworkConditions", {
            "offline": False, "latency": latency_ms, "downloadThroughput": -1,
            "uploadThroughput": -1})

    def _count(self, request):
        if request.resource_type in ("document", "xhr", "fetch"):
            self.trips += 1

    def open(self, path: str = "/cashier/"):
        self.page.goto(self.base + path)
        self.page.wait_for_load_state("load")
        self.page.evaluate("sessionStorage.removeItem('bench-steps');"
                           "sessionStorage.removeItem('bench-start')")
        self.trips = 0

    def steps(self) -> list:
        return json.loads(self.page.evaluate("sessionStorage.getItem('bench-steps') || '[]'"))

    def settle(self, selector: str):
        self.page.wait_for_selector(selector, state="visible")
        self.page.wait_for_load_state("load")
        self.page.wait_for_timeout(50)  # the settle event lands after the swap is visible

    def scan(self, text: str):
        """A USB scanner: the characters at once, then Enter, into the focused field."""
        self.page.keyboard.insert_text(text)
        self.page.keyboard.press("Enter")

    def close(self):
        self.context.close()


def sell(counter: Counter, amount: str):
    """From the member card: Enter in the emptied search field is Sell, then the amount and
    Enter."""
    counter.page.keyboard.press("Enter")
    counter.settle("#id_amount")
    counter.page.locator("#id_amount").fill("")
    counter.page.keyboard.type(amount)
    counter.page.wait_for_selector("#quote [data-max-points]")  # the live quote, while typing
    counter.page.keyboard.press("Enter")
    counter.settle(".receipt")


def phone_card_sale(counter: Counter, qr: str) -> None:
    counter.open()
    counter.scan(qr)
    counter.settle("#result .member-card")
    sell(counter, "1500")


def plastic_card_sale(counter: Counter, card: str) -> None:
    counter.open()
    counter.scan(card)
    counter.settle("#result .member-card")
    sell(counter, "1500")


def register(counter: Counter, data_dir: Path, phone: str) -> None:
    counter.open()
    counter.page.keyboard.type(phone)
    counter.page.keyboard.press("Enter")
    counter.settle("#result a[href*='register']")
    counter.page.locator("#result a[href*='register']").first.click()
    counter.settle("#result form")
    before = message_count(data_dir)
    counter.page.get_by_role("button", name=re.compile("код|code", re.I)).first.click()
    counter.settle(".member-form__sent")
    # While the SMS travels the cashier asks for the consent and ticks it.
    counter.page.locator("#result input[type=checkbox]").first.check()
    code = code_sent_to(data_dir, phone[-4:], before)
    counter.page.locator("#id_code").fill("")
    counter.page.locator("#id_code").focus()
    counter.page.keyboard.type(code)
    counter.page.keyboard.press("Enter")
    counter.settle("#result .member-card")


# What each flow asks of the cashier (ops), by the keystroke-level model:
# register: the phone typed (11 keys + Enter), "is this a new customer?" (decision), tap
# "Register", tap "Send code", tick the consent the customer gives (tap), wait for the customer
# to read the code (decision), the code (6 keys + Enter);
# phone card: scan the QR, Enter on the focused Sell, the amount (4 keys + Enter), "points or
# not?" (decision);
# plastic card: scan the card, the same.
OPERATIONS = {
    "register": {"key": 12 + 7, "tap": 3, "decision": 2},
    "phone card sale": {"scan": 1, "key": 1 + 5, "decision": 1},
    "plastic card sale": {"scan": 1, "key": 1 + 5, "decision": 1},
}


def run(args) -> dict:
    from playwright.sync_api import sync_playwright

    data_dir = Path(tempfile.mkdtemp(prefix="kopilka-counter-"))
    prepared = prepare(data_dir)
    port = free_port()
    server = start_server(data_dir, port, prepared["secret_key"])
    base = f"http://127.0.0.1:{port}"
    results = {}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                                 args=["--headless", "--no-sandbox"])
            # A first page warms the static files into the browser's cache, as a counter
            # tablet has them after its first customer of the day.
            for latency in args.latency:
                for name in OPERATIONS:
                    totals, trips = [], []
                    for n in range(args.runs):
                        counter = Counter(browser, playwright, base, prepared["cookies"], latency)
                        counter.open()  # warm-up
                        try:
                            if name == "register":
                                register(counter, data_dir, f"+7926{latency:03d}{n:04d}")
                            elif name == "phone card sale":
                                phone_card_sale(counter, prepared["qr"])
                            else:
                                plastic_card_sale(counter, prepared["card"])
                        except Exception:
                            shot = ROOT / "bench" / "results" / "counter-failure.png"
                            counter.page.screenshot(path=shot, full_page=True)
                            print(f"{name} failed at {counter.page.url}; see {shot}",
                                  file=sys.stderr)
                            raise
                        steps = counter.steps()
                        totals.append(sum(step["ms"] for step in steps))
                        trips.append(counter.trips)
                        if n == 0:
                            results.setdefault(name, {})[f"steps_{latency}"] = steps
                        counter.close()
                    results.setdefault(name, {})[latency] = {
                        "system_ms": round(statistics.median(totals)),
                        "max_step_ms": max(s["ms"] for s in results[name][f"steps_{latency}"]),
                        "round_trips": round(statistics.median(trips)),
                    }
            browser.close()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        shutil.rmtree(data_dir, ignore_errors=True)
    return results


def table(results: dict, latencies: list) -> str:
    head = ["flow", "norm", "interaction (KLM)"]
    for latency in latencies:
        head += [f"system @{latency} ms", f"slowest step @{latency}", f"flow @{latency}"]
    head.append("round trips")
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, operations in OPERATIONS.items():
        interaction = sum(KLM[op] * n for op, n in operations.items())
        cells = [name, f"≤ {NORMS[name]:.0f} s", f"{interaction:.2f} s"]
        for latency in latencies:
            figures = results[name][latency]
            cells += [f"{figures['system_ms'] / 1000:.2f} s", f"{figures['max_step_ms']} ms",
                      f"{interaction + figures['system_ms'] / 1000:.2f} s"]
        cells.append(str(results[name][latencies[0]]["round_trips"]))
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--latency", type=int, nargs="+", default=[0, 150, 400])
    args = parser.parse_args()
    results = run(args)
    text = table(results, args.latency)
    print(text)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    loadavg = Path("/proc/loadavg").read_text().split()[:3]
    (out / "counter.md").write_text(
        f"# Counter speed (bench/bench_counter.py, load average {' '.join(loadavg)})\n\n"
        + text + "\n")
    print(json.dumps({"counter": {name: {str(k): v for k, v in figures.items()}
                                  for name, figures in results.items()}}))


if __name__ == "__main__":
    main()
