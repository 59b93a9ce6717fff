"""What happened at the counter: purchases with their lines, refunds, transfers, manual
grants and the per-employee allowance for them. Point balances live in `ledger`."""

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager


class Purchase(models.Model):
    merchant = models.ForeignKey("tenancy.Merchant", on_delete=models.PROTECT, related_name="+")
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="+")
    account = models.ForeignKey("ledger.Account", on_delete=models.PROTECT, related_name="+")
    # Where it came from: "terminal:12", "staff:3", "api". With receipt_id it is the
    # idempotency key: the same receipt from the same source is one purchase, however often
    # an offline POS re-sends it.
    source = models.CharField(max_length=40)
    receipt_id = models.CharField(_("receipt"), max_length=100)
    terminal = models.ForeignKey(
        "tenancy.Terminal", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    store = models.ForeignKey(
        "tenancy.Store", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    cashier = models.ForeignKey(
        "tenancy.Staff", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    payment_method = models.CharField(_("payment method"), max_length=40, blank=True)
    occurred_at = models.DateTimeField(_("time of sale"))
    recorded_at = models.DateTimeField(_("recorded"))
    total = models.BigIntegerField(_("total"))
    discount = models.BigIntegerField(_("discount"), default=0)
    points_spent = models.BigIntegerField(_("points spent"), default=0)
    points_spent_money = models.BigIntegerField(_("paid with points"), default=0)
    points_accrued = models.BigIntegerField(_("points accrued"), default=0)
    tier_before = models.CharField(max_length=40)
    tier_after = models.CharField(max_length=40)
    # Running totals of the refunds so far (each refund is a Refund row).
    refunded_amount = models.BigIntegerField(default=0)
    points_reversed = models.BigIntegerField(default=0)
    points_returned = models.BigIntegerField(default=0)
    quote = models.JSONField(default=dict)

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("purchase")
        verbose_name_plural = _("purchases")
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "source", "receipt_id"], name="purchase_receipt_unique"
            ),
            models.CheckConstraint(condition=Q(total__gte=0), name="purchase_total_gte_0"),
            models.CheckConstraint(
                condition=Q(refunded_amount__gte=0)
                & Q(refunded_amount__lte=F("total") - F("discount")),
                name="purchase_refund_within_paid",
            ),
            models.CheckConstraint(
                condition=Q(points_reversed__lte=F("points_accrued")),
                name="purchase_reversal_within_accrual",
            ),
            models.CheckConstraint(
                condition=Q(points_returned__lte=F("points_spent")),
                name="purchase_return_within_spent",
            ),
        ]
        indexes = [
            # Covering on PostgreSQL: the sales book's totals under filters the analytics
            # roll-up cannot answer (an amount range, a search, a member) and the distinct
            # buyers at one cashier read this index alone, not the period's rows in the heap.
            # It replaces the plain (merchant, occurred_at) index, so a sale still writes one
            # entry here; SQLite builds the plain index (settings silence models.W040).
            models.Index(fields=["merchant", "occurred_at"], name="purchase_merchant_time",
                         include=["total", "discount", "points_spent", "points_spent_money",
                                  "points_accrued", "refunded_amount", "store", "cashier",
                                  "member"]),
            models.Index(fields=["merchant", "member"], name="purchase_member"),
        ]

    def __str__(self):
        return f"{self.receipt_id} ({self.total})"


class PurchaseLine(models.Model):
    merchant = models.ForeignKey("tenancy.Merchant", on_delete=models.PROTECT, related_name="+")
    purchase = models.ForeignKey(Purchase, on_delete=models.CASCADE, related_name="lines")
    line_id = models.CharField(max_length=60)
    sku = models.CharField(max_length=100, blank=True)
    product_group = models.CharField(max_length=100, blank=True)
    quantity = models.IntegerField(default=1)
    amount = models.BigIntegerField()
    discount = models.BigIntegerField(default=0)
    points_money = models.BigIntegerField(default=0)  # this line's part paid with points
    accrual = models.BigIntegerField(default=0)
    refunded_amount = models.BigIntegerField(default=0)

    objects = ScopedManager(merchant="merchant")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["purchase", "line_id"], name="line_id_unique"),
            models.CheckConstraint(
                condition=Q(refunded_amount__gte=0)
                & Q(refunded_amount__lte=F("amount") - F("discount")),
                name="line_refund_within_paid",
            ),
        ]

    def __str__(self):
        return f"line {self.line_id}: {self.amount}"

    @property
    def paid(self) -> int:
        return self.amount - self.discount


class Refund(models.Model):
    merchant = models.ForeignKey("tenancy.Merchant", on_delete=models.PROTECT, related_name="+")
    purchase = models.ForeignKey(Purchase, on_delete=models.PROTECT, related_name="refunds")
    refund_id = models.CharField(max_length=100)  # the POS's id: a retry is the same refund
    amount = models.BigIntegerField()
    lines = models.JSONField(default=dict)  # {line_id: amount}
    points_reversed = models.BigIntegerField(default=0)
    points_returned = models.BigIntegerField(default=0)
    # Accrued points the member had already spent when the refund came: not taken back
    # (balances never go negative), but recorded here and in the audit log.
    points_unrecovered = models.BigIntegerField(default=0)
    occurred_at = models.DateTimeField()
    actor = models.CharField(max_length=200, blank=True)

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        constraints = [
            models.UniqueConstraint(fields=["purchase", "refund_id"], name="refund_id_unique"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_gt_0"),
        ]

    def __str__(self):
        return f"refund {self.refund_id}: {self.amount}"


class Transfer(models.Model):
    """Points sent from one member to another of the same merchant (ENG-12)."""

    merchant = models.ForeignKey("tenancy.Merchant", on_delete=models.PROTECT, related_name="+")
    sender = models.ForeignKey("ledger.Account", on_delete=models.PROTECT, related_name="+")
    recipient = models.ForeignKey("ledger.Account", on_delete=models.PROTECT, related_name="+")
    points = models.BigIntegerField()
    key = models.CharField(max_length=100)  # idempotency key chosen by the client
    occurred_at = models.DateTimeField()

    objects = ScopedManager(merchant="merchant")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant", "sender", "key"], name="transfer_key"),
            models.CheckConstraint(condition=Q(points__gt=0), name="transfer_points_gt_0"),
            models.CheckConstraint(
                condition=~Q(sender=F("recipient")), name="transfer_not_to_self"
            ),
        ]
        indexes = [models.Index(fields=["merchant", "occurred_at"], name="transfer_time")]

    def __str__(self):
        return f"transfer {self.points}: {self.sender_id} -> {self.recipient_id}"


class Allowance(models.Model):
    """How many points an employee may still hand out manually (ENG-13), set by the owner."""

    merchant = models.ForeignKey("tenancy.Merchant", on_delete=models.PROTECT, related_name="+")
    staff = models.OneToOneField("tenancy.Staff", on_delete=models.PROTECT, related_name="+")
    remaining = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField()

    objects = ScopedManager(merchant="merchant")

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(remaining__gte=0), name="allowance_gte_0"),
        ]

    def __str__(self):
        return f"allowance of staff {self.staff_id}: {self.remaining}"


class Adjustment(models.Model):
    """A manual grant (positive) or deduction (negative) by an employee, with the reason."""

    merchant = models.ForeignKey("tenancy.Merchant", on_delete=models.PROTECT, related_name="+")
    account = models.ForeignKey("ledger.Account", on_delete=models.PROTECT, related_name="+")
    staff = models.ForeignKey("tenancy.Staff", on_delete=models.PROTECT, related_name="+")
    points = models.BigIntegerField()
    reason = models.CharField(max_length=300)
    key = models.CharField(max_length=100)
    occurred_at = models.DateTimeField()

    objects = ScopedManager(merchant="merchant")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant", "staff", "key"], name="adjustment_key"),
            models.CheckConstraint(condition=~Q(points=0), name="adjustment_not_zero"),
        ]

    def __str__(self):
        return f"adjustment {self.points:+d}: {self.reason}"


class Shift(models.Model):
    """A cashier's working time at one counter device: the sales book between its opening (an
    explicit "Open shift", or the first sale after the last close) and its close. The figures
    are always computed from the purchases and refunds (processing/shifts.py); `summary` keeps
    what the close showed, so a printed summary can be shown again exactly."""

    merchant = models.ForeignKey("tenancy.Merchant", on_delete=models.PROTECT, related_name="+")
    terminal = models.ForeignKey("tenancy.Terminal", on_delete=models.PROTECT, related_name="+")
    cashier = models.ForeignKey("tenancy.Staff", on_delete=models.PROTECT, related_name="+")
    opened_at = models.DateTimeField(_("opened"))
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    summary = models.JSONField(default=dict)

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("shift")
        verbose_name_plural = _("shifts")
        constraints = [
            models.UniqueConstraint(fields=["terminal", "cashier"],
                                    condition=Q(closed_at__isnull=True), name="shift_one_open"),
        ]
        indexes = [models.Index(fields=["terminal", "cashier", "closed_at"], name="shift_close")]

    def __str__(self):
        return f"shift of staff {self.cashier_id} at terminal {self.terminal_id}"
