"""Who is calling the API, and the tenant scope every handler runs in.

A POS terminal authenticates with its key, a merchant integration with a management token,
and a logged-in staff member with the session. Each resolves to one merchant; the handler
then runs inside `scope(merchant=...)`, so an unscoped query fails loudly instead of leaking.
"""

import re
from dataclasses import dataclass
from functools import wraps

from django.utils.translation import gettext as _
from django_scopes import scope, scopes_disabled
from ninja.security import HttpBearer, SessionAuth

from kopilka.core.actor import Actor
from kopilka.core.errors import Forbidden
from kopilka.tenancy import services as tenancy
from kopilka.tenancy.models import Merchant, Staff, Store, Terminal

SLUG = re.compile(r"[-a-zA-Z0-9_]+")  # what django.utils.text.slugify makes


@dataclass(frozen=True)
class Principal:
    merchant: Merchant
    actor: Actor
    staff: Staff | None = None
    terminal: Terminal | None = None

    @property
    def store(self) -> Store | None:
        return self.terminal.store if self.terminal else None

    @property
    def sees_full_phones(self) -> bool:
        return self.staff is not None and self.staff.sees_full_phones

    def require_role(self, *roles: str) -> None:
        if self.staff is None or self.staff.role not in roles:
            raise Forbidden(_("Your role does not allow this."))


def client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR")


class TerminalKey(HttpBearer):
    """POS terminal key: `Authorization: Bearer kp_pos_...`."""

    def authenticate(self, request, token):
        terminal = tenancy.authenticate_terminal(token)
        if terminal is None:
            return None
        actor = Actor(kind="terminal", label=f"terminal:{terminal.key_prefix}",
                      ip=client_ip(request))
        return Principal(merchant=terminal.merchant, actor=actor, terminal=terminal)


class ManagementToken(HttpBearer):
    """Management API token: `Authorization: Bearer kp_mgt_...`."""

    def authenticate(self, request, token):
        api_token = tenancy.authenticate_token(token)
        if api_token is None:
            return None
        staff = api_token.staff
        actor = Actor(kind="token", label=f"{staff.user.email} via token:{api_token.key_prefix}",
                      user_id=staff.user_id, ip=client_ip(request))
        return Principal(merchant=api_token.merchant, actor=actor, staff=staff)


class StaffSession(SessionAuth):
    """A logged-in staff member. With several merchants, `X-Kopilka-Merchant: <slug>` picks one."""

    def authenticate(self, request, key):
        user = request.user
        if not user.is_authenticated:
            return None
        wanted = request.headers.get("X-Kopilka-Merchant")
        if wanted and not SLUG.fullmatch(wanted):
            return None  # no merchant has such a slug (and a NUL must not reach the database)
        with scopes_disabled():
            memberships = Staff.objects.select_related("merchant", "user").filter(
                user=user, active=True, merchant__status=Merchant.Status.ACTIVE
            )
            if wanted:
                memberships = memberships.filter(merchant__slug=wanted)
            staff = list(memberships[:2])
        if len(staff) != 1:
            return None
        actor = Actor(kind="staff", label=user.email, user_id=user.pk, ip=client_ip(request))
        return Principal(merchant=staff[0].merchant, actor=actor, staff=staff[0])


def in_merchant_scope(handler):
    """Run an API operation inside the caller's merchant scope (added to every router)."""

    @wraps(handler)
    def scoped(request, *args, **kwargs):
        with scope(merchant=request.auth.merchant):
            return handler(request, *args, **kwargs)

    return scoped
