"""The cabinet's home: the business, its program in words, stores with their counters, staff,
and the next step of the start while one is missing."""

from django.urls import path, reverse
from django.utils import translation
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from kopilka.programs import services as programs
from kopilka.tenancy import access
from kopilka.tenancy import counter as counters
from kopilka.tenancy.models import Invitation, Staff, Store, Terminal
from kopilka.web.cabinet.session import cabinet_view, memberships
from kopilka.web.cabinet.starters import describe
from kopilka.web.cabinet.tabs import Tab, register
from kopilka.web.cabinet.views import analytics
from kopilka.web.htmx import render_page

GLANCE = (1, 2, 6, 8)  # analytics' figure numbers on the home (docs/analytics.md)

# The cabinet is the managers' place: a cashier works at the counter (and gets the 403 page,
# which sends them there).
@require_http_methods(["GET", "HEAD"])
@cabinet_view("read_analytics")
def home(request):
    cabinet = request.cabinet
    merchant = cabinet.merchant
    summary = None
    if access.context(merchant)["program"] is not None:
        summary = describe(programs.load(merchant).config, merchant.currency,
                           translation.get_language() or "en")
    stores = list(Store.objects.filter(merchant=merchant).order_by("-active", "name"))
    devices = {}
    for terminal in Terminal.objects.filter(merchant=merchant, kind=Terminal.Kind.BROWSER,
                                            revoked_at__isnull=True).order_by("name"):
        devices.setdefault(terminal.store_id, []).append(terminal.name)
    staff = [{"name": counters.display_name(member), "role": member.get_role_display(),
              "pin": bool(member.pin_hash), "you": member.pk == cabinet.staff.pk}
             for member in Staff.objects.select_related("user")
             .filter(merchant=merchant, active=True).order_by("created_at")]
    invited = list(Invitation.objects.filter(merchant=merchant,
                                             status=Invitation.Status.PENDING)
                   .order_by("email"))
    # Figures a café owner looks at first (revenue, checks, points accrued, members):
    # once there is a program, there can be sales.
    glance = [{"number": number, "title": analytics.TITLES[number],
               "url": reverse("cabinet:analytics-figure", args=[number]) + "?period=7",
               "trigger": "load"}
              for number in GLANCE] if summary else []
    first_open = next((store for store in stores if store.active), None)
    return render_page(request, "cabinet/home.html", {
        "merchant": merchant, "summary": summary, "zone": merchant.timezone.replace("_", " "),
        "stores": [{"store": store, "devices": devices.get(store.pk, [])} for store in stores],
        "glance": glance, "staff": staff, "invited": invited, "first_store": first_open,
        "has_cashier": any(not person["you"] for person in staff) or bool(invited),
        "several": len(memberships(request.user)) > 1,
        "may": {name: cabinet.principal.may(name) for name in
                ("edit_program", "manage_stores", "manage_staff", "sign_in_counters")},
    })


urlpatterns = [
    path("", home, name="home"),
]
register(Tab("home", gettext_lazy("Home"), "cabinet:home", "read_analytics", order=0))
