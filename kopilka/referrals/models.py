"""Referrals (CMP-3): each member's personal code, who recommended whom, the rewards paid
for it, and the invitations members sent by SMS."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager


class Code(models.Model):
    """A member's personal referral code: what the link and the QR carry (made on first use)."""

    merchant = models.ForeignKey("tenancy.Merchant", on_delete=models.PROTECT, related_name="+")
    member = models.OneToOneField("members.Member", on_delete=models.PROTECT,
                                  related_name="referral_code")
    code = models.CharField(_("referral code"), max_length=16)
    created_at = models.DateTimeField(_("created"))

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("referral code")
        verbose_name_plural = _("referral codes")
        constraints = [models.UniqueConstraint(fields=["merchant", "code"],
                                               name="referral_code_unique")]

    def __str__(self):
        return self.code


class Referral(models.Model):
    """The newcomer registered on the referrer's recommendation (level 1 of the chain)."""

    merchant = models.ForeignKey("tenancy.Merchant", on_delete=models.PROTECT, related_name="+")
    newcomer = models.OneToOneField("members.Member", on_delete=models.PROTECT,
                                    related_name="referred_by")
    referrer = models.ForeignKey("members.Member", on_delete=models.PROTECT,
                                 related_name="referred")
    #: What the newcomer or the cashier typed: a code, a phone or a card number.
    given = models.CharField(_("referrer as given"), max_length=40)
    registered_at = models.DateTimeField(_("registered"))

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("referral")
        verbose_name_plural = _("referrals")
        indexes = [models.Index(fields=["merchant", "registered_at"], name="referral_time")]

    def __str__(self):
        return f"{self.referrer_id} -> {self.newcomer_id}"


class Reward(models.Model):
    """Points paid for a recommendation: the newcomer's gift (level 0) or a referrer's reward
    for a friend's purchase (level 1 = the friend's own referrer, 2 = theirs, ...). The ledger
    entries carry the cause "referral" with this row's id."""

    merchant = models.ForeignKey("tenancy.Merchant", on_delete=models.PROTECT, related_name="+")
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="+")
    friend = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="+")
    purchase = models.ForeignKey("processing.Purchase", null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="+")
    level = models.PositiveSmallIntegerField(_("level"))
    points = models.BigIntegerField(_("points"))
    #: Taken back by refunds of the purchase, in proportion (what the ledger could recover).
    reversed = models.BigIntegerField(_("points reversed"), default=0)
    #: What refunds meant to take back (the proportional target; `reversed` may be less if
    #: the member had spent them).
    reversal_target = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(_("created"))

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("referral reward")
        verbose_name_plural = _("referral rewards")
        constraints = [
            models.UniqueConstraint(fields=["purchase", "level"], name="reward_once_per_level",
                                    condition=Q(purchase__isnull=False)),
            models.UniqueConstraint(fields=["friend"], name="reward_newcomer_once",
                                    condition=Q(level=0)),
            models.CheckConstraint(condition=Q(points__gt=0), name="reward_points_gt_0"),
        ]
        indexes = [models.Index(fields=["merchant", "created_at"], name="reward_time")]

    def __str__(self):
        return f"reward {self.pk}: {self.points} to {self.member_id} (level {self.level})"


class Invitation(models.Model):
    """A member invited a friend by SMS (the link carries the member's code)."""

    merchant = models.ForeignKey("tenancy.Merchant", on_delete=models.PROTECT, related_name="+")
    inviter = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="+")
    phone = models.CharField(_("phone"), max_length=20)
    sent_at = models.DateTimeField(_("sent"))

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        indexes = [models.Index(fields=["inviter", "sent_at"], name="invitation_inviter")]

    def __str__(self):
        return f"{self.inviter_id} -> {self.phone}"
