"""Tenancy: the merchant (tenant) and what belongs to it directly.

Every tenant-owned row carries `merchant` and uses django-scopes' `ScopedManager`: a query
outside `scope(merchant=...)` raises instead of silently reading every merchant's rows.
"""

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager


def validate_country(value: str) -> None:
    """A region whose phone numbers phonenumbers knows (ISO 3166 alpha-2, upper case): the
    merchant's country is the default region of every national number it is given, and an
    unknown one ("ZZ") makes every such number unparseable."""
    if value not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationError(
            gettext("%(country)r is not an ISO 3166 country code with a phone numbering "
                    "plan (e.g. RU, UA, KZ).") % {"country": value},
            code="country",
        )


class Merchant(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("active")
        SUSPENDED = "suspended", _("suspended")
        CLOSED = "closed", _("closed")

    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=60, unique=True)
    currency = models.CharField(_("currency"), max_length=3, help_text=_("ISO 4217 code"))
    timezone = models.CharField(_("time zone"), max_length=64)
    language = models.CharField(_("language"), max_length=5, choices=settings.LANGUAGES)
    country = models.CharField(
        _("country"), max_length=2, validators=[validate_country],
        help_text=_("Default region for phone numbers (ISO 3166)"),
    )
    status = models.CharField(_("status"), max_length=16, choices=Status, default=Status.ACTIVE)
    created_at = models.DateTimeField(_("created"))
    # Branding on the member's pages (tenancy/branding.py): a colour (#rrggbb, or blank for
    # Kopilka's own) and a logo, re-encoded by core/images.py and named by its token.
    brand_colour = models.CharField(_("brand colour"), max_length=7, blank=True)
    logo = models.CharField(_("logo"), max_length=32, blank=True)

    class Meta:
        verbose_name = _("merchant")
        verbose_name_plural = _("merchants")
        ordering = ["name"]

    def __str__(self):
        return self.name


class Store(models.Model):
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="stores")
    name = models.CharField(_("name"), max_length=200)
    address = models.CharField(_("address"), max_length=300, blank=True)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"))

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("store")
        verbose_name_plural = _("stores")
        ordering = ["merchant", "name"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "name"], name="store_name_unique")
        ]

    def __str__(self):
        return self.name


class Staff(models.Model):
    """A Django user's membership in one merchant, with a role."""

    class Role(models.TextChoices):
        OWNER = "owner", _("owner")
        ADMIN = "admin", _("administrator")
        MANAGER = "manager", _("manager")
        CASHIER = "cashier", _("cashier")

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="staff")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="memberships"
    )
    role = models.CharField(_("role"), max_length=16, choices=Role)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"))
    # The personal PIN a staff member switches in with at a counter device (tenancy/counter.py):
    # a Django password hash, and a lock after too many wrong PINs in a row.
    pin_hash = models.CharField(_("counter PIN"), max_length=128, blank=True)
    pin_failures = models.PositiveSmallIntegerField(_("wrong PINs in a row"), default=0)
    pin_locked_until = models.DateTimeField(_("PIN locked until"), null=True, blank=True)

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("staff member")
        verbose_name_plural = _("staff")
        constraints = [
            models.UniqueConstraint(fields=["merchant", "user"], name="staff_user_unique")
        ]

    def __str__(self):
        return f"{self.user.email} ({self.get_role_display()})"


class KeyFields(models.Model):
    """A secret shown once: stored as a hash, found by its visible prefix."""

    key_prefix = models.CharField(_("key prefix"), max_length=8, unique=True)
    key_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(_("created"))
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        abstract = True


class Terminal(KeyFields):
    """A POS device or cash-register integration; authenticates with its own API key.

    A browser counter (the cashier workplace on a tablet or a PC) is a terminal too: a manager
    signs the device in for a store once, and its key then lives in the device's cookie."""

    class Kind(models.TextChoices):
        API = "api", _("POS API")
        BROWSER = "browser", _("browser counter")

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="terminals")
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="terminals")
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind, default=Kind.API)

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("terminal")
        verbose_name_plural = _("terminals")
        indexes = [models.Index(fields=["merchant", "store"], name="terminal_merchant_store")]

    def __str__(self):
        return f"{self.name} ({self.key_prefix})"


class ApiToken(KeyFields):
    """A management API token acting on behalf of one staff member."""

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="api_tokens")
    staff = models.ForeignKey(Staff, on_delete=models.PROTECT, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=200)

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("management API token")
        verbose_name_plural = _("management API tokens")
        indexes = [models.Index(fields=["merchant", "staff"], name="apitoken_merchant_staff")]

    def __str__(self):
        return f"{self.name} ({self.key_prefix})"


class Invitation(models.Model):
    """An offer to work for a merchant with a role, sent to an email address.

    Adding staff by email gives the merchant an invitation, never a user: the person becomes
    staff only by accepting it with the secret key that went to that address (and, for an
    address that has an account already, that account's password). So the merchant learns
    nothing about other merchants' people, and nobody becomes someone's staff unasked. The key
    is stored as a hash, found by its visible prefix, like API keys."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        ACCEPTED = "accepted", _("accepted")
        REVOKED = "revoked", _("revoked")

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="invitations")
    email = models.EmailField(_("email"))
    role = models.CharField(_("role"), max_length=16, choices=Staff.Role)
    key_prefix = models.CharField(_("key prefix"), max_length=8, unique=True)
    key_hash = models.CharField(max_length=64)
    status = models.CharField(_("status"), max_length=16, choices=Status, default=Status.PENDING)
    invited_by = models.ForeignKey(Staff, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", help_text=_("Empty: the operator"))
    staff = models.ForeignKey(Staff, on_delete=models.PROTECT, null=True, blank=True,
                              related_name="+", help_text=_("The membership it made"))
    wrong_passwords = models.PositiveSmallIntegerField(_("wrong passwords"), default=0)
    created_at = models.DateTimeField(_("created"))
    expires_at = models.DateTimeField(_("valid until"))
    decided_at = models.DateTimeField(_("accepted or revoked"), null=True, blank=True)

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("staff invitation")
        verbose_name_plural = _("staff invitations")
        constraints = [
            # One live invitation per address: inviting again replaces it.
            models.UniqueConstraint(fields=["merchant", "email"], name="invitation_pending_unique",
                                    condition=models.Q(status="pending")),
        ]
        indexes = [models.Index(fields=["merchant", "created_at"],
                                name="invitation_merchant_created")]

    def __str__(self):
        return f"{self.email} ({self.get_role_display()}, {self.get_status_display()})"

    def state(self, now) -> str:
        """pending, accepted, revoked, or expired (a pending one past `expires_at`)."""
        if self.status == self.Status.PENDING and now >= self.expires_at:
            return "expired"
        return self.status
