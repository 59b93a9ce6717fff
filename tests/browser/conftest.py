"""Browser tests: Playwright driving Debian's Chromium against a live Kopilka (docs/web.md,
"Browser tests").

- Chromium is the system's (/usr/bin/chromium, `apt-get install chromium`); Playwright never
  downloads a browser. Without it the tests skip, unless KOPILKA_REQUIRE_BROWSER=1 (CI) makes
  that a failure. KOPILKA_SKIP_BROWSER_TESTS=1 skips them (CI's second database pass: one
  database is enough for them).
- Every test runs once per viewport: a phone (Pixel 7), a tablet (iPad Mini), a desktop.
- A guard aborts and records every request that leaves the test server; console errors (a CSP
  violation is one) and CSP violation events are recorded too. A test fails on any of them it
  did not declare with `screen.expect_console(...)`.
- The pages are served under the site's Content-Security-Policy (at least default-src 'self').
- `screen.shot(name)` writes a full-page screenshot to $KOPILKA_SCREENSHOTS (default
  var/screenshots) as <name>-<viewport>.png.
"""

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import segno
from django.conf import settings as django_settings
from django.test import override_settings
from django.utils.csp import CSP

CHROMIUM = os.environ.get("KOPILKA_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",  # root in a container has no user namespaces for the sandbox
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(os.environ.get("KOPILKA_SCREENSHOTS", "var/screenshots")).resolve()
VIEWPORTS = ("pixel-7", "ipad-mini", "desktop")
# The site's policy (SECURE_CSP in kopilka/settings.py); where it sets none yet, the one it is
# meant to: this site only, no inline script or style, no other origin.
POLICY = dict(getattr(django_settings, "SECURE_CSP", None) or {"default-src": [CSP.SELF]})
CSP_MIDDLEWARE = "django.middleware.csp.ContentSecurityPolicyMiddleware"
TEMPLATES_DIR = Path(__file__).parent / "templates"

# Recorded in the page before any of its scripts run (init scripts are exempt from the CSP).
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.__cspViolations.push(event.violatedDirective + " " + (event.blockedURI || "inline") +
    " at " + event.sourceFile + ":" + event.lineNumber + ":" + event.columnNumber);
});
"""


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    mine = [item for item in items if here in Path(item.path).parents]
    if not mine:
        return
    reason = None
    if os.environ.get("KOPILKA_SKIP_BROWSER_TESTS") == "1":
        reason = "KOPILKA_SKIP_BROWSER_TESTS=1 (browser tests run in one database pass only)"
    elif not shutil.which(CHROMIUM):
        if os.environ.get("KOPILKA_REQUIRE_BROWSER") == "1":
            raise pytest.UsageError(f"{CHROMIUM} is missing: apt-get install -y chromium")
        reason = f"{CHROMIUM} is missing (apt-get install -y chromium)"
    if reason:
        for item in mine:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="package")
def web_server(django_db_setup, django_db_blocker):
    """A live server of this package's own, started with the CSP middleware in place (it is
    loaded once, when the server starts); the policy itself is set per test."""
    from pytest_django.live_server_helper import LiveServer

    middleware = list(django_settings.MIDDLEWARE)
    if CSP_MIDDLEWARE not in middleware:
        middleware.insert(middleware.index("django.middleware.security.SecurityMiddleware") + 1,
                          CSP_MIDDLEWARE)
    with override_settings(MIDDLEWARE=middleware), django_db_blocker.unblock():
        server = LiveServer("localhost")
    server._live_server_modified_settings.enable()  # ALLOWED_HOSTS += localhost, as live_server
    yield server
    server._live_server_modified_settings.disable()
    server.stop()


@pytest.fixture(scope="package")
def browser(web_server):
    from playwright.sync_api import expect, sync_playwright

    # CI shares two cores between the suite's workers, Chromium and whatever else runs: a
    # server answer took 24 s there once. Assertions wait up to 15 s (Playwright's default is
    # 5 s); one that holds answers at once, so a passing test is no slower.
    expect.set_options(timeout=15_000)
    # Playwright's sync API keeps an event loop running on this thread, which Django's ORM
    # takes for async code; the tests' own ORM calls are plain sync code. Only while this
    # package runs: the loop stops with it.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
    yield playwright, chromium
    chromium.close()
    playwright.stop()
    if previous is None:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(params=VIEWPORTS)
def viewport(request):
    return request.param


@dataclass
class Screen:
    """One browser tab on one viewport, with what the guard and the console recorded."""

    page: object
    context: object
    url: str  # the live server, without a slash at the end
    viewport: str
    outside: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    expected: list[re.Pattern] = field(default_factory=list)

    def go(self, path: str):
        response = self.page.goto(self.url + path)
        self.page.wait_for_load_state("load")
        return response

    def shot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}-{self.viewport}.png"
        # caret="initial": hiding the caret injects a style, which the CSP rightly refuses.
        self.page.screenshot(path=path, full_page=True, caret="initial")
        return path

    def expect_console(self, pattern: str) -> None:
        """Declare a console error this test causes on purpose (a 4xx/5xx response, offline)."""
        self.expected.append(re.compile(pattern))

    def violations(self) -> list[str]:
        return self.page.evaluate("window.__cspViolations || []")

    def unexpected_console(self) -> list[str]:
        return [text for text in self.console
                if not any(pattern.search(text) for pattern in self.expected)]


def new_screen(playwright, chromium, server_url: str, viewport: str, language: str) -> Screen:
    if viewport == "desktop":
        options = {"viewport": {"width": 1366, "height": 900}}
    else:
        device = playwright.devices["Pixel 7" if viewport == "pixel-7" else "iPad Mini"]
        options = {key: value for key, value in device.items() if key != "default_browser_type"}
    context = chromium.new_context(**options, locale=language,
                                   extra_http_headers={"Accept-Language": language})
    page = context.new_page()
    screen = Screen(page=page, context=context, url=server_url, viewport=viewport)

    def guard(route):
        if route.request.url.startswith(server_url + "/"):
            route.continue_()
        else:
            screen.outside.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    context.add_init_script(RECORD_VIOLATIONS)
    page.on("console", lambda message: message.type == "error" and screen.console.append(
        message.text))
    page.on("pageerror", lambda error: screen.console.append(f"page error: {error}"))
    return screen


@pytest.fixture
def screen_in(browser, web_server, viewport, transactional_db, settings):
    """Opens a tab on `viewport` in a language: `screen_in("ru")`. Each is checked and closed
    at the end of the test."""
    settings.SECURE_CSP = POLICY
    settings.ROOT_URLCONF = "tests.browser.urls"
    settings.TEMPLATES = [{**django_settings.TEMPLATES[0], "DIRS": [TEMPLATES_DIR]}]
    playwright, chromium = browser
    opened = []

    def open_in(language: str) -> Screen:
        made = new_screen(playwright, chromium, web_server.url, viewport, language)
        opened.append(made)
        return made

    yield open_in
    problems = [_close(made) for made in opened]  # close them all, then complain
    for outside, unexpected, violations in problems:
        assert outside == [], f"requests left the test server: {outside}"
        assert unexpected == [], "console errors:\n" + "\n".join(unexpected + violations)
        assert violations == [], "Content-Security-Policy violations:\n" + "\n".join(violations)


@pytest.fixture
def screen(screen_in):
    """A tab on `viewport` in English."""
    return screen_in("en")


def _close(made: Screen) -> tuple[list[str], list[str], list[str]]:
    """Close the tab; what it recorded: outside requests, console errors, CSP violations."""
    try:
        violations = made.violations()
    except Exception:  # the page may be mid-navigation; the console still has the violation
        violations = []
    made.context.close()
    return made.outside, made.unexpected_console(), violations


@pytest.fixture
def camera(browser, web_server, viewport, tmp_path):
    """A Chromium of its own whose camera plays a video of a QR code: call it with the code's
    text, or with `image=` a picture of one (a screenshot of the wallet's card)."""
    playwright, _chromium = browser
    launched = []

    def open_with(text: str | None = None, *, image: Path | None = None) -> Screen:
        png, video = tmp_path / f"qr-{len(launched)}.png", tmp_path / f"qr-{len(launched)}.y4m"
        if image is None:
            segno.make_qr(text, error="m").save(png, scale=8, border=4)
        else:
            png = image
        subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-loop", "1", "-i", str(png),
                        "-vf", "scale=360:360,pad=640:480:140:60:white,format=yuv420p",
                        "-r", "15", "-t", "3", str(video)], check=True)
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            *FLAGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={video}"])
        launched.append(chromium)
        made = new_screen(playwright, chromium, web_server.url, viewport, "en")
        made.context.grant_permissions(["camera"], origin=web_server.url)
        return made

    yield open_with
    for chromium in launched:
        chromium.close()
