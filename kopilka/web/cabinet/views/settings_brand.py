"""Settings → Your brand: the colour and logo members see on the business's wallet pages
(tenancy/branding.py). Owners and admins (edit_program: it is how the program looks)."""

from django import forms
from django.contrib import messages
from django.shortcuts import redirect
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from kopilka.core.errors import DomainError
from kopilka.tenancy import branding
from kopilka.web.cabinet.session import cabinet_view
from kopilka.web.cabinet.views.settings import refuse
from kopilka.web.forms import Form
from kopilka.web.htmx import render_page


class BrandForm(Form):
    brand_colour = forms.CharField(
        label=gettext_lazy("Colour"), max_length=7, required=False,
        widget=forms.TextInput(attrs={"type": "color"}),
        help_text=gettext_lazy("The band behind your name on members' cards."))
    use_colour = forms.BooleanField(label=gettext_lazy("Use this colour"), required=False)
    logo = forms.ImageField(
        label=gettext_lazy("Logo"), required=False,
        help_text=gettext_lazy("JPEG, PNG or WebP up to 8 MB; shown 48 px high."))
    drop_logo = forms.BooleanField(label=gettext_lazy("Remove the logo"), required=False)


@require_http_methods(["GET", "HEAD", "POST"])
@cabinet_view("edit_program")
def brand(request):
    cabinet = request.cabinet
    merchant = cabinet.merchant
    initial = {"brand_colour": merchant.brand_colour or "#0b6b4e",
               "use_colour": bool(merchant.brand_colour)}
    form = BrandForm(request.POST or None, request.FILES or None, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                branding.save_branding(
                    merchant, colour=data["brand_colour"] if data["use_colour"] else "",
                    logo=data["logo"], drop_logo=data["drop_logo"],
                    actor=cabinet.principal.actor)
            except DomainError as error:
                refuse(form, error)
            else:
                messages.success(request, _("Your brand is saved."))
                return redirect("cabinet:settings-brand")
        status = 422
    return render_page(request, "cabinet/settings/brand.html",
                       {"form": form, "merchant": merchant}, status=status)


urlpatterns = [
    path("settings/brand/", brand, name="settings-brand"),
]
