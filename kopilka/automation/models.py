"""What the scheduled jobs remember, so that nothing they do happens twice.

Two levels of "exactly once" (inactivity chains keep theirs in WinbackContact):

* `JobRun` — one row per (merchant, job, local day), inserted to claim the run. A second tick,
  or one overlapping the first, fails to insert it and leaves the day alone.
* `Effect` — one row per member effect (a birthday gift for a year, a reminder for an expiry
  date), written in the same transaction as the effect itself. A run that died half-way is
  taken over later (see schedule.py); the members whose effect row exists are skipped, so the
  rest is finished without doubling anything.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager


class JobRun(models.Model):
    merchant = models.ForeignKey("tenancy.Merchant", on_delete=models.PROTECT, related_name="+")
    job = models.CharField(_("job"), max_length=40)
    day = models.DateField(_("local day"))  # in the merchant's time zone
    started_at = models.DateTimeField(_("started"))
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    counts = models.JSONField(_("counts"), default=dict, blank=True)  # what the run did

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("job run")
        verbose_name_plural = _("job runs")
        constraints = [
            models.UniqueConstraint(fields=["merchant", "job", "day"], name="jobrun_unique"),
        ]
        # The tick's look-up of the runs already claimed, across merchants, by day.
        indexes = [models.Index(fields=["day", "job"], name="jobrun_day")]

    def __str__(self):
        return f"{self.job} {self.day} #{self.merchant_id}"


class Effect(models.Model):
    class Kind(models.TextChoices):
        BIRTHDAY_GIFT = "birthday_gift", _("birthday gift")  # key: the year
        EXPIRY_REMINDER = "expiry_reminder", _("expiry reminder")  # key: the last valid day
        # key: "year:relative id" — once a year per relative
        RELATIVE_BIRTHDAY_GIFT = "relative_birthday", _("relative's birthday gift")
        ACTIVATION_NOTICE = "activation_notice", _("activation notice")  # key: the local day

    merchant = models.ForeignKey("tenancy.Merchant", on_delete=models.PROTECT, related_name="+")
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("kind"), max_length=20, choices=Kind)
    key = models.CharField(_("key"), max_length=20)
    created_at = models.DateTimeField(_("created"))

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("automation effect")
        verbose_name_plural = _("automation effects")
        constraints = [
            models.UniqueConstraint(fields=["merchant", "kind", "key", "member"],
                                    name="effect_unique"),
        ]

    def __str__(self):
        return f"{self.kind} {self.key} member {self.member_id}"


class WinbackContact(models.Model):
    """One step of an inactivity chain done for a member in one absence (AUT-2): the record
    that keeps the step from being done twice, and the win-back contact analytics counts.

    An absence starts at the member's last purchase (their registration if they never
    bought); a new purchase starts a new absence, so the chain starts over. The row is
    written in the transaction of the gift and message, before them.
    """

    merchant = models.ForeignKey("tenancy.Merchant", on_delete=models.PROTECT, related_name="+")
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="+")
    chain = models.CharField(_("chain"), max_length=64)  # the chain's code
    step = models.PositiveSmallIntegerField(_("step"))  # its index in the chain, from 0
    absence_started_at = models.DateTimeField(_("absent since"))
    at = models.DateTimeField(_("contacted"))
    sent = models.BooleanField(_("message queued"), default=False)
    message = models.ForeignKey("messaging.Message", null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="+")
    points = models.BigIntegerField(_("gift points"), default=0)
    # Purchases up to this moment count as won back by this contact: the window in force
    # when the contact was made.
    attributable_until = models.DateTimeField(_("counts purchases until"))

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("win-back contact")
        verbose_name_plural = _("win-back contacts")
        constraints = [
            models.UniqueConstraint(fields=["merchant", "member", "absence_started_at", "step"],
                                    name="contact_once_per_absence"),
        ]
        indexes = [
            models.Index(fields=["merchant", "at"], name="contact_merchant_time"),
            models.Index(fields=["member", "at"], name="contact_member_time"),
        ]

    def __str__(self):
        return f"{self.chain} step {self.step} member {self.member_id}"

    @property
    def reached(self) -> bool:
        """Whether the member got anything: a message or a gift."""
        return self.sent or self.points > 0


class WinbackPurchase(models.Model):
    """A purchase that followed a win-back contact within the contact's window: attributed
    once, to the latest contact before it (winback.attribute)."""

    merchant = models.ForeignKey("tenancy.Merchant", on_delete=models.PROTECT, related_name="+")
    purchase = models.OneToOneField("processing.Purchase", on_delete=models.PROTECT,
                                    related_name="+")
    contact = models.ForeignKey(WinbackContact, on_delete=models.PROTECT,
                                related_name="purchases")
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="+")
    occurred_at = models.DateTimeField(_("time of sale"))  # the purchase's, for date ranges
    attributed_at = models.DateTimeField(_("attributed"))

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("won-back purchase")
        verbose_name_plural = _("won-back purchases")
        indexes = [models.Index(fields=["merchant", "occurred_at"], name="wonback_merchant_time")]

    def __str__(self):
        return f"purchase {self.purchase_id} by contact {self.contact_id}"
