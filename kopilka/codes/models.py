"""One-time codes: a short number sent by SMS that proves the person at the counter holds the
phone (MEM-1 registration, ENG-6 spending confirmation).

One row per code sent. The code itself is never stored: only a keyed hash (HMAC-SHA256 with the
installation's SECRET_KEY), because a plain hash of a 6-digit number is undone offline in a
millisecond by trying all million. A code confirms one purpose for one phone at one merchant;
asking again replaces the previous code (`replaced_at`), so at most one code per phone and
purpose is live — a partial unique index holds that even for two requests at the same moment.
The rows double as the rate-limit counters: limits count the rows of a phone, a terminal or an
address within a window (services.py), so they hold across processes without a shared cache.
"""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager
from phonenumber_field.modelfields import PhoneNumberField

from kopilka.core.phones import mask_phone


class Purpose(models.TextChoices):
    """What a code confirms. A code confirms only its own purpose: a code sent to confirm
    spending never registers anyone.

    WALLET is the member wallet's (`/my/`): the person proves they hold the phone to sign in
    or to confirm an erasure there. The wallet spans merchants, but an SMS is always some
    merchant's (its sender, its cost), so a wallet code is sent by one of the person's
    merchants; its per-phone limits and its live code count across merchants (services.py)."""

    REGISTRATION = "registration", _("registration")
    SPENDING = "spending", _("spending points")
    WALLET = "wallet", _("member wallet")


class OneTimeCode(models.Model):
    merchant = models.ForeignKey("tenancy.Merchant", on_delete=models.PROTECT, related_name="+")
    phone = PhoneNumberField(_("phone"))
    purpose = models.CharField(_("purpose"), max_length=20, choices=Purpose)
    # Whose points a spending code unlocks; none for a registration (no member yet).
    member = models.ForeignKey("members.Member", null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="+")
    code_hash = models.CharField(max_length=64, editable=False)  # services.digest()
    attempts_left = models.PositiveSmallIntegerField(_("attempts left"))
    created_at = models.DateTimeField(_("created"))
    expires_at = models.DateTimeField(_("expires"))
    used_at = models.DateTimeField(_("used"), null=True, blank=True)
    replaced_at = models.DateTimeField(_("replaced"), null=True, blank=True)
    # Who asked: the POS terminal, and the client address (for callers without a terminal the
    # address is what the per-client limit counts).
    terminal = models.ForeignKey("tenancy.Terminal", null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="+")
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    # The SMS that carried it (its text holds the code until the outbox row is purged).
    message = models.ForeignKey("messaging.Message", null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="+")

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("one-time code")
        verbose_name_plural = _("one-time codes")
        constraints = [
            # One live code per phone and purpose: asking again replaces the previous one.
            models.UniqueConstraint(
                fields=["merchant", "phone", "purpose"],
                condition=Q(used_at__isnull=True, replaced_at__isnull=True),
                name="code_one_live",
            ),
        ]
        indexes = [
            models.Index(fields=["merchant", "phone", "-created_at"], name="code_phone_recent"),
            models.Index(fields=["merchant", "terminal", "-created_at"],
                         name="code_terminal_recent"),
            # Not by merchant first: one address flooding many merchants is one client.
            models.Index(fields=["ip", "-created_at"], name="code_ip_recent"),
        ]

    def __str__(self):
        # Masked: str() lands in lists and logs.
        return f"{self.purpose} {mask_phone(str(self.phone))}"
