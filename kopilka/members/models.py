"""Members: a global phone identity (Person) and its memberships in merchants (Member).

One person, many merchants (MEM-4): the phone is unique platform-wide on Person, while every
merchant keeps its own Member row with its own profile, cards and consents.
"""

import secrets

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django_scopes import ScopedManager
from phonenumber_field.modelfields import PhoneNumberField

from kopilka.core.phones import mask_phone


def new_qr_token() -> str:
    return secrets.token_urlsafe(18)

class Person(models.Model):
    """A phone number's owner, shared by their memberships at every merchant.

    A person without a phone is a tombstone: an erased member (members.services.erase_member)
    is re-pointed to a fresh one, so the number no longer leads to them and can register again.
    NULLs never collide in the unique index, so any number of tombstones can exist.
    """

    phone = PhoneNumberField(_("phone"), unique=True, null=True, blank=True)
    verified_at = models.DateTimeField(_("phone verified"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"))
    # The person's short pseudonym (MEM-4), as typed: told at any merchant's counter instead of
    # the phone number. `alias_key` is it case-folded in Python (SQLite's lower() knows only
    # ASCII), unique platform-wide (members/aliases.py).
    alias = models.CharField(_("alias"), max_length=16, null=True, blank=True)
    alias_key = models.CharField(max_length=64, null=True, blank=True, unique=True,
                                 editable=False)

    class Meta:
        verbose_name = _("person")
        verbose_name_plural = _("people")

    def __str__(self):
        # Masked: a person's str() lands in lists, logs and widgets; the full number is shown
        # only where a role allows it, explicitly.
        return mask_phone(str(self.phone)) if self.phone else str(_("erased"))

class Member(models.Model):
    class Gender(models.TextChoices):
        UNKNOWN = "", _("not stated")
        FEMALE = "female", _("female")
        MALE = "male", _("male")

    class Status(models.TextChoices):
        ACTIVE = "active", _("active")
        BLOCKED = "blocked", _("blocked")
        LEFT = "left", _("left the program")
        ERASED = "erased", _("erased")

    class Channel(models.TextChoices):
        CASHIER = "cashier", _("at the counter")
        SELF = "self", _("self-registration")
        API = "api", _("API")
        IMPORT = "import", _("import")
        OPERATOR = "operator", _("operator")

    merchant = models.ForeignKey("tenancy.Merchant", on_delete=models.PROTECT, related_name="+")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="memberships")
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    gender = models.CharField(_("gender"), max_length=8, choices=Gender, blank=True, default="")
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    email = models.EmailField(_("email"), blank=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    comment = models.TextField(_("comment"), blank=True)
    tags = models.JSONField(_("tags"), default=list, blank=True)
    # The code of whoever recommended Kopilka to the member, as given at registration. Kept
    # as typed: the referral program (campaigns) rewards the referrer from it.
    referrer_code = models.CharField(_("referrer code"), max_length=40, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status, default=Status.ACTIVE)
    qr_token = models.CharField(max_length=32, unique=True, default=new_qr_token, editable=False)
    registered_at = models.DateTimeField(_("registered"))
    registered_by = models.ForeignKey(
        "tenancy.Staff", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    registered_via = models.CharField(_("registered via"), max_length=16, choices=Channel)
    # The member joined showing the merchant only their alias: staff see the alias, never the
    # phone number (messages still reach the phone through Kopilka).
    phone_hidden = models.BooleanField(_("phone hidden from staff"), default=False)

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
        constraints = [
            models.UniqueConstraint(fields=["merchant", "person"], name="member_person_unique")
        ]
        indexes = [
            models.Index(fields=["merchant", "registered_at"], name="member_registered"),
            # The cabinet's member list: one merchant's members newest first, paged by id.
            models.Index(fields=["merchant", "-id"], name="member_merchant_newest"),
        ]

    def __str__(self):
        return self.full_name or str(self.person)

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)

class Card(models.Model):
    class Kind(models.TextChoices):
        PHONE = "phone", _("phone number")
        PLASTIC = "plastic", _("plastic card")
        VIRTUAL = "virtual", _("electronic card")

    class Status(models.TextChoices):
        ACTIVE = "active", _("active")
        LOST = "lost", _("lost")
        REPLACED = "replaced", _("replaced")
        BLOCKED = "blocked", _("blocked")

    merchant = models.ForeignKey("tenancy.Merchant", on_delete=models.PROTECT, related_name="+")
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="cards")
    number = models.CharField(_("number"), max_length=40)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind)
    status = models.CharField(_("status"), max_length=16, choices=Status, default=Status.ACTIVE)
    replaced_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    issued_at = models.DateTimeField(_("issued"))

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("card")
        verbose_name_plural = _("cards")
        constraints = [
            models.UniqueConstraint(fields=["merchant", "number"], name="card_number_unique")
        ]

    def __str__(self):
        return self.number

class Relative(models.Model):
    merchant = models.ForeignKey("tenancy.Merchant", on_delete=models.PROTECT, related_name="+")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="relatives")
    # A person's name, not a thing's ("name" of a store): Russian and Ukrainian tell them apart.
    name = models.CharField(pgettext_lazy("person", "name"), max_length=100)
    relation = models.CharField(_("relation"), max_length=50, blank=True)
    birth_date = models.DateField(_("birth date"), null=True, blank=True)

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("relative")
        verbose_name_plural = _("relatives")
        indexes = [models.Index(fields=["merchant", "member"], name="relative_member")]

    def __str__(self):
        return self.name

class Consent(models.Model):
    """What the member agreed to, which text version, when and how. Revoking keeps the row."""

    class Kind(models.TextChoices):
        MESSAGES = "messages", _("messages")
        PERSONAL_DATA = "personal_data", _("personal data processing")

    class Evidence(models.TextChoices):
        NONE = "", _("not confirmed")
        # The customer typed the code sent to the phone while giving the consent (MEM-1).
        ONE_TIME_CODE = "one_time_code", _("confirmed with a one-time code")

    merchant = models.ForeignKey("tenancy.Merchant", on_delete=models.PROTECT, related_name="+")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="consents")
    kind = models.CharField(_("consent to"), max_length=20, choices=Kind)
    text_version = models.CharField(_("text version"), max_length=40)
    channel = models.CharField(_("channel"), max_length=16, choices=Member.Channel)
    granted_at = models.DateTimeField(_("granted"))
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    evidence = models.CharField(_("evidence"), max_length=20, choices=Evidence, blank=True,
                                default=Evidence.NONE)
    # The code that confirmed it. The evidence kind stays if code rows are ever purged.
    one_time_code = models.ForeignKey("codes.OneTimeCode", null=True, blank=True,
                                      on_delete=models.SET_NULL, related_name="+")

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("consent")
        verbose_name_plural = _("consents")
        indexes = [models.Index(fields=["merchant", "member", "kind"], name="consent_member_kind")]

    def __str__(self):
        return f"{self.kind} {self.text_version}"

class Segment(models.Model):
    """A named member filter saved from the cabinet's member list (#16): the targeted offers
    send to it. `filters` holds the list's own fields (members/segments.py), relative ones
    ("last purchase 30+ days ago", "aged 25-35") as such, so the segment moves with time."""

    merchant = models.ForeignKey("tenancy.Merchant", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(_("name"), max_length=100)
    filters = models.JSONField(_("filters"), default=dict)
    created_by = models.ForeignKey(
        "tenancy.Staff", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created"))

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        constraints = [
            models.UniqueConstraint(fields=["merchant", "name"], name="segment_name_unique")
        ]

    def __str__(self):
        return self.name
