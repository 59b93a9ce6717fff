"""Settings (#16): the settings' home, stores, counter devices, staff with roles, PINs and
allowances. The other sections live beside this module (settings_keys, settings_webhooks,
settings_messages, settings_audit) and share its helpers.

Every form calls the service the management API calls (tenancy.services, tenancy.counter,
tenancy.invitations, processing.manual); a service's refusal becomes a form error in the
user's language (422), a refusal of the role the 403 page with the service's own words.
"""

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, path, reverse
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from kopilka.core.errors import DomainError, Forbidden
from kopilka.processing import services as processing
from kopilka.processing.models import Allowance
from kopilka.programs import services as programs
from kopilka.tenancy import access, invitations
from kopilka.tenancy import counter as counters
from kopilka.tenancy import services as tenancy
from kopilka.tenancy.models import Invitation, Staff, Store, Terminal
from kopilka.web.cabinet.session import cabinet_view
from kopilka.web.cabinet.tabs import Tab, register
from kopilka.web.cashier.views.sales import MinorUnitsField
from kopilka.web.forms import Form
from kopilka.web.htmx import render_page

# --- shared by the settings' sections ------------------------------------------------------------


def refuse(form: forms.Form, error: DomainError, fields: dict[str, str] | None = None) -> None:
    """A service's error on the field it names (`fields` maps the service's names to the
    form's), else above the form."""
    name = (fields or {}).get(error.field or "", error.field)
    form.add_error(name if name in form.fields else None, error.detail)


def refused(request, error: Forbidden):
    """The 403 page with the service's own words ("Only the owner sets allowances.")."""
    return render(request, "cabinet/settings/refused.html", {"message": error.detail},
                  status=403)


def one(queryset, pk):
    """One row of this merchant's (the queryset is inside its scope): another's is a 404."""
    found = queryset.filter(pk=pk).first()
    if found is None:
        raise Http404
    return found


def bound(request, action: str):
    """The POST data when the form posted is `action`'s, else None."""
    return request.POST if request.method == "POST" and \
        request.POST.get("action") == action else None


# The sections, in the order the home lists them, with the permission each needs.
SECTIONS = [
    ("stores", gettext_lazy("Stores"), gettext_lazy("Add, rename, close and reopen stores."),
     "cabinet:settings-stores", "manage_stores"),
    ("brand", gettext_lazy("Your brand"),
     gettext_lazy("The logo and colour on your members' cards."),
     "cabinet:settings-brand", "edit_program"),
    ("devices", gettext_lazy("Counter devices"),
     gettext_lazy("Browsers signed in as counters; sign one out when it is lost."),
     "cabinet:settings-devices", "sign_in_counters"),
    ("staff", gettext_lazy("Staff"),
     gettext_lazy("Invite people, give roles and PINs, set bonus allowances."),
     "cabinet:settings-staff", "manage_staff"),
    ("keys", gettext_lazy("POS API keys"),
     gettext_lazy("Keys for cash registers that talk to Kopilka."),
     "cabinet:settings-keys", "manage_stores"),
    ("tokens", gettext_lazy("Management tokens"),
     gettext_lazy("Tokens for your own programs that use the management API."),
     "cabinet:settings-tokens", "manage_staff"),
    ("webhooks", gettext_lazy("Webhooks"),
     gettext_lazy("Tell your systems about sales and members as they happen."),
     "cabinet:settings-webhooks", "manage_webhooks"),
    ("messages", gettext_lazy("Messages"),
     gettext_lazy("The texts members get, by event and language; quiet hours."),
     "cabinet:settings-messages", "manage_messaging"),
    ("sms", gettext_lazy("SMS balance"),
     gettext_lazy("The balance, its statement and what each kind of message cost."),
     "cabinet:settings-sms", "read_billing"),
    ("audit", gettext_lazy("Audit log"),
     gettext_lazy("Who did what and when, with filters."),
     "cabinet:settings-audit", "read_audit"),
]


@require_http_methods(["GET", "HEAD"])
@cabinet_view("read_audit")
def home(request):
    principal = request.cabinet.principal
    sections = []
    for key, title, text, url_name, permission in SECTIONS:
        if principal.may(permission):
            try:
                url = reverse(url_name)
            except NoReverseMatch:  # a section not built yet
                continue
            sections.append({"key": key, "title": title, "text": text, "url": url})
    return render_page(request, "cabinet/settings/home.html", {"sections": sections})


# --- stores --------------------------------------------------------------------------------------


class StoreForm(Form):
    name = forms.CharField(label=gettext_lazy("Store name"), max_length=200)
    address = forms.CharField(label=gettext_lazy("Address"), max_length=300, required=False,
                              help_text=gettext_lazy("Members see it in their wallet."))


@require_http_methods(["GET", "HEAD", "POST"])
@cabinet_view("manage_stores")
def stores(request):
    cabinet = request.cabinet
    form = StoreForm(bound(request, "add"), prefix="new")
    if form.is_bound and form.is_valid():
        try:
            store = tenancy.create_store(cabinet.merchant, form.cleaned_data["name"],
                                         address=form.cleaned_data["address"],
                                         actor=cabinet.principal.actor)
        except DomainError as error:
            refuse(form, error)
        else:
            messages.success(request, _("Store %(name)s added.") % {"name": store.name})
            return redirect("cabinet:settings-stores")
    rows = Store.objects.filter(merchant=cabinet.merchant).order_by("-active", "name")
    counts = {}
    for store_id in Terminal.objects.filter(merchant=cabinet.merchant, revoked_at__isnull=True
                                            ).values_list("store_id", flat=True):
        counts[store_id] = counts.get(store_id, 0) + 1
    return render_page(request, "cabinet/settings/stores.html", {
        "form": form, "stores": [{"store": store, "terminals": counts.get(store.pk, 0)}
                                 for store in rows],
    }, status=422 if form.is_bound else 200)


@require_http_methods(["GET", "HEAD", "POST"])
@cabinet_view("manage_stores")
def store(request, store_id: int):
    """Rename or re-address a store; close it (no new counters, members no longer see it)
    or reopen it."""
    cabinet = request.cabinet
    found = one(Store.objects.filter(merchant=cabinet.merchant), store_id)
    action = request.POST.get("action") if request.method == "POST" else None
    form = StoreForm(bound(request, "edit"),
                     initial={"name": found.name, "address": found.address})
    if action in ("close", "reopen"):
        try:
            tenancy.update_store(found, actor=cabinet.principal.actor,
                                 active=action == "reopen")
        except DomainError as error:  # reopening beyond the plan's max_stores
            messages.error(request, error.detail)
        else:
            messages.success(request, _("Store %(name)s closed.") % {"name": found.name}
                             if action == "close" else
                             _("Store %(name)s reopened.") % {"name": found.name})
        return redirect("cabinet:settings-stores")
    if form.is_bound and form.is_valid():
        try:
            tenancy.update_store(found, actor=cabinet.principal.actor,
                                 name=form.cleaned_data["name"],
                                 address=form.cleaned_data["address"])
        except DomainError as error:
            refuse(form, error)
        else:
            messages.success(request, _("Store %(name)s saved.") % {"name": found.name})
            return redirect("cabinet:settings-stores")
    return render_page(request, "cabinet/settings/store.html", {"store": found, "form": form},
                       status=422 if form.is_bound else 200)


# --- counter devices -----------------------------------------------------------------------------


@require_http_methods(["GET", "HEAD"])
@cabinet_view("sign_in_counters")
def devices(request):
    merchant = request.cabinet.merchant
    rows = (Terminal.objects.filter(merchant=merchant, kind=Terminal.Kind.BROWSER)
            .select_related("store").order_by("revoked_at", "store__name", "name"))
    return render_page(request, "cabinet/settings/devices.html", {
        "devices": rows, "stores": Store.objects.filter(merchant=merchant, active=True)
        .order_by("name")})


@require_http_methods(["POST"])
@cabinet_view("sign_in_counters")
def device_sign_out(request, terminal_id: int):
    cabinet = request.cabinet
    terminal = one(Terminal.objects.filter(merchant=cabinet.merchant,
                                           kind=Terminal.Kind.BROWSER), terminal_id)
    counters.sign_out_device(terminal, by=cabinet.staff, actor=cabinet.principal.actor)
    messages.success(request, _("%(name)s is signed out: it is no longer a counter.")
                     % {"name": terminal.name})
    return redirect("cabinet:settings-devices")


# --- staff ---------------------------------------------------------------------------------------


def role_choices(principal: access.Principal) -> list[tuple[str, str]]:
    """The roles `principal` may give: an owner only by an owner."""
    return [(value, capfirst(label)) for value, label in Staff.Role.choices
            if value != Staff.Role.OWNER or principal.may("manage_owners")]


class InviteForm(Form):
    email = forms.EmailField(label=gettext_lazy("E-mail"), max_length=254)
    role = forms.ChoiceField(label=gettext_lazy("Role"), initial=Staff.Role.CASHIER)

    def __init__(self, *args, principal, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = role_choices(principal)


class StaffForm(Form):
    role = forms.ChoiceField(label=gettext_lazy("Role"))

    def __init__(self, *args, principal, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = role_choices(principal)


class PinForm(Form):
    pin = forms.CharField(label=gettext_lazy("New PIN"), max_length=counters.PIN_LENGTHS[1],
                          help_text=gettext_lazy("4 to 6 digits, not 1234 or 0000."),
                          widget=forms.TextInput(attrs={"inputmode": "numeric",
                                                        "autocomplete": "off",
                                                        "pattern": "[0-9]*"}))


class AllowanceForm(Form):
    def __init__(self, *args, places: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["points"] = MinorUnitsField(
            places=places, required=True, label=_("Points they may still grant"),
            help_text=_("Each grant by hand uses it up; deductions do not. 0: none."))


@require_http_methods(["GET", "HEAD", "POST"])
@cabinet_view("manage_staff")
def staff_list(request):
    cabinet = request.cabinet
    form = InviteForm(bound(request, "invite"), prefix="invite", principal=cabinet.principal)
    if form.is_bound and form.is_valid():
        try:
            invitations.invite_staff(cabinet.merchant, email=form.cleaned_data["email"],
                                     role=form.cleaned_data["role"], by=cabinet.staff,
                                     actor=cabinet.principal.actor)
        except DomainError as error:
            refuse(form, error)
        else:
            messages.success(request, _("Invitation sent to %(email)s.")
                             % {"email": form.cleaned_data["email"]})
            return redirect("cabinet:settings-staff")
    merchant = cabinet.merchant
    people = Staff.objects.select_related("user").filter(merchant=merchant) \
        .order_by("-active", "created_at")
    left = dict(Allowance.objects.filter(merchant=merchant).values_list("staff_id", "remaining"))
    program = programs.load(merchant) if access.context(merchant)["program"] else None
    return render_page(request, "cabinet/settings/staff.html", {
        "form": form, "program": program.config if program else None,
        "people": [{"staff": person, "name": counters.display_name(person),
                    "allowance": left.get(person.pk, 0),
                    "unlimited": access.role_may(person.role, "grant_unlimited"),
                    "you": person.pk == cabinet.staff.pk} for person in people],
        "first_store": Store.objects.filter(merchant=merchant, active=True).order_by("name")
        .first(),
        "invited": Invitation.objects.filter(merchant=merchant,
                                             status=Invitation.Status.PENDING).order_by("email"),
    }, status=422 if form.is_bound else 200)


@require_http_methods(["GET", "HEAD", "POST"])
@cabinet_view("manage_staff")
def staff_member(request, staff_id: int):
    """One person: their role, switched on or off, their PIN, their allowance (the owner's)."""
    cabinet = request.cabinet
    merchant = cabinet.merchant
    person = one(Staff.objects.select_related("user").filter(merchant=merchant), staff_id)
    program = programs.load(merchant) if access.context(merchant)["program"] else None
    places = program.config.points_precision if program else 0
    action = request.POST.get("action") if request.method == "POST" else None
    role_form = StaffForm(bound(request, "role"), prefix="role", principal=cabinet.principal,
                          initial={"role": person.role})
    pin_form = PinForm(bound(request, "pin"), prefix="pin")
    allowance_form = AllowanceForm(bound(request, "allowance"), prefix="allowance",
                                   places=places)
    actor = cabinet.principal.actor
    try:
        if action in ("deactivate", "activate"):
            try:
                tenancy.update_staff(person, by=cabinet.staff, actor=actor,
                                     active=action == "activate")
            except DomainError as error:
                if isinstance(error, Forbidden):
                    raise
                role_form.add_error(None, error.detail)
            else:
                text = (_("%(name)s is switched off.") if action == "deactivate"
                        else _("%(name)s is switched on again."))
                messages.success(request, text % {"name": counters.display_name(person)})
                return redirect("cabinet:settings-staff-member", person.pk)
        if role_form.is_bound and role_form.is_valid():
            try:
                tenancy.update_staff(person, by=cabinet.staff, actor=actor,
                                     role=role_form.cleaned_data["role"])
            except DomainError as error:
                if isinstance(error, Forbidden):
                    raise
                refuse(role_form, error)
            else:
                messages.success(request, _("Role saved."))
                return redirect("cabinet:settings-staff-member", person.pk)
        if pin_form.is_bound and pin_form.is_valid():
            tenancy.check_may_manage(cabinet.staff, person.role)
            try:
                counters.set_pin(person, pin_form.cleaned_data["pin"], actor=actor)
            except DomainError as error:
                refuse(pin_form, error)
            else:
                messages.success(request, _("PIN set. Tell it to %(name)s.")
                                 % {"name": counters.display_name(person)})
                return redirect("cabinet:settings-staff-member", person.pk)
        if allowance_form.is_bound and allowance_form.is_valid():
            try:
                processing.set_allowance(merchant, staff=person,
                                         points=allowance_form.cleaned_data["points"],
                                         by=cabinet.staff, actor=actor)
            except DomainError as error:
                if isinstance(error, Forbidden):
                    raise
                refuse(allowance_form, error)
            else:
                messages.success(request, _("Allowance saved."))
                return redirect("cabinet:settings-staff-member", person.pk)
    except Forbidden as error:
        return refused(request, error)
    allowance = Allowance.objects.filter(merchant=merchant, staff=person).first()
    return render_page(request, "cabinet/settings/staff_member.html", {
        "person": person, "name": counters.display_name(person),
        "you": person.pk == cabinet.staff.pk, "program": program.config if program else None,
        "allowance": allowance.remaining if allowance else 0,
        "unlimited": access.role_may(person.role, "grant_unlimited"),
        "may_allowance": cabinet.principal.may("set_allowance"),
        "role_form": role_form, "pin_form": pin_form, "allowance_form": allowance_form,
    }, status=422 if action else 200)


@require_http_methods(["POST"])
@cabinet_view("manage_staff")
def invitation_revoke(request, invitation_id: int):
    cabinet = request.cabinet
    invitation = one(Invitation.objects.filter(merchant=cabinet.merchant), invitation_id)
    try:
        invitations.revoke_invitation(invitation, by=cabinet.staff,
                                      actor=cabinet.principal.actor)
    except Forbidden as error:
        return refused(request, error)
    except DomainError as error:
        messages.error(request, error.detail)
    else:
        messages.success(request, _("Invitation to %(email)s withdrawn.")
                         % {"email": invitation.email})
    return redirect("cabinet:settings-staff")


urlpatterns = [
    path("settings/", home, name="settings"),
    path("settings/stores/", stores, name="settings-stores"),
    path("settings/stores/<int:store_id>/", store, name="settings-store"),
    path("settings/devices/", devices, name="settings-devices"),
    path("settings/devices/<int:terminal_id>/sign-out/", device_sign_out,
         name="settings-device-sign-out"),
    path("settings/staff/", staff_list, name="settings-staff"),
    path("settings/staff/<int:staff_id>/", staff_member, name="settings-staff-member"),
    path("settings/invitations/<int:invitation_id>/revoke/", invitation_revoke,
         name="settings-invitation-revoke"),
]
register(Tab("settings", gettext_lazy("Settings"), "cabinet:settings", "read_audit", order=90))
