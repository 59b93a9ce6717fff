"""What the scheduled jobs remember, so that nothing they do happens twice.

Two levels of "exactly once":

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
