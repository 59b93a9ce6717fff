"""Who is at this counter: the device (a browser terminal a manager signed in for a store) and
the cashier switched in on it with their PIN.

The device is known by its key, kept in a signed, HTTP-only cookie for a long time (a tablet
stays "Store 2" until a manager signs it out or the terminal is revoked). The cashier is known
by the session, for this device only: a session moved to another device means nothing there.
A cashier is switched out after settings.COUNTER_IDLE_LOCK seconds without a request
(static/cashier/signin.js locks the screen itself after the same time, so an unattended tablet
shows no member's data).
Every cashier view is wrapped in `counter_view(permission)`, which finds both, refuses what
the principal may not do, and runs the view inside the merchant's scope
(`access.enter`), with `request.counter` set.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from zoneinfo import ZoneInfo

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from kopilka.tenancy import access
from kopilka.tenancy import services as tenancy
from kopilka.tenancy.logins import client_ip
from kopilka.tenancy.models import Merchant, Staff, Store, Terminal

DEVICE_COOKIE = "kopilka_counter"
DEVICE_COOKIE_SALT = "kopilka.cashier.device"
DEVICE_COOKIE_AGE = 400 * 24 * 3600  # the most browsers keep a cookie
SESSION_KEY = "kopilka_counter_cashier"  # {"terminal": pk, "staff": pk, "seen": epoch s}
SEEN_RESOLUTION = 60  # seconds: don't write the session on every request


@dataclass(frozen=True)
class Counter:
    terminal: Terminal
    staff: Staff
    principal: access.Principal

    @property
    def merchant(self) -> Merchant:
        return self.terminal.merchant

    @property
    def store(self) -> Store:
        return self.terminal.store

    @property
    def idle_lock_seconds(self) -> int:
        return settings.COUNTER_IDLE_LOCK


def device_of(request: HttpRequest) -> Terminal | None:
    """The live browser terminal this device was signed in as, or None."""
    key = request.get_signed_cookie(DEVICE_COOKIE, default=None, salt=DEVICE_COOKIE_SALT)
    if not key:
        return None
    terminal = tenancy.authenticate_terminal(key)
    if terminal is None or terminal.kind != Terminal.Kind.BROWSER:
        return None
    return terminal


def remember_device(response: HttpResponse, key: str) -> None:
    response.set_signed_cookie(
        DEVICE_COOKIE, key, salt=DEVICE_COOKIE_SALT, max_age=DEVICE_COOKIE_AGE,
        secure=settings.SESSION_COOKIE_SECURE, httponly=True, samesite="Lax",
    )


def forget_device(response: HttpResponse) -> None:
    response.delete_cookie(DEVICE_COOKIE, samesite="Lax")


def switch_in(request: HttpRequest, terminal: Terminal, staff: Staff) -> None:
    """Make `staff` the cashier of this device's session."""
    request.session.cycle_key()  # a new cashier, a new session id
    request.session[SESSION_KEY] = {"terminal": terminal.pk, "staff": staff.pk,
                                    "seen": _epoch()}


def switch_out(request: HttpRequest) -> None:
    request.session.pop(SESSION_KEY, None)


def cashier_of(request: HttpRequest, terminal: Terminal) -> Staff | None:
    """The active staff member switched in on `terminal` in this session, or None (and
    switched out) when the counter was idle for settings.COUNTER_IDLE_LOCK seconds."""
    held = request.session.get(SESSION_KEY)
    if not isinstance(held, dict) or held.get("terminal") != terminal.pk:
        return None
    now = _epoch()
    seen = held.get("seen")
    idle_lock = settings.COUNTER_IDLE_LOCK
    if idle_lock and isinstance(seen, int) and now - seen > idle_lock:
        switch_out(request)
        return None
    if not isinstance(seen, int) or now - seen >= SEEN_RESOLUTION:
        request.session[SESSION_KEY] = {**held, "seen": now}
    with scopes_disabled():
        staff = (Staff.objects.select_related("user")
                 .filter(pk=held.get("staff"), merchant_id=terminal.merchant_id,
                         active=True, user__is_active=True).first())
    return staff


def counter_of(request: HttpRequest) -> Counter | None:
    terminal = device_of(request)
    if terminal is None:
        return None
    staff = cashier_of(request, terminal)
    if staff is None:
        return None
    principal = access.Principal.at_counter(terminal, staff, ip=client_ip(request), joined=True)
    return Counter(terminal=terminal, staff=staff, principal=principal)


def counter_view(permission: str) -> Callable:
    """Wrap a cashier view: a device not signed in goes to the device sign-in, a device with
    nobody switched in goes to the cashier switch (htmx requests get a full-page redirect,
    HX-Redirect); a principal without `permission` gets the 403 page. The view runs inside
    the merchant's scope and time zone (templates show local times with no zone argument) with
    `request.counter`."""
    access.role_may(None, permission)  # an unknown permission fails when the module loads

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            terminal = device_of(request)
            if terminal is None:
                return _go(request, "cashier:device")
            staff = cashier_of(request, terminal)
            if staff is None:
                return _go(request, "cashier:switch")
            principal = access.Principal.at_counter(terminal, staff, ip=client_ip(request),
                                                    joined=True)
            if not principal.may(permission):
                return render(request, "cashier/refused.html", {"permission": permission},
                              status=403)
            request.counter = Counter(terminal=terminal, staff=staff, principal=principal)
            with access.enter(principal), timezone.override(ZoneInfo(terminal.merchant.timezone)):
                return view(request, *args, **kwargs)

        return wrapper

    return decorate


def _epoch() -> int:
    # The wall clock, not the business clock (core.clock): idleness is the device's, and a
    # test or a replay that moves business time must not switch the cashier out.
    return int(time.time())


def _go(request: HttpRequest, url_name: str) -> HttpResponse:
    if getattr(request, "htmx", None):  # htmx would swap the sign-in page into a fragment
        response = HttpResponse(status=204)
        response["HX-Redirect"] = reverse(url_name)
        return response
    return redirect(url_name)
