"""Throttling password logins: the operator admin's today, the cabinet's and the cashiers' to come.

django-axes does the counting (its tables, so every web process and host shares the counts):
its backend comes first in AUTHENTICATION_BACKENDS, so every `authenticate(request, ...)` call —
the admin's login form, any login view built on Django's AuthenticationForm — is refused for an
account or an address that has failed too often, before the password is even checked. Its
middleware then answers with `lockout_response` below. Limits: settings.AXES_FAILURE_LIMIT
failures per account, and the same per address, within settings.AXES_COOLOFF_TIME.

A login view must pass the request to `authenticate()` (Django's forms do): without it axes
refuses the call outright rather than let it past uncounted.

This module gives axes what is Kopilka's: how a username compares (case and spaces do not make
a new account to guess at), the client's address behind the TLS proxy, the page a locked-out
person sees in their language, and an audit entry for every refused attempt.
"""

import math
from datetime import timedelta

from axes.models import AccessAttempt
from axes.signals import user_locked_out
from django.conf import settings
from django.db.models import Max, Q
from django.dispatch import receiver
from django.shortcuts import render
from django.utils.translation import gettext as _
from django_scopes import scopes_disabled

from kopilka.core import audit, clock
from kopilka.core.actor import Actor


def username_of(request, credentials: dict | None) -> str:
    """The account a login names, as the login compares it: `Admin@Example.com ` and
    `admin@example.com` are one account to count failures for."""
    name = (credentials or {}).get("username")
    if name is None and request is not None:
        name = request.POST.get("username")
    return str(name or "").strip().lower()


def client_ip(request) -> str | None:
    """The client's address. Behind the TLS proxy (KOPILKA_TRUST_X_FORWARDED_FOR, on with
    KOPILKA_BEHIND_TLS_PROXY) it is the last X-Forwarded-For entry — the one our proxy appended;
    entries before it came from the client and prove nothing. Otherwise the connection's."""
    if settings.TRUST_X_FORWARDED_FOR:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        last = forwarded.rsplit(",", 1)[-1].strip()
        if last:
            return last
    return request.META.get("REMOTE_ADDR")


def minutes_left(username: str, ip: str | None) -> int:
    """Whole minutes until the lock lifts: the cool-off counts from the last failure."""
    with scopes_disabled():
        last = AccessAttempt.objects.filter(
            Q(username=username) | Q(ip_address=ip)
        ).aggregate(last=Max("attempt_time"))["last"]
    cool_off: timedelta = settings.AXES_COOLOFF_TIME
    left = cool_off if last is None else last + cool_off - clock.now()
    return max(1, math.ceil(left.total_seconds() / 60))


def lockout_response(request, original_response=None, credentials=None):
    """What a locked-out login gets instead of its page: 429, when to come back, in the
    request's language."""
    minutes = minutes_left(username_of(request, credentials), client_ip(request))
    message = _(
        "Too many failed sign-in attempts for this account or from this address. "
        "Try again in %(minutes)d min."
    ) % {"minutes": minutes}
    response = render(
        request, "tenancy/login_locked.html",
        {"title": _("Sign-in paused"), "message": message, "back": request.path},
        status=429,
    )
    response["Retry-After"] = str(minutes * 60)
    return response


@receiver(user_locked_out)
def audit_lockout(sender, request, username, ip_address, **kwargs):
    """Every attempt refused for too many failures is in the audit log, with where it came
    from: the attempt that reached the limit and each one while the lock lasts."""
    with scopes_disabled():  # the admin, the cabinet: no merchant scope around a login
        audit.record(
            "auth.login_locked_out",
            actor=Actor(kind="system", label="login throttle", ip=ip_address),
            data={"username": username or "", "path": request.path,
                  "failure_limit": settings.AXES_FAILURE_LIMIT},
        )
