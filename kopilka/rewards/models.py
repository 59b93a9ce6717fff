"""The reward catalogue: items priced in points, and members' orders for them.

An order holds the item's price on the member's account (a ledger hold, via processing) until
the cashier hands the item over — the points are spent then — or the order is cancelled or
lapses, which releases them. Stock is counted when handed over; open orders reserve it, so the
last cheesecake cannot be promised twice.
"""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager

PICTURE_SIZES = (160, 480)  # square-ish thumbnails for the lists, a larger one for the page


class Item(models.Model):
    merchant = models.ForeignKey("tenancy.Merchant", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(_("name"), max_length=120)
    description = models.CharField(_("description"), max_length=500, blank=True)
    price = models.BigIntegerField(_("price in points"))  # the program's minor units
    # None: no limit. Counted down when an order is handed over.
    stock = models.IntegerField(_("in stock"), null=True, blank=True)
    stores = models.ManyToManyField("tenancy.Store", blank=True, related_name="+",
                                    verbose_name=_("stores"))  # none: every store
    starts_on = models.DateField(_("available from"), null=True, blank=True)
    ends_on = models.DateField(_("available until"), null=True, blank=True)
    valid_hours = models.PositiveIntegerField(_("an order waits (hours)"), default=24)
    active = models.BooleanField(_("shown to members"), default=True)
    # The stored pictures are named by this token: <token>-<size>.webp under rewards/<merchant>/
    picture = models.CharField(max_length=64, blank=True)
    position = models.IntegerField(default=0)
    created_at = models.DateTimeField(_("created"))

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("reward")
        verbose_name_plural = _("rewards")
        ordering = ["position", "price", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(price__gt=0), name="reward_item_price_gt_0"),
            models.CheckConstraint(condition=Q(stock__isnull=True) | Q(stock__gte=0),
                                   name="reward_item_stock_gte_0"),
        ]
        indexes = [models.Index(fields=["merchant", "active"], name="reward_item_merchant")]

    def __str__(self):
        return self.name


class Order(models.Model):
    class Status(models.TextChoices):
        HELD = "held", _("waiting to be collected")
        HANDED_OVER = "handed_over", _("handed over")
        CANCELLED = "cancelled", _("cancelled")
        EXPIRED = "expired", _("expired")

    merchant = models.ForeignKey("tenancy.Merchant", on_delete=models.PROTECT, related_name="+")
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="orders")
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="+")
    points = models.BigIntegerField(_("points"))
    # What the QR carries and the cashier may type: "R-" and 10 characters (orders.CODE).
    code = models.CharField(_("order code"), max_length=16, unique=True)
    status = models.CharField(_("status"), max_length=12, choices=Status, default=Status.HELD)
    hold = models.ForeignKey("ledger.Hold", on_delete=models.PROTECT, null=True, blank=True,
                             related_name="+")
    created_at = models.DateTimeField(_("ordered"))
    expires_at = models.DateTimeField(_("valid until"))
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    store = models.ForeignKey("tenancy.Store", on_delete=models.PROTECT, null=True, blank=True,
                              related_name="+")  # where it was handed over
    handed_by = models.ForeignKey("tenancy.Staff", on_delete=models.PROTECT, null=True,
                                  blank=True, related_name="+")
    # The wallet's form sends a key per page and item: a double tap or a resent form is the
    # same order, not a second hold.
    key = models.CharField(max_length=64, blank=True)

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("reward order")
        verbose_name_plural = _("reward orders")
        constraints = [
            models.CheckConstraint(condition=Q(points__gt=0), name="reward_order_points_gt_0"),
            models.UniqueConstraint(fields=["member", "key"], condition=~Q(key=""),
                                    name="reward_order_key_unique"),
        ]
        indexes = [
            models.Index(fields=["merchant", "-created_at"], name="reward_order_merchant"),
            models.Index(fields=["member", "status"], name="reward_order_member"),
            models.Index(fields=["expires_at"], condition=Q(status="held"),
                         name="reward_order_open"),
        ]

    def __str__(self):
        return self.code
