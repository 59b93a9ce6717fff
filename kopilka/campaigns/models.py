"""Secret-code campaigns (CMP-1).

- `Campaign`: what a code gives (points), when, how often a member may activate, what the
  member reads after activating.
- `CodeBatch`: one print run of codes for a campaign: how many, how they look (length,
  alphabet, prefix, check character). Its plain codes live in `sheet` (compressed) only until
  the one download for the printer; then `sheet` is emptied and only hashes remain.
- `SecretCode`: one printed code, stored only as a keyed hash (`digest`, HMAC-SHA256 with a key
  derived from SECRET_KEY, first 16 bytes): a stolen database gives no code away. Unique per
  merchant; the index starts with the digest so an SMS (which names no merchant) finds it too.
- `Activation`: a code used by a member, at most once (one-to-one with the code: the database
  refuses a second, whatever races). Its id is the ledger cause `campaign_code <id>`.
- `PromoCode`, `PromoUse`: promo codes (campaigns/promo.py), a word given with one sale that
  switches on an accrual rule for it, and each sale that used one.
- `Guess`: a wrong code typed, scanned or texted, for the lock-outs per phone, per address and
  per campaign. Phones and addresses span merchants (a person guessing at two shops is one
  guesser), so guesses are read unscoped.

Not to be confused with `kopilka.codes` (one-time SMS codes for sign-in and confirmations).
"""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager


class Alphabet(models.TextChoices):
    # No look-alikes: 0/O, 1/I/L, 2/Z, 5/S and 8/B are left out.
    CLEAR = "346789ACDEFGHJKMNPQRTUVWXY", _("letters and digits without look-alikes")
    DIGITS = "0123456789", _("digits only")


class Campaign(models.Model):
    merchant = models.ForeignKey("tenancy.Merchant", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(_("name"), max_length=200)
    starts_on = models.DateField(_("starts on"))
    ends_on = models.DateField(_("ends on"), null=True, blank=True)
    points = models.PositiveIntegerField(_("points per code"))
    validity_days = models.PositiveIntegerField(_("points valid for, days"), null=True,
                                                blank=True)
    per_member = models.PositiveIntegerField(_("codes per member"), null=True, blank=True)
    per_day = models.PositiveIntegerField(_("codes per member a day"), null=True, blank=True)
    text = models.CharField(_("text the member sees"), max_length=500, blank=True)
    created_at = models.DateTimeField()
    storm_alerted_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(merchant="merchant")

    class Meta:
        indexes = [models.Index(fields=["merchant", "-starts_on"], name="campaign_merchant")]

    def __str__(self) -> str:
        return self.name


class CodeBatch(models.Model):
    merchant = models.ForeignKey("tenancy.Merchant", on_delete=models.PROTECT, related_name="+")
    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="batches")
    count = models.PositiveIntegerField(_("number of codes"))
    length = models.PositiveSmallIntegerField(_("length"))
    alphabet = models.CharField(_("alphabet"), max_length=40, choices=Alphabet,
                                default=Alphabet.CLEAR)
    check_char = models.BooleanField(_("check character"), default=False)
    prefix = models.CharField(_("prefix"), max_length=8, blank=True)
    points = models.PositiveIntegerField(_("points per code"), null=True, blank=True)
    created_at = models.DateTimeField()
    sheet = models.BinaryField(null=True, editable=False)  # zlib("\n".join(codes)) until download
    downloaded_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(merchant="merchant")

    class Meta:
        indexes = [models.Index(fields=["merchant", "campaign"], name="batch_campaign")]

    def __str__(self) -> str:
        return f"{self.campaign_id}/{self.pk}: {self.count}"

    @property
    def points_per_code(self) -> int:
        return self.points if self.points is not None else self.campaign.points


class SecretCode(models.Model):
    id = models.BigAutoField(primary_key=True)
    # No foreign-key constraints in the database: PostgreSQL checks deferred ones row by row at
    # commit (two per code: half the time of a million-code batch). The rows are written only
    # by create_batch, with its own merchant and batch, in the batch's transaction.
    merchant = models.ForeignKey("tenancy.Merchant", on_delete=models.DO_NOTHING,
                                 related_name="+", db_index=False, db_constraint=False)
    batch = models.ForeignKey(CodeBatch, on_delete=models.DO_NOTHING, related_name="+",
                              db_index=False, db_constraint=False)
    digest = models.BinaryField(max_length=16)

    objects = ScopedManager(merchant="merchant")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["digest", "merchant"],
                                               name="secret_code_unique")]

    def __str__(self) -> str:
        return f"code {self.pk}"  # the code itself is nowhere


class Activation(models.Model):
    class Channel(models.TextChoices):
        WALLET = "wallet", _("wallet")
        LINK = "link", _("QR link")
        SMS = "sms", _("SMS")

    merchant = models.ForeignKey("tenancy.Merchant", on_delete=models.PROTECT, related_name="+")
    code = models.OneToOneField(SecretCode, on_delete=models.PROTECT, related_name="activation")
    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="+")
    batch = models.ForeignKey(CodeBatch, on_delete=models.PROTECT, related_name="activations")
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="+")
    points = models.PositiveIntegerField()
    channel = models.CharField(max_length=8, choices=Channel)
    new_member = models.BooleanField(default=False)  # joined the merchant within a day before
    at = models.DateTimeField()

    objects = ScopedManager(merchant="merchant")

    class Meta:
        indexes = [models.Index(fields=["merchant", "member", "at"], name="activation_member"),
                   models.Index(fields=["batch", "new_member"], name="activation_batch")]

    def __str__(self) -> str:
        return f"activation {self.pk}"


class Guess(models.Model):
    """A wrong code. Not tenant-scoped: an SMS's wrong code names no merchant."""

    id = models.BigAutoField(primary_key=True)
    merchant = models.ForeignKey("tenancy.Merchant", null=True, on_delete=models.CASCADE,
                                 related_name="+")
    campaign = models.ForeignKey(Campaign, null=True, on_delete=models.CASCADE,
                                 related_name="+")
    phone = models.CharField(max_length=32, blank=True)
    ip = models.GenericIPAddressField(null=True)
    at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["phone", "at"], name="guess_phone"),
                   models.Index(fields=["ip", "at"], name="guess_ip"),
                   models.Index(fields=["campaign", "at"], name="guess_campaign")]

    def __str__(self) -> str:
        return f"guess {self.pk}"


class Offer(models.Model):
    """A targeted offer (CMP-4): an SMS to a saved segment's members, with optional gift
    points valid `validity_days`. Sent in the background in batches (campaigns/offers.py);
    `recipients` is the count promised before sending, `sent` how many have been handled."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("draft")
        SENDING = "sending", _("sending")
        SENT = "sent", _("sent")

    merchant = models.ForeignKey("tenancy.Merchant", on_delete=models.PROTECT, related_name="+")
    segment = models.ForeignKey("members.Segment", null=True, on_delete=models.SET_NULL,
                                related_name="+")
    segment_name = models.CharField(max_length=100)  # kept if the segment is deleted
    name = models.CharField(_("name"), max_length=200)
    text = models.CharField(_("SMS text"), max_length=1000)
    points = models.PositiveIntegerField(_("gift points"), default=0)
    validity_days = models.PositiveIntegerField(_("gift valid for, days"), null=True,
                                                blank=True)
    window_days = models.PositiveIntegerField(_("count purchases for, days"), default=30)
    status = models.CharField(max_length=8, choices=Status, default=Status.DRAFT)
    recipients = models.PositiveIntegerField(default=0)
    parts = models.PositiveIntegerField(default=0)  # SMS parts estimated when sending began
    cost = models.BigIntegerField(default=0)  # money minor units estimated then
    sent = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(merchant="merchant")

    class Meta:
        indexes = [models.Index(fields=["merchant", "-created_at"], name="offer_merchant")]

    def __str__(self) -> str:
        return self.name


class OfferRecipient(models.Model):
    """One member an offer reached: at most one per offer (the database refuses a second, so
    a batch run twice gives no second gift). Its id is the ledger cause `offer <id>`."""

    merchant = models.ForeignKey("tenancy.Merchant", on_delete=models.PROTECT, related_name="+")
    offer = models.ForeignKey(Offer, on_delete=models.PROTECT, related_name="deliveries")
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="+")
    message = models.ForeignKey("messaging.Message", null=True, on_delete=models.SET_NULL,
                                related_name="+")
    points = models.PositiveIntegerField(default=0)
    at = models.DateTimeField()
    until = models.DateTimeField()  # purchases up to this moment count as the offer's

    objects = ScopedManager(merchant="merchant")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["offer", "member"],
                                               name="offer_recipient_unique")]
        indexes = [models.Index(fields=["merchant", "member", "at"], name="offer_member_at")]

    def __str__(self) -> str:
        return f"offer {self.offer_id} → member {self.member_id}"


class PromoCode(models.Model):
    """A promo code (campaigns/promo.py): a word such as COFFEE2X the cashier types or scans
    with a sale, switching on one accrual rule (`rule`, a programs.config.PromoRule) for that
    purchase. Not a secret code (those grant points by themselves, once each) and not a
    one-time SMS code (`kopilka.codes`).

    `uses` counts the sales that used it and were not fully refunded; it is changed only under
    this row's lock, in the sale's or the refund's transaction, and the database refuses it
    above `max_uses`."""

    merchant = models.ForeignKey("tenancy.Merchant", on_delete=models.PROTECT, related_name="+")
    code = models.CharField(_("code"), max_length=32)  # upper case, as the cashier types it
    name = models.CharField(_("what it is for"), max_length=200, blank=True)
    rule = models.JSONField()  # programs.config.PromoRule
    starts_on = models.DateField(_("starts on"))
    ends_on = models.DateField(_("ends on"), null=True, blank=True)
    stores = models.ManyToManyField("tenancy.Store", blank=True, related_name="+")  # none: all
    min_check = models.BigIntegerField(_("minimum check"), default=0)
    max_uses = models.PositiveIntegerField(_("uses in total"), null=True, blank=True)
    per_member = models.PositiveIntegerField(_("uses per member"), null=True, blank=True)
    uses = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField()
    deactivated_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(merchant="merchant")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant", "code"], name="promo_code_unique"),
            models.CheckConstraint(
                condition=models.Q(max_uses__isnull=True)
                | models.Q(uses__lte=models.F("max_uses")),
                name="promo_code_uses_limit"),
            models.CheckConstraint(condition=models.Q(min_check__gte=0),
                                   name="promo_code_min_check"),
        ]

    def __str__(self) -> str:
        return self.code


class PromoUse(models.Model):
    """One sale that used a promo code: at most one per purchase (the database refuses a
    second). `points` is what the code added to the accrual; `returned_at` is set when the
    sale is refunded in full, which gives the use back (docs/campaigns.md)."""

    merchant = models.ForeignKey("tenancy.Merchant", on_delete=models.PROTECT, related_name="+")
    promo = models.ForeignKey(PromoCode, on_delete=models.PROTECT, related_name="used")
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="+")
    purchase = models.OneToOneField("processing.Purchase", on_delete=models.PROTECT,
                                    related_name="+")
    store = models.ForeignKey("tenancy.Store", null=True, on_delete=models.PROTECT,
                              related_name="+")
    points = models.BigIntegerField()
    at = models.DateTimeField()
    returned_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(merchant="merchant")

    class Meta:
        indexes = [models.Index(fields=["promo", "member"], name="promo_use_member"),
                   models.Index(fields=["merchant", "-at"], name="promo_use_merchant")]

    def __str__(self) -> str:
        return f"promo {self.promo_id} → purchase {self.purchase_id}"
