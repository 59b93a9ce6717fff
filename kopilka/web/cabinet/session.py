"""Who works in the cabinet: a staff member signed in with e-mail and password (a Django
session), for the merchant they chose when they work for several.

Every cabinet view is wrapped in `cabinet_view(permission)`: nobody signed in goes to the
sign-in page, a person on the staff of several merchants who has not chosen goes to the
chooser, a role without `permission` gets the 403 page, and the view runs inside the merchant's
scope (`access.enter`) in its time zone, with `request.cabinet` set. Objects are looked up
inside that scope, so another merchant's id is a 404.
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from kopilka.billing import services as billing
from kopilka.tenancy import access
from kopilka.tenancy import services as tenancy
from kopilka.tenancy.logins import client_ip
from kopilka.tenancy.models import Merchant, Staff
from kopilka.web.cabinet import tabs

MERCHANT_KEY = "kopilka_cabinet_merchant"  # the slug of the merchant chosen in this session


@dataclass(frozen=True)
class Cabinet:
    staff: Staff
    principal: access.Principal

    path: str = ""  # the page's path, for the current tab

    @property
    def merchant(self) -> Merchant:
        return self.staff.merchant

    @property
    def tabs(self) -> list[dict]:
        return tabs.visible(self.principal, self.path)


def memberships(user) -> list[Staff]:
    """The active memberships `user` may work through, at active merchants, by name."""
    if not user.is_authenticated:
        return []
    with scopes_disabled():  # before a merchant is chosen, as at any sign-in
        return list(Staff.objects.select_related("merchant", "user").filter(
            user=user, active=True, merchant__status=Merchant.Status.ACTIVE,
        ).order_by("merchant__name"))


def staff_of(request: HttpRequest) -> Staff | None:
    """The membership this session works through: the only one, or the chosen one."""
    return tenancy.staff_for_session(request.user, request.session.get(MERCHANT_KEY))


def choose(request: HttpRequest, merchant: Merchant) -> None:
    request.session[MERCHANT_KEY] = merchant.slug


def cabinet_view(permission: str) -> Callable:
    access.role_may(None, permission)  # an unknown permission fails when the module loads

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect(reverse("cabinet:signin") + "?"
                                + urlencode({"next": request.get_full_path()}))
            staff = staff_of(request)
            if staff is None:
                return redirect("cabinet:choose")
            principal = access.Principal.for_staff(staff, ip=client_ip(request), joined=True)
            if not principal.may(permission):
                return render(request, "cabinet/refused.html",
                              {"staff": staff, "counter": access.role_may(staff.role, "sell")},
                              status=403)
            request.cabinet = Cabinet(staff=staff, principal=principal, path=request.path)
            timezone.activate(staff.merchant.timezone)
            try:
                with access.enter(principal):
                    # An unpaid bill after its grace period: reading only (docs/billing.md).
                    if (request.method not in ("GET", "HEAD", "OPTIONS")
                            and billing.read_only(staff.merchant)):
                        return render(request, "cabinet/billing/read_only.html",
                                      {"staff": staff}, status=403)
                    return view(request, *args, **kwargs)
            finally:
                timezone.deactivate()

        wrapper.permission = permission  # read by the route sweeps in tests/
        return wrapper

    return decorate
