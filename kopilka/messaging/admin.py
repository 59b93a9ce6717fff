from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_scopes import scope

from kopilka.core.actor import Actor
from kopilka.core.admin import ReadOnlyAdmin
from kopilka.core.errors import DomainError
from kopilka.messaging import billing
from kopilka.messaging.models import Message, Settings, SmsAccount, SmsEntry, Template
from kopilka.tenancy.models import Merchant


@admin.register(Template)
class TemplateAdmin(ReadOnlyAdmin):
    list_display = ["event", "language", "channel", "merchant", "enabled", "updated_at"]
    list_filter = ["event", "language", "channel", "enabled"]
    list_select_related = ["merchant"]


@admin.register(Settings)
class SettingsAdmin(ReadOnlyAdmin):
    list_display = ["merchant", "transactional", "quiet_from", "quiet_to", "updated_at"]
    list_select_related = ["merchant"]


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    # The recipient and text are personal data: operators see the delivery state, not them.
    list_display = ["event", "channel", "merchant", "status", "attempts", "parts", "cost",
                    "provider", "created_at"]
    fields = ["merchant", "member", "event", "channel", "language", "status", "attempts",
              "next_attempt_at", "provider", "provider_id", "parts", "cost", "error",
              "created_at", "sent_at", "delivered_at"]
    list_filter = ["status", "channel", "event"]
    list_select_related = ["merchant"]
    search_fields = ["provider_id"]
    date_hierarchy = "created_at"


def operator(request) -> Actor:
    user = request.user
    return Actor(kind="staff", label=f"admin:{user.get_username()}", user_id=user.pk,
                 ip=request.META.get("REMOTE_ADDR"))


class TopUpForm(forms.Form):
    merchant = forms.ModelChoiceField(queryset=Merchant.objects.order_by("name"),
                                      label=gettext_lazy("merchant"))
    amount = forms.IntegerField(
        label=gettext_lazy("amount"), min_value=1, max_value=billing.MAX_TOP_UP,
        help_text=gettext_lazy("Minor units of the billing currency (150000 is 1500.00)."))
    note = forms.CharField(label=gettext_lazy("note"), max_length=billing.MAX_NOTE,
                           required=False,
                           help_text=gettext_lazy("A reference: invoice, payment id."))


class SmsAccountForm(forms.ModelForm):
    class Meta:
        model = SmsAccount
        fields = ["price_per_part"]

    price_per_part = forms.IntegerField(
        label=gettext_lazy("price per SMS part"), required=False, min_value=0,
        max_value=billing.MAX_PRICE,
        help_text=gettext_lazy("Minor units of the billing currency; empty: the platform's "
                               "price"))


@admin.register(SmsAccount)
class SmsAccountAdmin(admin.ModelAdmin):
    """Operators read the accounts, set a merchant's own price and record top-ups — each
    through `billing`, audited; balances never change by editing a row."""

    list_display = ["merchant", "balance", "free_parts", "price_per_part",
                    "transactional_when_empty", "exhausted_at", "updated_at"]
    list_select_related = ["merchant"]
    list_filter = ["transactional_when_empty"]
    search_fields = ["merchant__name", "merchant__slug"]
    fields = ["merchant", "balance", "free_parts", "price_per_part",
              "transactional_when_empty", "exhausted_at", "updated_at"]
    readonly_fields = ["merchant", "balance", "free_parts", "transactional_when_empty",
                       "exhausted_at", "updated_at"]
    form = SmsAccountForm
    change_list_template = "admin/messaging/smsaccount/change_list.html"

    def has_add_permission(self, request):
        return False  # made on first use, or by a top-up

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        with scope(merchant=obj.merchant_id):
            billing.save_price(obj.merchant, obj.price_per_part, actor=operator(request))

    def get_urls(self):
        return [path("top-up/", self.admin_site.admin_view(self.top_up_view),
                     name="messaging_smsaccount_top_up"), *super().get_urls()]

    def top_up_view(self, request):
        if not self.has_change_permission(request):
            raise PermissionDenied
        form = TopUpForm(request.POST or None,
                         initial={"merchant": request.GET.get("merchant")})
        if request.method == "POST" and form.is_valid():
            merchant = form.cleaned_data["merchant"]
            try:
                with scope(merchant=merchant):
                    done = billing.top_up(merchant, form.cleaned_data["amount"],
                                          note=form.cleaned_data["note"],
                                          actor=operator(request))
            except DomainError as error:
                form.add_error(error.field if error.field in form.fields else None,
                               error.detail)
            else:
                self.message_user(request, _(
                    "%(merchant)s: topped up by %(amount)s; the balance is %(balance)s; "
                    "%(released)s held messages released.") % {
                    "merchant": merchant.name, "amount": billing.money(done.entry.amount),
                    "balance": billing.money(done.entry.balance_after),
                    "released": done.released}, messages.SUCCESS)
                return redirect(reverse("admin:messaging_smsaccount_changelist"))
        context = {**self.admin_site.each_context(request), "opts": self.model._meta,
                   "form": form, "title": _("Top up an SMS balance"),
                   "currency": billing.currency()}
        return TemplateResponse(request, "admin/messaging/smsaccount/top_up.html", context)


@admin.register(SmsEntry)
class SmsEntryAdmin(ReadOnlyAdmin):
    """The accounts' statements: append-only, also for operators."""

    list_display = ["created_at", "merchant", "kind", "amount", "balance_after", "parts",
                    "free_parts", "event", "message", "actor", "reference"]
    list_filter = ["kind", "event"]
    list_select_related = ["merchant"]
    search_fields = ["merchant__slug", "reference"]
    date_hierarchy = "created_at"
    raw_id_fields = ["message"]
