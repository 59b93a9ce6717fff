"""The start: a program from a template (questions, then the program in words, then saved),
the first store, its first cashier, and this browser opened as the store's counter.

Every step is a plain form ending on the next step's page; each calls the service the
management API calls (programs.save_program, tenancy.create_store, invitations.invite_staff,
counter.add_counter_cashier, counter.sign_in_device).
"""

from django import forms
from django.contrib import messages
from django.contrib.auth import logout
from django.http import Http404
from django.shortcuts import redirect
from django.urls import path, re_path
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from kopilka.core.errors import DomainError
from kopilka.programs import services as programs
from kopilka.programs.config import ProgramConfig
from kopilka.tenancy import access, invitations
from kopilka.tenancy import counter as counters
from kopilka.tenancy import services as tenancy
from kopilka.tenancy.models import Staff, Store
from kopilka.web.cabinet.session import cabinet_view
from kopilka.web.cabinet.starters import STARTERS, describe
from kopilka.web.cashier import counter
from kopilka.web.forms import Form
from kopilka.web.htmx import render_page


def _refuse(form: forms.Form, error: DomainError) -> None:
    form.add_error(error.field if error.field in form.fields else None, error.detail)


def _next_step(merchant) -> str:
    """After a step: the first store when there is none, else the cabinet's home."""
    return "cabinet:home" if Store.objects.filter(merchant=merchant).exists() else \
        "cabinet:store-new"


# --- the program --------------------------------------------------------------------------------


# The picker itself is /cabinet/program/ before a program exists and /cabinet/program/templates/
# after (views/program.py).


@require_http_methods(["GET", "HEAD", "POST"])
@cabinet_view("edit_program")
def program_template(request, key: str):
    """GET: the template's questions, prefilled. POST: the program in words with the answers
    kept (step "summary"), then saved (step "save"); "change" goes back to the questions."""
    starter = STARTERS.get(key)
    if starter is None:
        raise Http404
    merchant = request.cabinet.merchant
    step = request.POST.get("step", "summary") if request.method == "POST" else ""
    form = starter.form(request.POST if request.method == "POST" else None)
    context = {"starter": starter, "form": form,
               "replaces": access.context(merchant)["program"] is not None}
    if step == "change":  # back from the summary: the answers as they were, no errors
        return render_page(request, "cabinet/program_form.html", context)
    if form.is_bound and form.is_valid():
        with translation.override(merchant.language):  # names the program keeps
            config = starter.build(form.cleaned_data, merchant.currency)
        try:
            validated = programs.validate(config)
        except DomainError as error:
            form.add_error(None, error.detail)
        else:
            if step == "save":
                programs.save_program(merchant, config, actor=request.cabinet.principal.actor)
                starter.after_save(merchant, form.cleaned_data,
                                   actor=request.cabinet.principal.actor)
                # No toast: the steps above the next page mark the program done, and a toast
                # would cover the header's buttons on a phone.
                return redirect(_next_step(merchant))
            return render_page(request, "cabinet/program_summary.html", {
                **context, "summary": _summary(validated, merchant),
                "hidden": list(form)})
    return render_page(request, "cabinet/program_form.html", context,
                       status=422 if form.is_bound else 200)


def _summary(config: ProgramConfig, merchant) -> list[str]:
    return describe(config, merchant.currency, translation.get_language() or "en")


# --- the first store ----------------------------------------------------------------------------


class StoreForm(Form):
    name = forms.CharField(label=gettext_lazy("Store name"), max_length=200,
                           widget=forms.TextInput(attrs={"autofocus": True}))
    address = forms.CharField(label=gettext_lazy("Address"), max_length=500, required=False,
                              help_text=gettext_lazy("Members see it in their wallet."))


@require_http_methods(["GET", "HEAD", "POST"])
@cabinet_view("manage_stores")
def store_new(request):
    form = StoreForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        try:
            store = tenancy.create_store(request.cabinet.merchant, form.cleaned_data["name"],
                                         address=form.cleaned_data["address"],
                                         actor=request.cabinet.principal.actor)
        except DomainError as error:
            _refuse(form, error)
        else:
            return redirect("cabinet:cashier", store.pk)
    return render_page(request, "cabinet/store.html", {"form": form},
                       status=422 if form.is_bound else 200)


def _store(request, store_id: int) -> Store:
    """One of this merchant's open stores (inside its scope: another merchant's is a 404)."""
    store = Store.objects.filter(pk=store_id, merchant=request.cabinet.merchant,
                                 active=True).first()
    if store is None:
        raise Http404
    return store


# --- the first cashier --------------------------------------------------------------------------


class PinCashierForm(Form):
    name = forms.CharField(label=gettext_lazy("Cashier's name"), max_length=150,
                           widget=forms.TextInput(attrs={"autocomplete": "off"}))
    pin = forms.CharField(label=gettext_lazy("PIN"), max_length=counters.PIN_LENGTHS[1],
                          help_text=gettext_lazy("4 to 6 digits, not 1234 or 0000. Tell it to "
                                                 "the cashier."),
                          widget=forms.TextInput(attrs={"inputmode": "numeric",
                                                        "autocomplete": "off",
                                                        "pattern": "[0-9]*"}))


class InviteForm(Form):
    email = forms.EmailField(label=gettext_lazy("Cashier's e-mail"), max_length=254)


@require_http_methods(["GET", "HEAD", "POST"])
@cabinet_view("manage_staff")
def cashier(request, store_id: int):
    """Add a cashier with a PIN (for the counter only), or invite one by e-mail."""
    store = _store(request, store_id)
    cabinet = request.cabinet
    action = request.POST.get("action") if request.method == "POST" else None
    pin_form = PinCashierForm(request.POST if action == "pin" else None, prefix="pin")
    invite_form = InviteForm(request.POST if action == "invite" else None, prefix="invite")
    if action == "pin" and pin_form.is_valid():
        try:
            counters.add_counter_cashier(cabinet.merchant, name=pin_form.cleaned_data["name"],
                                         pin=pin_form.cleaned_data["pin"], by=cabinet.staff,
                                         actor=cabinet.principal.actor)
        except DomainError as error:
            _refuse(pin_form, error)
        else:
            return redirect("cabinet:counter", store.pk)
    if action == "invite" and invite_form.is_valid():
        try:
            invitations.invite_staff(cabinet.merchant, email=invite_form.cleaned_data["email"],
                                     role=Staff.Role.CASHIER, by=cabinet.staff,
                                     actor=cabinet.principal.actor)
        except DomainError as error:
            _refuse(invite_form, error)
        else:
            messages.success(request, _("Invitation sent to %(email)s.")
                             % {"email": invite_form.cleaned_data["email"]})
            return redirect("cabinet:counter", store.pk)
    return render_page(request, "cabinet/cashier.html", {
        "store": store, "pin_form": pin_form, "invite_form": invite_form,
    }, status=422 if action else 200)


# --- the counter on this device -----------------------------------------------------------------


class DeviceForm(Form):
    name = forms.CharField(label=gettext_lazy("Name of this device"), max_length=200,
                           help_text=gettext_lazy("Shown on receipts and in the shift's "
                                                  "sales book."))


@require_http_methods(["GET", "HEAD", "POST"])
@cabinet_view("sign_in_counters")
def open_counter(request, store_id: int):
    """This browser becomes the store's counter device (a browser terminal) and goes to the
    cashier switch. The owner is signed out of the cabinet here: a counter is handed to
    cashiers, and it must not carry the owner's session."""
    store = _store(request, store_id)
    cabinet = request.cabinet
    form = DeviceForm(request.POST if request.method == "POST" else None,
                      initial={"name": counters.default_device_name(store)})
    if form.is_bound and form.is_valid():
        try:
            _terminal, key = counters.sign_in_device(cabinet.staff, store,
                                                     name=form.cleaned_data["name"],
                                                     actor=cabinet.principal.actor)
        except DomainError as error:
            _refuse(form, error)
        else:
            logout(request)
            response = redirect("cashier:switch")
            counter.remember_device(response, key)
            return response
    return render_page(request, "cabinet/counter.html", {"store": store, "form": form},
                       status=422 if form.is_bound else 200)


urlpatterns = [
    # Only the templates' keys: program/versions/ and the like belong to views/program.py.
    re_path(rf"^program/(?P<key>{'|'.join(STARTERS)})/$", program_template,
            name="program-template"),
    path("stores/new/", store_new, name="store-new"),
    path("stores/<int:store_id>/cashier/", cashier, name="cashier"),
    path("stores/<int:store_id>/counter/", open_counter, name="counter"),
]
