"""The roll-up the figures are read from (docs/analytics.md), and the merchant's analytics
settings."""

from datetime import date

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django_scopes import ScopedManager

NONE = 0  # store_id / cashier_id of a purchase without one (NULL would defeat the upsert key)
# `previous_day` of a cell of sums (the plain roll-up row); a buyers row has a real day there.
CELL = date(9999, 12, 31)
# `previous_day` of a buyers row counting members who had not bought before (in its scope).
NEVER = date(1, 1, 1)
ALL_STORES = 0  # store_id of buyers rows counted over the whole merchant


class DayFigures(models.Model):
    """Sums of one merchant's local day at one store by one cashier, kept by the subscribers
    of rollup.py and re-derivable from the raw rows (`kopilka analytics rebuild`).

    A refund changes the cell of its purchase (its day, store and cashier), not the day it was
    made: the figures of a period are what the purchases made in it finally brought in.

    Two kinds of rows share the table (and the one upsert a sale makes, docs/analytics.md):
    - cells of sums: `previous_day` = CELL, the counters from `checks` to `paid_with_points`;
    - buyers rows, for the distinct-buyer counts (figures 5 and 10): cashier 0, store 0 (the
      whole merchant, ALL_STORES) or a store, `previous_day` a local day or NEVER; `buyers`
      counts members whose first purchase of `day` it was and whose previous purchase day (at
      the merchant) was `previous_day`, `customers` the same over checks (purchases not
      refunded in full), at the merchant (store 0) or at the store. Members who bought in
      [a, b] = Σ over days a..b of the rows with previous_day < a: each member counts once, on
      the first day they bought in the period. The sums' counters of a buyers row are 0 and
      the buyers' counters of a cell are 0, so a sum over both kinds is still right.
    """

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
    # What the cabinet's sales list adds up (gross, as the purchases' rows have it):
    purchases = models.BigIntegerField(default=0)  # every purchase, refunded or not
    total = models.BigIntegerField(default=0)  # before the discount, money
    refunded = models.BigIntegerField(default=0)  # money refunded
    points_reversed = models.BigIntegerField(default=0)  # accrued points refunds took back
    points_returned = models.BigIntegerField(default=0)  # spent points refunds gave back
    paid_with_points = models.BigIntegerField(default=0)  # money the spent points stood for
    # The buyers rows' counters (above).
    previous_day = models.DateField(default=CELL)
    buyers = models.BigIntegerField(default=0)
    customers = models.BigIntegerField(default=0)

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("daily figures")
        verbose_name_plural = _("daily figures")
        constraints = [
            # previous_day second: the sums read the cells (previous_day = CELL) of a range of
            # days, without the buyers rows.
            models.UniqueConstraint(fields=["merchant", "previous_day", "day", "store_id",
                                            "cashier_id"], name="dayfigures_key"),
        ]
        indexes = [
            # Figures 5 and 10: a scope's rows of a range of days, the counters in the index
            # (an index-only read).
            models.Index(fields=["merchant", "store_id", "day", "previous_day", "customers",
                                 "buyers"], name="dayfigures_buyers"),
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


class Export(models.Model):
    """One export of members or transactions (ANL-3): written in the background, downloaded
    through its secret token until it expires, then its file is deleted (exports.py)."""

    class Kind(models.TextChoices):
        MEMBERS = "members", _("members")
        TRANSACTIONS = "transactions", _("transactions")

    class Format(models.TextChoices):
        XLSX = "xlsx", "Excel (XLSX)"
        CSV = "csv", "CSV"

    class Status(models.TextChoices):
        QUEUED = "queued", pgettext_lazy("export", "queued")
        RUNNING = "running", pgettext_lazy("export", "being written")
        DONE = "done", pgettext_lazy("export", "ready")
        FAILED = "failed", pgettext_lazy("export", "failed")
        EXPIRED = "expired", pgettext_lazy("export", "expired")

    merchant = models.ForeignKey("tenancy.Merchant", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind)
    format = models.CharField(max_length=8, choices=Format)
    status = models.CharField(max_length=16, choices=Status, default=Status.QUEUED)
    phones = models.BooleanField(default=False)  # whether the file has the phone column
    language = models.CharField(max_length=8)  # of the column headers
    since = models.DateField(null=True, blank=True)  # transactions: local days, both included
    until = models.DateField(null=True, blank=True)
    rows_total = models.BigIntegerField(default=0)  # counted when the writing starts
    rows_done = models.BigIntegerField(default=0)
    size = models.BigIntegerField(default=0)  # bytes of the finished file
    token = models.CharField(max_length=64, unique=True)  # the download link's secret
    requested_by = models.CharField(max_length=200)  # the actor's label
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()  # the link stops working and the file is deleted
    error = models.CharField(max_length=500, blank=True)

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("export")
        verbose_name_plural = _("exports")
        indexes = [models.Index(fields=["merchant", "-created_at"], name="export_recent"),
                   models.Index(fields=["expires_at"], name="export_expiry")]

    def __str__(self):
        return f"export {self.pk}: {self.kind} {self.format} {self.status}"
