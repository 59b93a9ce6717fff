"""Settings: POS API keys (a cash register's terminal in a store) and management tokens (a
program acting as a staff member). A key is shown once, in the answer to the form that made
it, and never stored in clear: the list shows its prefix only. Revoking is for good."""

from django import forms
from django.contrib import messages
from django.shortcuts import redirect
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from kopilka.core.errors import DomainError, Forbidden
from kopilka.tenancy import counter as counters
from kopilka.tenancy import services as tenancy
from kopilka.tenancy.models import ApiToken, Staff, Store, Terminal
from kopilka.web.cabinet.session import cabinet_view
from kopilka.web.cabinet.views.settings import bound, one, refuse, refused
from kopilka.web.forms import Form
from kopilka.web.htmx import render_page


class KeyForm(Form):
    store = forms.TypedChoiceField(label=gettext_lazy("Store"), coerce=int)
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200, required=False,
                           help_text=gettext_lazy("E.g. the till's model; shown on receipts."))

    def __init__(self, *args, stores, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["store"].choices = [(store.pk, store.name) for store in stores]


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
@cabinet_view("manage_stores")
def keys(request):
    cabinet = request.cabinet
    merchant = cabinet.merchant
    stores = list(Store.objects.filter(merchant=merchant, active=True).order_by("name"))
    form = KeyForm(bound(request, "create"), stores=stores)
    new = None
    if form.is_bound and form.is_valid():
        store = next(store for store in stores if store.pk == form.cleaned_data["store"])
        try:
            terminal, key = tenancy.create_terminal(
                merchant, store_name=store.name, name=form.cleaned_data["name"],
                create_store_if_missing=False, actor=cabinet.principal.actor)
        except DomainError as error:
            refuse(form, error)
        else:
            new = {"name": terminal.name, "key": key}
            form = KeyForm(stores=stores)
    rows = (Terminal.objects.filter(merchant=merchant, kind=Terminal.Kind.API)
            .select_related("store").order_by("revoked_at", "store__name", "name"))
    return render_page(request, "cabinet/settings/keys.html", {
        "form": form, "keys": rows, "new": new,
    }, status=422 if form.is_bound and new is None else 200)


@require_http_methods(["POST"])
@cabinet_view("manage_stores")
def key_revoke(request, key_id: int):
    cabinet = request.cabinet
    terminal = one(Terminal.objects.filter(merchant=cabinet.merchant, kind=Terminal.Kind.API),
                   key_id)
    tenancy.revoke_terminal(terminal, actor=cabinet.principal.actor)
    messages.success(request, _("The key %(prefix)s… is revoked: it opens nothing any more.")
                     % {"prefix": terminal.key_prefix})
    return redirect("cabinet:settings-keys")


class TokenForm(Form):
    staff = forms.TypedChoiceField(label=gettext_lazy("Acts as"), coerce=int,
                                   help_text=gettext_lazy("It may do what this person's "
                                                          "role allows."))
    name = forms.CharField(label=gettext_lazy("What it is for"), max_length=200)

    def __init__(self, *args, people, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["staff"].choices = [
            (person.pk, f"{counters.display_name(person)} · {person.get_role_display()}")
            for person in people]


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
@cabinet_view("manage_staff")
def tokens(request):
    cabinet = request.cabinet
    merchant = cabinet.merchant
    people = list(Staff.objects.select_related("user").filter(merchant=merchant, active=True)
                  .exclude(user__email="").order_by("created_at"))
    form = TokenForm(bound(request, "create"), people=people,
                     initial={"staff": cabinet.staff.pk})
    new = None
    if form.is_bound and form.is_valid():
        person = next(person for person in people if person.pk == form.cleaned_data["staff"])
        try:
            token, key = tenancy.issue_api_token(person, name=form.cleaned_data["name"],
                                                 by=cabinet.staff,
                                                 actor=cabinet.principal.actor)
        except Forbidden as error:
            return refused(request, error)
        except DomainError as error:
            refuse(form, error, {"staff_id": "staff"})
        else:
            new = {"name": token.name, "key": key}
            form = TokenForm(people=people, initial={"staff": cabinet.staff.pk})
    rows = (ApiToken.objects.filter(merchant=merchant).select_related("staff__user")
            .order_by("revoked_at", "-created_at"))
    return render_page(request, "cabinet/settings/tokens.html", {
        "form": form, "tokens": rows, "new": new,
    }, status=422 if form.is_bound and new is None else 200)


@require_http_methods(["POST"])
@cabinet_view("manage_staff")
def token_revoke(request, token_id: int):
    cabinet = request.cabinet
    token = one(ApiToken.objects.filter(merchant=cabinet.merchant)
                .select_related("staff__user"), token_id)
    try:
        tenancy.revoke_api_token(token, by=cabinet.staff, actor=cabinet.principal.actor)
    except Forbidden as error:
        return refused(request, error)
    messages.success(request, _("The token %(prefix)s… is revoked: it opens nothing any more.")
                     % {"prefix": token.key_prefix})
    return redirect("cabinet:settings-tokens")


urlpatterns = [
    path("settings/keys/", keys, name="settings-keys"),
    path("settings/keys/<int:key_id>/revoke/", key_revoke, name="settings-key-revoke"),
    path("settings/tokens/", tokens, name="settings-tokens"),
    path("settings/tokens/<int:token_id>/revoke/", token_revoke, name="settings-token-revoke"),
]
