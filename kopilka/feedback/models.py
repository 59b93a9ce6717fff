"""Reviews of purchases (FBK-1 … FBK-3): the request sent after a purchase, the member's review,
the dialog under it, and the merchant's settings for all of it.

Every row is a tenant row (`merchant`, scoped manager). Links carry a random token; only its
SHA-256 is stored (random and long enough that a keyed hash would add nothing), as the
wallet's sign-in links do.
"""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager


class Settings(models.Model):
    """A merchant's review policy. A merchant without a row has the defaults: requests off."""

    merchant = models.OneToOneField("tenancy.Merchant", on_delete=models.CASCADE,
                                    primary_key=True, related_name="review_settings")
    requests_on = models.BooleanField(_("ask for a review after a purchase"), default=False)
    delay_minutes = models.PositiveIntegerField(
        _("minutes after the purchase"), default=120,
        validators=[MinValueValidator(0), MaxValueValidator(7 * 24 * 60)])
    once_per_days = models.PositiveSmallIntegerField(
        _("at most one request per member in this many days"), default=30,
        validators=[MinValueValidator(1), MaxValueValidator(365)])
    alert_on = models.BooleanField(_("e-mail the owners about a low score"), default=False)
    alert_score = models.PositiveSmallIntegerField(
        _("a low score is this or less"), default=3,
        validators=[MinValueValidator(1), MaxValueValidator(4)])
    updated_at = models.DateTimeField(_("updated"))

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("review settings")
        verbose_name_plural = _("review settings")

    def __str__(self):
        return f"{self.merchant_id}: {'on' if self.requests_on else 'off'}"


class ReviewRequest(models.Model):
    """One purchase's request for a review: scheduled after the sale, sent by the tick when
    due (its SMS carries the link /my/r/<token>), used when the member sends the review."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("scheduled")
        SENT = "sent", _("sent")
        SKIPPED = "skipped", _("not sent")  # no consent any more, switched off, no phone
        USED = "used", _("used")

    merchant = models.ForeignKey("tenancy.Merchant", on_delete=models.PROTECT, related_name="+")
    # One request per purchase: the database refuses a second one, however often a job runs.
    purchase = models.OneToOneField("processing.Purchase", on_delete=models.PROTECT,
                                    related_name="+")
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(_("status"), max_length=16, choices=Status,
                              default=Status.SCHEDULED)
    token_hash = models.CharField(max_length=64, null=True, blank=True, unique=True,
                                  editable=False)
    due_at = models.DateTimeField(_("due"))
    created_at = models.DateTimeField(_("created"))
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    expires_at = models.DateTimeField(_("link valid until"), null=True, blank=True)
    used_at = models.DateTimeField(_("used"), null=True, blank=True)
    message_id = models.BigIntegerField(_("message"), null=True, blank=True)

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("review request")
        verbose_name_plural = _("review requests")
        indexes = [
            models.Index(fields=["merchant", "member", "-created_at"],
                         name="reviewrequest_member"),
            # The tick's scan across merchants: only the scheduled rows, by when they are due.
            models.Index(fields=["due_at"], condition=Q(status="scheduled"),
                         name="reviewrequest_due"),
        ]

    def __str__(self):
        return f"request {self.pk} ({self.status})"


class Review(models.Model):
    """A member's score (1-5) and comment of one purchase, and how the merchant handles it."""

    class Status(models.TextChoices):
        NEW = "new", _("new")
        IN_PROGRESS = "in_progress", _("in progress")
        PROCESSED = "processed", _("processed")

    merchant = models.ForeignKey("tenancy.Merchant", on_delete=models.PROTECT, related_name="+")
    purchase = models.OneToOneField("processing.Purchase", on_delete=models.PROTECT,
                                    related_name="+")
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="+")
    # Copied from the purchase: the list filters and quality figures group by them.
    store = models.ForeignKey("tenancy.Store", null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+")
    cashier = models.ForeignKey("tenancy.Staff", null=True, blank=True,
                                on_delete=models.PROTECT, related_name="+")
    score = models.PositiveSmallIntegerField(
        _("score"), validators=[MinValueValidator(1), MaxValueValidator(5)])
    comment = models.TextField(_("comment"), blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status, default=Status.NEW)
    assigned = models.ForeignKey("tenancy.Staff", null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="+",
                                 verbose_name=_("assigned to"))
    created_at = models.DateTimeField(_("created"))
    edited_at = models.DateTimeField(_("edited"), null=True, blank=True)
    editable_until = models.DateTimeField(_("editable until"))
    last_message_at = models.DateTimeField(_("last comment"))

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("review")
        verbose_name_plural = _("reviews")
        constraints = [
            models.CheckConstraint(condition=Q(score__gte=1) & Q(score__lte=5),
                                   name="review_score_1_5"),
        ]
        indexes = [
            models.Index(fields=["merchant", "-last_message_at"], name="review_recent"),
            models.Index(fields=["merchant", "created_at"], name="review_period"),
            models.Index(fields=["merchant", "member"], name="review_member"),
        ]

    def __str__(self):
        return f"review {self.pk}: {self.score}"


class ReviewMessage(models.Model):
    """One message of a review's dialog: the member's or a staff member's, with its time."""

    class Author(models.TextChoices):
        MEMBER = "member", _("member")
        STAFF = "staff", _("staff")

    merchant = models.ForeignKey("tenancy.Merchant", on_delete=models.PROTECT, related_name="+")
    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="messages")
    author = models.CharField(_("author"), max_length=8, choices=Author)
    staff = models.ForeignKey("tenancy.Staff", null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+")
    text = models.TextField(_("text"))
    created_at = models.DateTimeField(_("time"))

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("review message")
        verbose_name_plural = _("review messages")
        indexes = [models.Index(fields=["merchant", "review", "created_at"],
                                name="reviewmessage_thread")]

    def __str__(self):
        return f"{self.author} on review {self.review_id}"


class AnswerLink(models.Model):
    """The single-use link in the SMS telling a member the shop answered: /my/r/<token>
    signs them in to the wallet on that review's dialog."""

    merchant = models.ForeignKey("tenancy.Merchant", on_delete=models.PROTECT, related_name="+")
    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("created"))
    expires_at = models.DateTimeField(_("expires"))
    used_at = models.DateTimeField(_("used"), null=True, blank=True)

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("answer link")
        verbose_name_plural = _("answer links")

    def __str__(self):
        return f"answer link {self.pk}"
