"""The roll-up the figures are read from (docs/analytics.md), and the merchant's analytics
settings."""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager

NONE = 0  # store_id / cashier_id of a purchase without one (NULL would defeat the upsert key)


class DayFigures(models.Model):
    """Sums of one merchant's local day at one store by one cashier, kept by the subscribers
    of rollup.py and re-derivable from the raw rows (`kopilka analytics rebuild`).

    A refund changes the cell of its purchase (its day, store and cashier), not the day it was
    made: the figures of a period are what the purchases made in it finally brought in."""

    merchant = models.ForeignKey("tenancy.Merchant", on_delete=models.PROTECT, related_name="+")
    day = models.DateField()  # the merchant's local day
    # Plain ids, not foreign keys: 0 stands for "none", so the unique key has no NULL in it.
    store_id = models.BigIntegerField(default=NONE)
    cashier_id = models.BigIntegerField(default=NONE)
    checks = models.BigIntegerField(default=0)  # purchases not refunded in full
    revenue = models.BigIntegerField(default=0)  # total - discount - refunded, money
    discount = models.BigIntegerField(default=0)  # discounts of the counted checks, money
    points_accrued = models.BigIntegerField(default=0)  # net of what refunds took back
    points_spent = models.BigIntegerField(default=0)  # net of what refunds gave back
    # Members whose 1st, 2nd, 3rd purchase (in the order they were recorded) was this one.
    first_purchases = models.BigIntegerField(default=0)
    second_purchases = models.BigIntegerField(default=0)
    third_purchases = models.BigIntegerField(default=0)
    enrolled = models.BigIntegerField(default=0)  # members registered (store and cashier 0)

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("daily figures")
        verbose_name_plural = _("daily figures")
        constraints = [
            models.UniqueConstraint(fields=["merchant", "day", "store_id", "cashier_id"],
                                    name="dayfigures_cell"),
        ]

    def __str__(self):
        return f"{self.day} store {self.store_id} cashier {self.cashier_id}"


class Settings(models.Model):
    merchant = models.OneToOneField("tenancy.Merchant", on_delete=models.CASCADE,
                                    related_name="+")
    lost_after_days = models.PositiveSmallIntegerField(
        _("lost after days"), default=90,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
        help_text=_("A member without a purchase for this many days counts as lost."),
    )

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("analytics settings")
        verbose_name_plural = _("analytics settings")

    def __str__(self):
        return f"analytics settings of merchant {self.merchant_id}"
