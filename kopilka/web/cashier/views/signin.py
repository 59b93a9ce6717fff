"""Signing the device in for a store, and the cashiers switching on it with their PIN.

No toasts on success: the next page says it (the header names the device, then the cashier),
and a toast left on a phone would cover the header's buttons.

Plain forms, not htmx: every step ends on a new page (the device's cookie set, the counter),
and a password login refused by the throttle (django-axes: the views call `authenticate` with
the request) is answered by axes' own page. The manager who signs a device in or out is never
logged in on it: their password proves who they are for that one step only.
"""

from django import forms
from django.contrib.auth import authenticate, get_user_model
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from kopilka.core import clock
from kopilka.core.errors import DomainError, NotFound
from kopilka.tenancy import access
from kopilka.tenancy import counter as counters
from kopilka.tenancy.logins import client_ip
from kopilka.tenancy.models import Staff
from kopilka.web.cashier import counter
from kopilka.web.forms import Form
from kopilka.web.htmx import render_page

# A manager's password was right: for SETUP_SECONDS they may choose the store and the name.
SETUP_KEY = "kopilka_counter_setup"  # {"user": pk, "at": epoch seconds}
SETUP_SECONDS = 600


class CredentialsForm(Form):
    email = forms.EmailField(label=gettext_lazy("E-mail"), max_length=254,
                             widget=forms.EmailInput(attrs={"autocomplete": "username"}))
    password = forms.CharField(label=gettext_lazy("Password"), strip=False,
                               widget=forms.PasswordInput(
                                   attrs={"autocomplete": "current-password"}))

    def user(self, request: HttpRequest):
        """The account, through the throttled login (axes counts a failure), or None with the
        form's error."""
        user = authenticate(request, username=self.cleaned_data["email"].strip().lower(),
                            password=self.cleaned_data["password"])
        if user is None:
            self.add_error(None, _("Wrong e-mail or password."))
        return user


class DeviceForm(Form):
    store = forms.TypedChoiceField(label=gettext_lazy("Store"), coerce=int,
                                   widget=forms.RadioSelect)
    name = forms.CharField(label=gettext_lazy("Name of this device"), max_length=200,
                           help_text=gettext_lazy("Shown on receipts and in the shift's "
                                                  "sales book."))

    def __init__(self, *args, stores, **kwargs):
        super().__init__(*args, **kwargs)
        several_merchants = len({store.merchant_id for store in stores}) > 1
        self.stores = {store.pk: store for store in stores}
        self.fields["store"].choices = [
            (store.pk, f"{store.merchant.name} · {store.name}" if several_merchants
             else store.name) for store in stores]
        if len(stores) == 1:  # nothing to choose
            self.fields["store"].widget = forms.HiddenInput()


class PinForm(Form):
    pin = forms.CharField(label=gettext_lazy("PIN"), max_length=counters.PIN_LENGTHS[1],
                          strip=True, widget=forms.PasswordInput(attrs={
                              "inputmode": "numeric", "autocomplete": "off",
                              "pattern": "[0-9]*", "class": "pinpad__input"}))


class NewPinForm(CredentialsForm):
    pin = forms.CharField(label=gettext_lazy("New PIN"), widget=forms.PasswordInput(attrs={
        "inputmode": "numeric", "autocomplete": "new-password", "pattern": "[0-9]*"}),
        help_text=gettext_lazy("4 to 6 digits, not 1234 or 0000."))
    pin_again = forms.CharField(label=gettext_lazy("New PIN again"),
                                widget=forms.PasswordInput(attrs={
                                    "inputmode": "numeric", "autocomplete": "new-password",
                                    "pattern": "[0-9]*"}))

    def clean_pin(self):
        try:
            return counters.check_new_pin(self.cleaned_data["pin"])
        except DomainError as error:
            raise forms.ValidationError(error.detail) from None

    def clean(self):
        data = super().clean()
        if data.get("pin") and data.get("pin_again") and data["pin"] != data["pin_again"]:
            self.add_error("pin_again", _("The two PINs differ. Type the same PIN twice."))
        return data


def _refuse(form: forms.Form, error: DomainError) -> None:
    form.add_error(error.field if error.field in form.fields else None, error.detail)


def _actor(request: HttpRequest, staff: Staff):
    return access.Principal.for_staff(staff, ip=client_ip(request)).actor


# --- the device ---------------------------------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
def device(request):
    """Step 1: a manager's e-mail and password. Step 2: the store (when there are several) and
    the device's name. Then the device is the store's counter: to the cashier switch."""
    if counter.device_of(request) is not None:
        return redirect("cashier:switch")
    setup_user = _setup_user(request)
    step = request.POST.get("step", "credentials") if request.method == "POST" else "show"
    if step == "cancel":
        request.session.pop(SETUP_KEY, None)
        return redirect("cashier:device")
    if step in ("show", "device") and setup_user is not None:
        return _choose_store(request, setup_user)
    if step == "device":  # the store step timed out: from the start
        return redirect("cashier:device")
    form = CredentialsForm(request.POST if step == "credentials" else None)
    if form.is_bound and form.is_valid():
        user = form.user(request)
        if user is not None:
            try:
                counters.counter_stores(user)
            except DomainError as error:
                _refuse(form, error)
            else:
                request.session[SETUP_KEY] = {"user": user.pk, "at": _epoch()}
                return redirect("cashier:device")
    status = 422 if form.is_bound else 200
    return render_page(request, "cashier/signin/device.html",
                       {"form": form, "step": "credentials"}, status=status)


def _choose_store(request: HttpRequest, user) -> HttpResponse:
    try:
        stores = counters.counter_stores(user)
    except DomainError:  # no longer a manager, or the stores closed meanwhile
        request.session.pop(SETUP_KEY, None)
        return redirect("cashier:device")
    if request.method == "POST":
        form = DeviceForm(request.POST, stores=stores)
        if form.is_valid():
            store = form.stores[form.cleaned_data["store"]]
            staff = counters.membership(user, store.merchant)
            try:
                if staff is None:
                    raise NotFound(_("No such store."), field="store")
                terminal, key = counters.sign_in_device(
                    staff, store, name=form.cleaned_data["name"], actor=_actor(request, staff))
            except DomainError as error:
                _refuse(form, error)
            else:
                request.session.pop(SETUP_KEY, None)
                counter.switch_out(request)
                response = redirect("cashier:switch")
                counter.remember_device(response, key)
                return response
    else:
        form = DeviceForm(stores=stores, initial={
            "store": stores[0].pk, "name": counters.default_device_name(stores[0])})
    return render_page(request, "cashier/signin/device.html",
                       {"form": form, "step": "device", "manager": user,
                        "store": stores[0] if len(stores) == 1 else None},
                       status=422 if form.is_bound else 200)


def _setup_user(request: HttpRequest):
    held = request.session.get(SETUP_KEY)
    if not isinstance(held, dict) or not isinstance(held.get("at"), int):
        return None
    if _epoch() - held["at"] > SETUP_SECONDS:
        request.session.pop(SETUP_KEY, None)
        return None
    return get_user_model().objects.filter(pk=held.get("user"), is_active=True).first()


def _epoch() -> int:
    return int(clock.now().timestamp())


# --- the cashier switch -------------------------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
def switch(request):
    """Who is at the counter: the staff with a PIN by name, then the chosen one's PIN pad."""
    terminal = counter.device_of(request)
    if terminal is None:
        return redirect("cashier:device")
    people = counters.staff_at_device(terminal)
    chosen_id = request.POST.get("staff") if request.method == "POST" else request.GET.get("staff")
    if chosen_id is None and len(people) == 1:
        chosen_id = people[0].pk
    if chosen_id is None:
        return render_page(request, "cashier/signin/switch.html", {
            "device": terminal, "people": _named(people),
            "current": counter.cashier_of(request, terminal)})
    try:
        chosen = counters.staff_member(terminal, chosen_id)
    except NotFound:
        raise Http404 from None  # another merchant's staff, or nobody's
    form = PinForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        actor = access.Principal.for_terminal(terminal, ip=client_ip(request)).actor
        try:
            counters.check_pin(chosen, form.cleaned_data["pin"], actor=actor)
        except DomainError as error:
            _refuse(form, error)
        else:
            counter.switch_in(request, terminal, chosen)
            return redirect("cashier:home")
    return render_page(request, "cashier/signin/switch.html", {
        "device": terminal, "form": form, "chosen": chosen,
        "chosen_name": counters.display_name(chosen), "alone": len(people) == 1,
    }, status=422 if form.is_bound else 200)


def _staff_of(form, request, terminal) -> Staff | None:
    """The merchant's staff member whose e-mail and password the valid `form` holds; None with
    the form's error when the password is wrong or they are no staff of this merchant."""
    user = form.user(request)
    if user is None:
        return None
    staff = counters.membership(user, terminal.merchant)
    if staff is None:
        form.add_error(None, _("You are not on the staff of %(merchant)s.")
                       % {"merchant": terminal.merchant.name})
    return staff


def _named(people: list[Staff]) -> list[dict]:
    return [{"staff": staff, "name": counters.display_name(staff),
             "initials": _initials(counters.display_name(staff))} for staff in people]


def _initials(name: str) -> str:
    words = name.split("@")[0].replace(".", " ").split()
    return "".join(word[0] for word in words[:2]).upper() or "?"


@require_http_methods(["GET", "HEAD", "POST"])
def set_pin(request):
    """A staff member proves who they are with e-mail and password and chooses a PIN; they are
    then switched in. A new PIN also lifts a lock from wrong PINs."""
    terminal = counter.device_of(request)
    if terminal is None:
        return redirect("cashier:device")
    form = NewPinForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        staff = _staff_of(form, request, terminal)
        if staff is not None:
            counters.set_pin(staff, form.cleaned_data["pin"], actor=_actor(request, staff))
            counter.switch_in(request, terminal, staff)
            return redirect("cashier:home")
    return render_page(request, "cashier/signin/pin.html",
                       {"device": terminal, "form": form},
                       status=422 if form.is_bound else 200)


@require_POST
def lock(request):
    """The cashier steps away: switched out, the device stays signed in."""
    counter.switch_out(request)
    if getattr(request, "htmx", None):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = reverse("cashier:switch")
        return response
    return redirect("cashier:switch")


@require_http_methods(["GET", "HEAD", "POST"])
def sign_out_device(request):
    """This device is no counter any more (its terminal revoked). A manager switched in on it
    confirms; anyone else gives a manager's e-mail and password."""
    terminal = counter.device_of(request)
    if terminal is None:
        return redirect("cashier:device")
    current = counter.cashier_of(request, terminal)
    if current is not None and not access.role_may(current.role, counters.PERMISSION):
        current = None
    data = request.POST if request.method == "POST" else None
    # A manager switched in proved who they are with their PIN: they only confirm.
    form = Form(data) if current is not None else CredentialsForm(data)
    if request.method == "POST" and form.is_valid():
        by = current
        if by is None:
            by = _staff_of(form, request, terminal)
        if by is not None:
            try:
                counters.sign_out_device(terminal, by=by, actor=_actor(request, by))
            except DomainError as error:
                _refuse(form, error)
            else:
                counter.switch_out(request)
                response = redirect("cashier:device")
                counter.forget_device(response)
                return response
    return render_page(request, "cashier/signin/sign_out.html", {
        "device": terminal, "form": form, "manager": current,
    }, status=422 if form.is_bound else 200)


urlpatterns = [
    path("device/", device, name="device"),
    path("switch/", switch, name="switch"),
    path("pin/", set_pin, name="pin"),
    path("lock/", lock, name="lock"),
    path("device/sign-out/", sign_out_device, name="device-sign-out"),
]
