"""Webhooks: the merchant's endpoints, and the outbox of deliveries with their attempt log.

A `Delivery` is written in the same transaction as the operation it reports (the outbox), so a
rolled-back operation sends nothing and a committed one cannot be lost: a task sends it after
commit, and `deliver_due` (called by `kopilka tick`) sends whatever a lost task left behind.
"""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager


class Endpoint(models.Model):
    merchant = models.ForeignKey("tenancy.Merchant", on_delete=models.PROTECT, related_name="+")
    url = models.URLField(_("URL"), max_length=2000)
    description = models.CharField(_("description"), max_length=200, blank=True)
    events = models.JSONField(_("events"), default=list)  # names from events.CATALOGUE
    # Kept in plaintext, unlike API keys: signing needs the secret itself, not a hash of it.
    secret = models.CharField(max_length=100)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"))

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        indexes = [models.Index(fields=["merchant", "active"], name="endpoint_merchant_active")]

    def __str__(self):
        return self.url


class Subscription(models.Model):
    """Which events the merchant's active endpoints want, all together: one row per merchant
    that has any. It exists so that an operation at a merchant without webhooks — most of them —
    needs no query to find that out: API authentication joins this row with the merchant (as it
    joins the program), and `emit` reads it from there. Rewritten by every endpoint change."""

    merchant = models.OneToOneField("tenancy.Merchant", on_delete=models.CASCADE,
                                    primary_key=True, related_name="webhook_subscription")
    events = models.JSONField(default=list)

    objects = ScopedManager(merchant="merchant")

    def __str__(self):
        return ", ".join(self.events)


class Delivery(models.Model):
    """One event for one endpoint, retried until delivered or out of attempts."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        DELIVERED = "delivered", _("delivered")
        FAILED = "failed", _("failed")

    merchant = models.ForeignKey("tenancy.Merchant", on_delete=models.PROTECT, related_name="+")
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(_("event"), max_length=50)
    # Stable across retries and redeliveries (and the same for every endpoint that gets the
    # event): receivers deduplicate on it.
    event_id = models.UUIDField(_("event id"))
    payload = models.JSONField()  # the whole body: {"id", "type", "created_at", "merchant", "data"}
    status = models.CharField(_("status"), max_length=16, choices=Status, default=Status.PENDING)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)  # all of them, ever
    # Failed attempts since the delivery was created or redelivered: the backoff step.
    failures = models.PositiveIntegerField(default=0)
    # When a worker may (next) send it. While a worker is sending, this is pushed a lease ahead,
    # which is what keeps a second worker off the row.
    next_attempt_at = models.DateTimeField(_("next attempt"))
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(_("created"))
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event_id"], name="delivery_event_once"),
        ]
        indexes = [
            models.Index(fields=["merchant", "endpoint", "-id"], name="delivery_endpoint_log"),
            # deliver_due's scan: only the pending rows, by when they are due.
            models.Index(fields=["next_attempt_at"], condition=Q(status="pending"),
                         name="delivery_due"),
        ]

    def __str__(self):
        return f"{self.event} {self.event_id} -> endpoint {self.endpoint_id}"


class Attempt(models.Model):
    """One HTTP request of a delivery: what the receiver answered, or why nothing did."""

    merchant = models.ForeignKey("tenancy.Merchant", on_delete=models.PROTECT, related_name="+")
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="log")
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    response_body = models.CharField(max_length=1024, blank=True)  # the first 1 KB

    objects = ScopedManager(merchant="merchant")

    class Meta:
        indexes = [models.Index(fields=["merchant", "delivery"], name="attempt_delivery")]

    def __str__(self):
        return f"attempt of delivery {self.delivery_id}: {self.status_code or self.error}"
