"""A browser tab at a counter: `open_counter(screen, tenant, role)` puts in the tab's context
what a tablet holds after a manager signed it in for a store and a cashier entered their PIN —
the device cookie and a session with that cashier switched in — and gives back the device,
its key and the staff member (tests/cashier/tools.py's `AtCounter`, without a test client).
The sign-in screens themselves are tested on their own."""

from importlib import import_module

from django.conf import settings

from kopilka.tenancy.models import Staff
from kopilka.web.cashier import counter
from tests.cashier.tools import AtCounter, device_cookie, new_device
from tests.tenancy.tools import make_staff


def open_counter(screen, tenant, role: str = Staff.Role.CASHIER, *,
                 email: str | None = None) -> AtCounter:
    terminal, key = new_device(tenant)
    staff = make_staff(tenant.merchant, email or f"{role}-{terminal.pk}@counter.test", role)
    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session[counter.SESSION_KEY] = {"terminal": terminal.pk, "staff": staff.pk}
    session.create()
    screen.context.add_cookies([
        {"name": counter.DEVICE_COOKIE, "value": device_cookie(key), "url": screen.url,
         "httpOnly": True, "sameSite": "Lax"},
        {"name": settings.SESSION_COOKIE_NAME, "value": session.session_key, "url": screen.url,
         "httpOnly": True, "sameSite": "Lax"},
    ])
    return AtCounter(client=None, terminal=terminal, key=key, staff=staff)
