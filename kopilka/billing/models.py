"""Subscription billing for an operator (OPS-4): plans, each merchant's subscription, and its
prepaid money account with an append-only statement (the shape of messaging's SmsAccount and
SmsEntry: the account row is locked for every write, each entry carries the balance after it).
Money is in minor units of the platform's billing currency (settings.SMS_CURRENCY)."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager


class Plan(models.Model):
    """What the operator sells: a period of `months` paid at its start (the monthly price
    times the months, less the discount), or a daily debit of `daily_price`. Operator-wide: it
    belongs to no merchant."""

    class Kind(models.TextChoices):
        PERIOD = "period", _("paid for a period")
        DAILY = "daily", _("daily debit")

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind, default=Kind.PERIOD)
    months = models.PositiveSmallIntegerField(_("months"), default=1)
    monthly_price = models.BigIntegerField(_("price per month"), default=0,
                                           help_text=_("Minor units of the billing currency"))
    discount_percent = models.PositiveSmallIntegerField(_("discount, %"), default=0)
    daily_price = models.BigIntegerField(_("price per day"), default=0,
                                         help_text=_("Minor units of the billing currency"))
    max_stores = models.PositiveIntegerField(_("stores at most"), null=True, blank=True)
    max_members = models.PositiveIntegerField(_("members at most"), null=True, blank=True)
    active = models.BooleanField(_("offered"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("plan")
        verbose_name_plural = _("plans")
        constraints = [
            models.CheckConstraint(condition=Q(discount_percent__lte=100), name="plan_discount"),
            models.CheckConstraint(condition=Q(months__gte=1), name="plan_months"),
            models.CheckConstraint(condition=Q(monthly_price__gte=0, daily_price__gte=0),
                                   name="plan_prices"),
        ]

    def __str__(self):
        return self.name

    @property
    def period_price(self) -> int:
        """monthly price x months x (100 - discount) / 100, rounded half up to the minor unit:
        1 800,00 ₽ x 6 x 85 / 100 = 9 180,00 ₽."""
        full = self.monthly_price * self.months
        return (full * (100 - self.discount_percent) + 50) // 100


class Subscription(models.Model):
    """A merchant's plan. `next_charge_on` is the next local day the tick charges: every day of
    a daily plan, the first day of each period of a period plan. `overdue_since` is the local
    day the balance went below zero (cleared by the top-up that pays the debt): the grace
    period runs from it, and after it the cabinet is read-only."""

    merchant = models.OneToOneField("tenancy.Merchant", on_delete=models.CASCADE,
                                    primary_key=True, related_name="subscription")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="subscriptions")
    started_on = models.DateField(_("started"))
    next_charge_on = models.DateField(_("next charge"))
    overdue_since = models.DateField(_("overdue since"), null=True, blank=True)
    warned_on = models.DateField(_("owner last warned"), null=True, blank=True)
    # The plan's limits (billing/limits.py): the local day the tick last counted, and the day
    # it last told the owners they were over.
    limits_checked_on = models.DateField(_("limits last checked"), null=True, blank=True)
    limit_warned_on = models.DateField(_("owner last told of the limits"), null=True,
                                       blank=True)
    updated_at = models.DateTimeField(_("updated"))

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("subscription")
        verbose_name_plural = _("subscriptions")

    def __str__(self):
        return f"{self.merchant_id}: {self.plan_id}"


class Account(models.Model):
    """A merchant's prepaid money for the service. Only services.py changes `balance`, each
    time with an `Entry` in the same transaction. Below zero it is a debt to the operator."""

    merchant = models.OneToOneField("tenancy.Merchant", on_delete=models.CASCADE,
                                    primary_key=True, related_name="billing_account")
    balance = models.BigIntegerField(_("balance"), default=0)
    updated_at = models.DateTimeField(_("updated"))

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("billing account")
        verbose_name_plural = _("billing accounts")

    def __str__(self):
        return f"{self.merchant_id}: {self.balance}"


class Entry(models.Model):
    """One change of an account: a payment (top-up) or a charge (a day, a period). Append-only;
    `balance_after` replays the statement. `key` makes a charge or a payment happen once: a
    day's debit is `day:2026-12-07`, a period's `period:2026-12-01`, a payment its provider id."""

    class Kind(models.TextChoices):
        PAYMENT = "payment", _("payment")
        DAILY = "daily", _("daily debit")
        PERIOD = "period", _("period charge")

    merchant = models.ForeignKey("tenancy.Merchant", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("kind"), max_length=8, choices=Kind)
    amount = models.BigIntegerField(_("amount"))  # signed: payments +, charges -
    balance_after = models.BigIntegerField(_("balance after"))
    key = models.CharField(_("key"), max_length=120)
    day = models.DateField(_("day"))  # the local day it counts for
    plan = models.ForeignKey(Plan, null=True, blank=True, on_delete=models.PROTECT,
                             related_name="+")
    note = models.CharField(_("note"), max_length=200, blank=True)
    actor = models.CharField(_("by"), max_length=200)
    created_at = models.DateTimeField(_("created"))

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("statement entry")
        verbose_name_plural = _("statement entries")
        constraints = [
            models.UniqueConstraint(fields=["merchant", "key"], name="billing_entry_once"),
        ]
        indexes = [models.Index(fields=["merchant", "created_at"])]

    def __str__(self):
        return f"{self.kind} {self.amount}"
