"""Messaging: the merchant's message templates and the outbox of SMS and email messages.

A `Message` is written in the same transaction as the event it tells about (the outbox), so a
rolled-back operation sends nothing and a committed one cannot be lost: a task sends it after
commit, and `deliver_due` (called by `kopilka tick`) sends whatever a lost task left behind.
Its text is rendered when it is queued, so it tells the member the figures of that moment.
"""

from datetime import time

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager


class Channel(models.TextChoices):
    SMS = "sms", _("SMS")
    EMAIL = "email", _("email")
    # A web push to the member's wallet: it carries the SMS text, sent instead of an SMS while
    # the person has a live subscription (push.py), so it has no templates of its own.
    PUSH = "push", _("push")


# The channels with templates of their own.
TEMPLATE_CHANNELS = (Channel.SMS, Channel.EMAIL)


class Event(models.TextChoices):
    """The events a merchant can send a message about (MSG-1)."""

    REGISTRATION = "registration", _("registration")
    FIRST_PURCHASE = "first_purchase", _("first purchase")
    ACCRUAL = "accrual", _("points accrued")
    REDEMPTION = "redemption", _("points spent")
    REFERRAL_ACCRUAL = "referral_accrual", _("points for a referred friend")
    GIFT = "gift", _("gift")
    TRANSFER = "transfer", _("points received from another member")
    EXPIRY_SOON = "expiry_soon", _("points expire soon")
    ACTIVATION = "activation", _("points activated")
    TIER_CHANGE = "tier_change", _("tier change")
    BIRTHDAY = "birthday", _("birthday")
    RELATIVE_BIRTHDAY = "relative_birthday", _("a relative's birthday")
    REVIEW_REQUEST = "review_request", _("review request")
    REVIEW_ANSWER = "review_answer", _("answer to a review")
    ONE_TIME_CODE = "one_time_code", _("one-time code")
    CARD_LINK = "card_link", _("link to the member's card")
    INVITATION = "invitation", _("invitation from a friend")
    OFFER = "offer", _("targeted offer")


class Settings(models.Model):
    """A merchant's messaging policy: whom transactional messages go to, and quiet hours.

    One row per merchant that changed anything; a merchant without one has the defaults
    (`services.settings_for`). Quiet hours are local to the merchant's time zone; a window whose
    end is before its start runs over midnight (21:00-09:00)."""

    class Transactional(models.TextChoices):
        # Purchase receipts and the like cost an SMS each: a merchant chooses to send them.
        OFF = "off", _("not sent")
        CONSENTED = "consented", _("to members who agreed to messages")
        ALL = "all", _("to every member")

    merchant = models.OneToOneField("tenancy.Merchant", on_delete=models.CASCADE,
                                    primary_key=True, related_name="messaging_settings")
    transactional = models.CharField(_("transactional messages"), max_length=16,
                                     choices=Transactional, default=Transactional.OFF)
    quiet_from = models.TimeField(_("quiet hours from"), default=time(21, 0))
    quiet_to = models.TimeField(_("quiet hours to"), default=time(9, 0))
    updated_at = models.DateTimeField(_("updated"))

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("messaging settings")
        verbose_name_plural = _("messaging settings")

    def __str__(self):
        return f"{self.transactional} {self.quiet_from}-{self.quiet_to}"


class Template(models.Model):
    """A merchant's own text for one event, language and channel.

    Without a row the shipped default (messaging/defaults.py) is used. A blank body or subject
    also means the shipped default, so a row can switch an event off without freezing a copy
    of the default text that would miss later improvements of it.
    """

    merchant = models.ForeignKey("tenancy.Merchant", on_delete=models.PROTECT, related_name="+")
    event = models.CharField(_("event"), max_length=32, choices=Event)
    language = models.CharField(_("language"), max_length=5, choices=settings.LANGUAGES)
    channel = models.CharField(_("channel"), max_length=8,
                               choices=[(c.value, c.label) for c in TEMPLATE_CHANNELS])
    subject = models.CharField(_("subject"), max_length=200, blank=True)  # email only
    body = models.TextField(_("text"), blank=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    updated_at = models.DateTimeField(_("updated"))

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("message template")
        verbose_name_plural = _("message templates")
        constraints = [
            models.UniqueConstraint(fields=["merchant", "event", "language", "channel"],
                                    name="template_unique"),
        ]

    def __str__(self):
        return f"{self.event} {self.language} {self.channel}"


class Message(models.Model):
    """One outgoing message: the outbox row, its delivery state and its cost."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        SENT = "sent", _("sent")  # the provider accepted it
        DELIVERED = "delivered", _("delivered")  # the provider confirmed delivery
        FAILED = "failed", _("failed")  # out of retries
        REFUSED = "refused", _("refused")  # the provider said no for good: no retry
        HELD = "held", _("held")  # the SMS money does not pay for it: waits for a top-up

    merchant = models.ForeignKey("tenancy.Merchant", on_delete=models.PROTECT, related_name="+")
    member = models.ForeignKey("members.Member", null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="+")
    event = models.CharField(_("event"), max_length=32, choices=Event)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel)
    recipient = models.CharField(_("recipient"), max_length=254)  # E.164 phone or email
    language = models.CharField(_("language"), max_length=5, choices=settings.LANGUAGES)
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body = models.TextField(_("text"))
    status = models.CharField(_("status"), max_length=16, choices=Status, default=Status.QUEUED)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    # When a worker may (next) send it. While a worker is sending, this is pushed a lease ahead,
    # which is what keeps a second worker off the row.
    next_attempt_at = models.DateTimeField(_("next attempt"))
    provider = models.CharField(_("provider"), max_length=50, blank=True)
    provider_id = models.CharField(_("provider id"), max_length=100, blank=True)
    parts = models.PositiveSmallIntegerField(_("parts"), default=1)  # SMS segments billed
    # What SMS billing charged for it (billing.py), minor units of settings.SMS_CURRENCY; 0 when
    # free parts paid it, for email, and after a refund.
    cost = models.BigIntegerField(_("cost"), default=0)
    error = models.CharField(_("error"), max_length=500, blank=True)  # the last one
    created_at = models.DateTimeField(_("created"))
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        indexes = [
            models.Index(fields=["merchant", "-created_at"], name="message_log"),
            models.Index(fields=["merchant", "member", "-created_at"], name="message_member"),
            models.Index(fields=["merchant", "status"], name="message_status"),
            # deliver_due's scan across merchants: only the queued rows, by when they are due.
            models.Index(fields=["next_attempt_at"], condition=Q(status="queued"),
                         name="message_due"),
        ]

    def __str__(self):
        return f"{self.event} {self.channel} #{self.pk}"


class MessagePart(models.Model):
    """One part of a sent message as its provider knows it: the provider's id for that part,
    which its delivery receipt names, and what the receipt said (kopilka/messaging/receipts.py).

    Written with the message's `sent` status, one row per id the backend returned, numbered in
    submission order; a message is delivered when every part is, and failed by its first failed
    part. A receipt names no merchant, so it finds its part by (provider, provider_id): that
    index is the receipt's whole look-up."""

    merchant = models.ForeignKey("tenancy.Merchant", on_delete=models.PROTECT, related_name="+")
    message = models.ForeignKey(Message, on_delete=models.CASCADE,
                                related_name="provider_parts")
    number = models.PositiveSmallIntegerField(_("part"))  # 1-based, submission order
    provider = models.CharField(_("provider"), max_length=50)
    provider_id = models.CharField(_("provider id"), max_length=100)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=500, blank=True)  # its failed receipt's

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("message part")
        verbose_name_plural = _("message parts")
        constraints = [
            models.UniqueConstraint(fields=["message", "number"], name="messagepart_once"),
        ]
        indexes = [
            models.Index(fields=["provider", "provider_id"], name="messagepart_receipt"),
        ]

    def __str__(self):
        return f"{self.message_id}/{self.number}: {self.provider} {self.provider_id}"


class SmsAccount(models.Model):
    """A merchant's prepaid SMS money (MSG-4), in the platform's billing currency
    (settings.SMS_CURRENCY), and what happens to its messages when the money is out.

    Created on first use (`billing.account`) with the platform's free quota. Only `billing`
    changes `balance` and `free_parts`, each time with an `SmsEntry` in the same transaction.
    The balance is negative only when the merchant chose to send transactional messages on
    credit (`transactional_when_empty = send`); the next top-up pays that debt first."""

    class WhenEmpty(models.TextChoices):
        HOLD = "hold", _("hold them until a top-up")
        SEND = "send", _("send them on credit")

    merchant = models.OneToOneField("tenancy.Merchant", on_delete=models.CASCADE,
                                    primary_key=True, related_name="sms_account")
    balance = models.BigIntegerField(_("balance"), default=0)  # money minor units
    free_parts = models.PositiveIntegerField(_("free SMS parts left"))
    # The price of one SMS part in minor units; empty: the platform's (settings.SMS_PRICE).
    price_per_part = models.PositiveIntegerField(
        _("price per SMS part"), null=True, blank=True,
        help_text=_("Minor units of the billing currency; empty: the platform's price"))
    transactional_when_empty = models.CharField(
        _("transactional messages when the money is out"), max_length=8, choices=WhenEmpty,
        default=WhenEmpty.HOLD)
    # When messages began to be held for want of money (the owners were told then); cleared
    # by the top-up that releases them all. One notice per exhaustion.
    exhausted_at = models.DateTimeField(_("money ran out"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated"))

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("SMS account")
        verbose_name_plural = _("SMS accounts")

    def __str__(self):
        return f"{self.merchant_id}: {self.balance}"


class SmsEntry(models.Model):
    """One change of an SMS account: a charge for a message, a refund of it, or a top-up.
    Append-only; `balance_after` and `free_parts_after` replay the account's history.

    Signs follow the account: a charge has a negative `amount` and `free_parts` (the free
    parts it used) and positive `parts`; its refund mirrors it exactly. So the sums over any
    period are the money, free parts, parts and messages spent in it (costs by topic)."""

    class Kind(models.TextChoices):
        CHARGE = "charge", _("charge")
        REFUND = "refund", _("refund")
        TOP_UP = "top_up", _("top-up")

    merchant = models.ForeignKey("tenancy.Merchant", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("kind"), max_length=8, choices=Kind)
    amount = models.BigIntegerField(_("amount"))  # money minor units, signed
    free_parts = models.IntegerField(_("free parts"), default=0)  # change of the quota, signed
    parts = models.IntegerField(_("parts"), default=0)  # SMS parts paid for: charge +, refund -
    balance_after = models.BigIntegerField(_("balance after"))
    free_parts_after = models.PositiveIntegerField(_("free parts after"))
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.PROTECT,
                                related_name="+")
    # The message's event, copied for the costs by topic (no choices: a new event must not
    # need a migration of the statement).
    event = models.CharField(_("event"), max_length=32, blank=True)
    reference = models.CharField(_("reference"), max_length=200, blank=True)  # a top-up's note
    actor = models.CharField(_("by"), max_length=200)  # "system" for charges and refunds
    created_at = models.DateTimeField(_("at"))

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("SMS account entry")
        verbose_name_plural = _("SMS account entries")
        indexes = [
            models.Index(fields=["merchant", "-id"], name="smsentry_history"),
            models.Index(fields=["merchant", "created_at"], name="smsentry_period"),
        ]
        constraints = [
            # A message is charged at most once and refunded at most once, whatever the
            # workers do: the database says no to a second one.
            models.UniqueConstraint(fields=["message", "kind"], name="smsentry_once",
                                    condition=Q(message__isnull=False)),
        ]

    def __str__(self):
        return f"{self.kind} {self.amount}"


class PushSubscription(models.Model):
    """One browser's web push subscription (the wallet on a phone), for a person: messages to
    any of their memberships go there instead of an SMS while it is live. Not a tenant row: a
    person's wallet holds all their merchants, and no merchant reads it."""

    person = models.ForeignKey("members.Person", on_delete=models.CASCADE, related_name="+")
    endpoint = models.URLField(_("endpoint"), max_length=1000, unique=True)
    p256dh = models.CharField(max_length=100)  # the browser's public key (base64url)
    auth = models.CharField(max_length=40)  # the browser's auth secret (base64url)
    user_agent = models.CharField(_("browser"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created"))
    last_sent_at = models.DateTimeField(_("last sent"), null=True, blank=True)
    # The push service said the subscription is gone (404/410), or the person switched it off.
    gone_at = models.DateTimeField(_("gone"), null=True, blank=True)

    class Meta:
        verbose_name = _("push subscription")
        verbose_name_plural = _("push subscriptions")
        indexes = [models.Index(fields=["person", "-created_at"], condition=Q(gone_at=None),
                                name="push_live")]

    def __str__(self):
        return f"push {self.pk} of person {self.person_id}"
