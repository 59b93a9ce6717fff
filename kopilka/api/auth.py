"""Who is calling the API, what each operation needs, and the tenant scope it runs in.

A POS terminal authenticates with its key, a merchant integration with a management token,
and a logged-in staff member with the session. Each resolves to a `tenancy.access.Principal`
of one merchant. Every operation of a merchant router declares the permission it needs
(`@requires("edit_program")`, names from `access.PERMISSIONS`); `guard`, added to each such
router by `merchant_router`, refuses a caller without it (403) and runs the operation inside
`access.enter(principal)`, so an unscoped query fails loudly instead of leaking. An operation
that declares nothing stops the URLconf from loading.
"""

import re
from functools import wraps

from django.core.exceptions import ImproperlyConfigured
from ninja import Router
from ninja.security import HttpBearer, SessionAuth

from kopilka.tenancy import access
from kopilka.tenancy import services as tenancy

SLUG = re.compile(r"[-a-zA-Z0-9_]+")  # what django.utils.text.slugify makes


def client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR")


class TerminalKey(HttpBearer):
    """POS terminal key: `Authorization: Bearer kp_pos_...`."""

    def authenticate(self, request, token):
        terminal = tenancy.authenticate_terminal(token)
        if terminal is None:
            return None
        return access.Principal.for_terminal(terminal, ip=client_ip(request), joined=True)


class ManagementToken(HttpBearer):
    """Management API token: `Authorization: Bearer kp_mgt_...`."""

    def authenticate(self, request, token):
        api_token = tenancy.authenticate_token(token)
        if api_token is None:
            return None
        return access.Principal.for_token(api_token, ip=client_ip(request), joined=True)


class StaffSession(SessionAuth):
    """A logged-in staff member. With several merchants, `X-Kopilka-Merchant: <slug>` picks one.

    CSRF protects the session cookie, so it is checked only when the session has signed
    someone in: a write without one (a missing, wrong or revoked token) is 401 like a read,
    not ninja's 403 "CSRF check Failed"."""

    def _get_key(self, request):
        if not request.user.is_authenticated:
            return None
        return super()._get_key(request)  # the CSRF check, then the session cookie

    def authenticate(self, request, key):
        if key is None:
            return None
        wanted = request.headers.get("X-Kopilka-Merchant")
        if wanted and not SLUG.fullmatch(wanted):
            return None  # no merchant has such a slug (and a NUL must not reach the database)
        staff = tenancy.staff_for_session(request.user, wanted)
        if staff is None:
            return None
        return access.Principal.for_staff(staff, ip=client_ip(request), joined=True)


def requires(permission: str):
    """Declare the permission an API operation needs (a name from `access.PERMISSIONS`)."""
    access.role_may(None, permission)  # an unknown name fails at import

    def declare(handler):
        handler.permission = permission
        return handler

    return declare


def guard(handler):
    """Check the operation's declared permission, then run it in the caller's merchant scope
    (added to every merchant router). The check comes first, as the role checks inside the
    handlers did: a role without the permission is 403 whatever the ids it names."""
    permission = getattr(handler, "permission", None)
    if permission is None:
        raise ImproperlyConfigured(
            f"{handler.__module__}.{handler.__qualname__} declares no permission: "
            "decorate it with @requires(...)")

    @wraps(handler)  # keeps `permission` on the wrapper for tests that read it
    def guarded(request, *args, **kwargs):
        principal = request.auth
        principal.require(permission)
        with access.enter(principal):
            return handler(request, *args, **kwargs)

    return guarded


def merchant_router(*, tags: list[str], auth) -> Router:
    """A router whose operations act for the caller's merchant: each declares its permission."""
    router = Router(tags=tags, auth=auth)
    router.add_decorator(guard)
    return router
