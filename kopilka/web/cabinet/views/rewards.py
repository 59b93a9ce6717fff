"""The reward catalogue's items and orders (#18): the owner's list of rewards, adding and
changing one (with its picture), and every order with its state."""

from decimal import Decimal, InvalidOperation

from django import forms
from django.contrib import messages
from django.http import FileResponse, Http404
from django.shortcuts import redirect
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_http_methods, require_safe

from kopilka.core.errors import DomainError, NotFound
from kopilka.programs import services as programs
from kopilka.rewards import pictures
from kopilka.rewards import services as rewards
from kopilka.rewards.models import Item, Order
from kopilka.tenancy.models import Store
from kopilka.web.cabinet.session import cabinet_view
from kopilka.web.cabinet.tabs import Tab, register
from kopilka.web.forms import Form
from kopilka.web.htmx import render_page

ORDERS_PAGE = 100


def points_from_text(text: str, precision: int) -> int:
    """"12,5" as the program's minor units; ValidationError in the user's language."""
    text = (text or "").strip().replace(",", ".").replace(" ", "").replace("\u00a0", "")
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite() or value <= 0 or value > 10**12:
        raise forms.ValidationError(_("Enter a number of points above zero."))
    minor = value.scaleb(precision)
    if minor != minor.to_integral_value():
        raise forms.ValidationError(
            ngettext("At most %(places)s digit after the point.",
                     "At most %(places)s digits after the point.", precision)
            % {"places": precision} if precision else _("Points are whole numbers here."))
    return int(minor)


class ItemForm(Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=120,
                           widget=forms.TextInput(attrs={"autocomplete": "off"}))
    price = forms.CharField(label=gettext_lazy("Price in points"), max_length=20,
                            widget=forms.TextInput(attrs={"inputmode": "decimal",
                                                          "autocomplete": "off"}))
    description = forms.CharField(label=gettext_lazy("Description"), max_length=500,
                                  required=False, widget=forms.Textarea(attrs={"rows": 2}))
    picture = forms.FileField(
        label=gettext_lazy("Picture"), required=False,
        help_text=gettext_lazy("JPEG, PNG or WebP up to 8 MB; it is resized for phones."),
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}))
    stock = forms.IntegerField(label=gettext_lazy("In stock"), required=False, min_value=0,
                               max_value=10**9,
                               help_text=gettext_lazy("Leave empty for no limit."))
    stores = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Stores"), queryset=Store.objects.none(), required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("None ticked: handed over in every store."))
    starts_on = forms.DateField(label=gettext_lazy("Available from"), required=False,
                                widget=forms.DateInput(attrs={"type": "date"},
                                                       format="%Y-%m-%d"))
    ends_on = forms.DateField(label=gettext_lazy("Available until"), required=False,
                              widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    valid_hours = forms.IntegerField(
        label=gettext_lazy("An order waits, hours"), min_value=1, max_value=rewards.MAX_VALID_HOURS,
        initial=24, help_text=gettext_lazy("Not collected by then, the points go back."))
    active = forms.BooleanField(label=gettext_lazy("Shown to members"), required=False,
                                initial=True)

    def __init__(self, *args, merchant, precision: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.precision = precision
        self.fields["stores"].queryset = Store.objects.filter(merchant=merchant,
                                                              active=True).order_by("name")

    def clean_price(self) -> int:
        return points_from_text(self.cleaned_data["price"], self.precision)

    def item_input(self) -> rewards.ItemInput:
        data = self.cleaned_data
        return rewards.ItemInput(
            name=data["name"], price=data["price"], description=data["description"],
            stock=data["stock"], stores=tuple(data["stores"]), starts_on=data["starts_on"],
            ends_on=data["ends_on"], valid_hours=data["valid_hours"], active=data["active"])


def _precision(merchant) -> int:
    return programs.load(merchant).config.points_precision


def _program(merchant):
    try:
        return programs.load(merchant).config
    except DomainError:
        return None


def _initial(item: Item, precision: int) -> dict:
    price = Decimal(item.price).scaleb(-precision)
    return {"name": item.name, "price": str(price if price % 1 else int(price)),
            "description": item.description, "stock": item.stock,
            "stores": list(item.stores.all()), "starts_on": item.starts_on,
            "ends_on": item.ends_on, "valid_hours": item.valid_hours, "active": item.active}


def _item_or_404(request, item_id: int) -> Item:
    try:
        return rewards.item_of(request.cabinet.merchant, item_id)
    except NotFound:
        raise Http404 from None


@require_safe
@cabinet_view("manage_rewards")
def catalogue(request):
    merchant = request.cabinet.merchant
    rewards.expire_lapsed(merchant)
    found = list(rewards.items(merchant))
    taken = rewards.reserved(found)
    return render_page(request, "cabinet/rewards/list.html", {
        "rows": [{"item": item, "reserved": taken.get(item.pk, 0)} for item in found],
        "program": _program(merchant),
        "held": Order.objects.filter(merchant=merchant, status=Order.Status.HELD).count(),
    })


def _form_page(request, form, item=None, status=200):
    return render_page(request, "cabinet/rewards/form.html",
                       {"form": form, "item": item}, status=status)


def _save(request, item: Item | None):
    merchant = request.cabinet.merchant
    try:
        precision = _precision(merchant)
    except DomainError as error:
        messages.error(request, str(error.detail))
        return redirect("cabinet:program")
    if request.method != "POST":
        form = ItemForm(merchant=merchant, precision=precision,
                        initial=_initial(item, precision) if item else None)
        return _form_page(request, form, item)
    form = ItemForm(request.POST, request.FILES, merchant=merchant, precision=precision)
    if form.is_valid():
        actor = request.cabinet.principal.actor
        picture = form.cleaned_data["picture"] or None
        try:
            if item is None:
                item = rewards.create_item(merchant, form.item_input(), actor=actor,
                                           picture=picture)
                messages.success(request, _("%(item)s is in the catalogue.")
                                 % {"item": item.name})
            else:
                item = rewards.update_item(merchant, item, form.item_input(), actor=actor,
                                           picture=picture)
                messages.success(request, _("%(item)s is saved.") % {"item": item.name})
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None,
                           str(error.detail))
        else:
            return redirect("cabinet:rewards")
    return _form_page(request, form, item, status=422)


@require_http_methods(["GET", "HEAD", "POST"])
@cabinet_view("manage_rewards")
def item_new(request):
    return _save(request, None)


@require_http_methods(["GET", "HEAD", "POST"])
@cabinet_view("manage_rewards")
def item_edit(request, item_id: int):
    return _save(request, _item_or_404(request, item_id))


@require_safe
@cabinet_view("manage_rewards")
def order_list(request):
    merchant = request.cabinet.merchant
    rewards.expire_lapsed(merchant)  # lapsed orders show as expired (no job needed)
    status = request.GET.get("status", "")
    if status not in Order.Status.values:
        status = ""
    return render_page(request, "cabinet/rewards/orders.html", {
        "orders": list(rewards.orders(merchant, status=status or None)[:ORDERS_PAGE]),
        "program": _program(merchant), "status": status,
        "statuses": Order.Status.choices,
    })


@require_safe
@cabinet_view("manage_rewards")
def picture(request, item_id: int, size: int):
    item = _item_or_404(request, item_id)
    found = pictures.open_picture(item.merchant_id, item.picture, size)
    if found is None:
        raise Http404
    return FileResponse(found, content_type=pictures.CONTENT_TYPE)


urlpatterns = [
    path("rewards/", catalogue, name="rewards"),
    path("rewards/new/", item_new, name="reward-new"),
    path("rewards/<int:item_id>/", item_edit, name="reward-edit"),
    path("rewards/<int:item_id>/picture/<int:size>/", picture, name="reward-picture"),
    path("rewards/orders/", order_list, name="reward-orders"),
]
register(Tab("rewards", gettext_lazy("Rewards"), "cabinet:rewards", "manage_rewards", order=60))
