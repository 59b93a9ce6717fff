"""The operator's views of billing in the Django admin: plans (edited through services, so
every change is audited), subscriptions, balances and debts, statements, and top-ups."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_scopes import scope

from kopilka.billing import limits, services
from kopilka.billing.models import Account, Entry, Plan, Subscription
from kopilka.core.actor import Actor
from kopilka.core.admin import ReadOnlyAdmin
from kopilka.core.errors import DomainError
from kopilka.tenancy.models import Merchant


def operator(request) -> Actor:
    user = request.user
    return Actor(kind="staff", label=f"admin:{user.get_username()}", user_id=user.pk,
                 ip=request.META.get("REMOTE_ADDR"))


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "kind", "months", "monthly_price", "discount_percent",
                    "price_of_period", "daily_price", "max_stores", "max_members", "active"]
    list_filter = ["kind", "active"]

    @admin.display(description=gettext_lazy("price of the period"))
    def price_of_period(self, plan):
        return services.money(plan.period_price) if plan.kind == Plan.Kind.PERIOD else "—"

    def has_delete_permission(self, request, obj=None):
        return False  # subscriptions and statements name it

    def save_model(self, request, obj, form, change):
        saved = services.save_plan(
            code=obj.code, name=obj.name, kind=obj.kind, months=obj.months,
            monthly_price=obj.monthly_price, discount_percent=obj.discount_percent,
            daily_price=obj.daily_price, max_stores=obj.max_stores,
            max_members=obj.max_members, actor=operator(request))
        if saved.active != obj.active:
            Plan.objects.filter(pk=saved.pk).update(active=obj.active)
        obj.pk = saved.pk


def _of(used: int, limit: int | None) -> str:
    if limit is None:
        return f"{used} / —"
    shown = f"{used} / {limit}"
    return shown + " — " + _("over the plan's limit") if used > limit else shown


class SubscriptionForm(forms.ModelForm):
    class Meta:
        model = Subscription
        fields = ["merchant", "plan", "started_on"]


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ["merchant", "plan", "stores_of_limit", "members_of_limit", "started_on",
                    "next_charge_on", "overdue_since", "warned_on", "updated_at"]
    list_select_related = ["merchant", "plan"]
    list_filter = ["plan"]
    form = SubscriptionForm

    # Usage beside the plan's limits: "3 / 2 — over" (two counts per row; the list is paged).
    @admin.display(description=gettext_lazy("stores (open / limit)"))
    def stores_of_limit(self, sub):
        with scope(merchant=sub.merchant_id):
            return _of(limits.stores_used(sub.merchant), sub.plan.max_stores)

    @admin.display(description=gettext_lazy("members (now / limit)"))
    def members_of_limit(self, sub):
        with scope(merchant=sub.merchant_id):
            return _of(limits.members_used(sub.merchant), sub.plan.max_members)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        with scope(merchant=obj.merchant_id):
            saved = services.subscribe(obj.merchant, obj.plan, start=obj.started_on,
                                       actor=operator(request))
        obj.pk = saved.pk


class DebtFilter(admin.SimpleListFilter):
    title = gettext_lazy("debt")
    parameter_name = "debt"

    def lookups(self, request, model_admin):
        return [("yes", _("in debt")), ("no", _("paid up"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(balance__lt=0)
        if self.value() == "no":
            return queryset.filter(balance__gte=0)
        return queryset


class TopUpForm(forms.Form):
    merchant = forms.ModelChoiceField(queryset=Merchant.objects.order_by("name"),
                                      label=gettext_lazy("merchant"))
    amount = forms.IntegerField(
        label=gettext_lazy("amount"), min_value=1, max_value=services.MAX_AMOUNT,
        help_text=gettext_lazy("Minor units of the billing currency (150000 is 1500.00)."))
    note = forms.CharField(label=gettext_lazy("note"), max_length=services.MAX_NOTE,
                           required=False,
                           help_text=gettext_lazy("A reference: invoice, payment id."))


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    """Balances and debts; the balance changes only by a top-up or a charge."""

    list_display = ["merchant", "balance", "balance_shown", "updated_at"]
    list_select_related = ["merchant"]
    list_filter = [DebtFilter]
    search_fields = ["merchant__name", "merchant__slug"]
    ordering = ["balance"]
    change_list_template = "admin/billing/account/change_list.html"

    @admin.display(description=gettext_lazy("balance"), ordering="balance")
    def balance_shown(self, row):
        return services.money(row.balance)

    def has_change_permission(self, request, obj=None):
        return obj is None and request.user.is_superuser  # the list and the top-up only

    def get_urls(self):
        return [path("top-up/", self.admin_site.admin_view(self.top_up_view),
                     name="billing_account_top_up"), *super().get_urls()]

    def top_up_view(self, request):
        if not request.user.is_superuser:
            raise PermissionDenied
        form = TopUpForm(request.POST or None, initial={"merchant": request.GET.get("merchant")})
        if request.method == "POST" and form.is_valid():
            merchant = form.cleaned_data["merchant"]
            try:
                with scope(merchant=merchant):
                    entry = services.top_up(merchant, form.cleaned_data["amount"],
                                            note=form.cleaned_data["note"],
                                            actor=operator(request))
            except DomainError as error:
                form.add_error(error.field if error.field in form.fields else None,
                               error.detail)
            else:
                self.message_user(request, _(
                    "%(merchant)s: topped up by %(amount)s; the balance is %(balance)s.") % {
                    "merchant": merchant.name, "amount": services.money(entry.amount),
                    "balance": services.money(entry.balance_after)}, messages.SUCCESS)
                return redirect(reverse("admin:billing_account_changelist"))
        context = {**self.admin_site.each_context(request), "opts": self.model._meta,
                   "form": form, "title": _("Top up a Kopilka balance"),
                   "currency": services.sms.currency()}
        return TemplateResponse(request, "admin/billing/account/top_up.html", context)


@admin.register(Entry)
class EntryAdmin(ReadOnlyAdmin):
    """The statements: append-only, also for operators."""

    list_display = ["created_at", "merchant", "kind", "day", "amount", "balance_after",
                    "plan", "note", "actor"]
    list_filter = ["kind"]
    list_select_related = ["merchant", "plan"]
    search_fields = ["merchant__slug", "note", "key"]
    date_hierarchy = "created_at"
