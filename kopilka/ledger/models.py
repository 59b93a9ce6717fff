"""The points ledger: Account, Lot, Entry.

Design overview
---------------
* A `Lot` is one grant of points (a purchase's accrual, a gift, a transfer in, a manual grant,
  points returned by a refund). It knows when it becomes spendable (`available_at`) and when it
  expires (`expires_at`), and how much of it is left (`remaining`).
* An `Entry` is an append-only journal row for one change of one lot: accrue, activate, redeem,
  expire, reverse, return, transfer, adjust. It carries two deltas — to the spendable
  (`available_delta`) and to the not-yet-active (`pending_delta`) balance — and a SHA-256 hash
  over its content and the previous entry's hash of the same account, so history cannot be
  edited or removed without `kopilka verify-ledger` noticing.
* The `Account` caches `available` and `pending` as of the last write. Invariants, checked by
  database constraints, property tests and `verify-ledger`:
      available == sum(entries.available_delta) == sum(remaining of activated lots) >= 0
      pending   == sum(entries.pending_delta)   == sum(remaining of pending lots)   >= 0
      0 <= lot.remaining <= lot.amount,  lot.remaining == sum(its entries' deltas)
* A `Hold` (pending-out) sets points aside for something the member will collect later (a
  reward order): they stay in `available` and in their lots, but nothing else may spend them.
  `Account.held` caches the sum of the open holds; what spending sees is `available - held`.
  A hold ends captured (its points spent then, from the lots in the usual order, as REDEEM
  entries of its cause) or released (cancelled, or lapsed at `expires_at`). A hold changes no
  balance, so it writes no entry; verify-ledger checks `held == sum(open holds)`.
* Time-dependent state (activation, expiry) is applied ("materialised") at the start of every
  write, under the account lock; reads compute it from the lots at the moment asked, so a
  balance is right even if no scheduled job has run.
"""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager


class Account(models.Model):
    merchant = models.ForeignKey("tenancy.Merchant", on_delete=models.PROTECT, related_name="+")
    member = models.OneToOneField(
        "members.Member", on_delete=models.PROTECT, related_name="account"
    )
    available = models.BigIntegerField(_("available points"), default=0)
    pending = models.BigIntegerField(_("pending points"), default=0)
    held = models.BigIntegerField(_("held points"), default=0)  # sum of the open holds
    # Purchase statistics the program's rules read (tiers, hints, inactivity expiry).
    lifetime_spend = models.BigIntegerField(_("lifetime spend"), default=0)
    purchase_count = models.IntegerField(_("purchases"), default=0)
    last_purchase_at = models.DateTimeField(_("last purchase"), null=True, blank=True)
    tier_code = models.CharField(_("tier"), max_length=40, blank=True)
    tier_manual = models.BooleanField(_("tier assigned manually"), default=False)
    # "N days after the last purchase" expiry: every lot expires at this moment at the latest.
    inactivity_deadline = models.DateTimeField(null=True, blank=True)
    # Hash chain head: the next entry's seq and prev_hash come from here (no scan needed).
    entry_seq = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="")
    updated_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("points account")
        verbose_name_plural = _("points accounts")
        constraints = [
            models.CheckConstraint(condition=Q(available__gte=0), name="account_available_gte_0"),
            models.CheckConstraint(condition=Q(pending__gte=0), name="account_pending_gte_0"),
            models.CheckConstraint(condition=Q(held__gte=0), name="account_held_gte_0"),
            models.CheckConstraint(
                condition=Q(lifetime_spend__gte=0), name="account_lifetime_spend_gte_0"
            ),
        ]
        indexes = [models.Index(fields=["merchant", "tier_code"], name="account_merchant_tier")]

    def __str__(self):
        return f"account {self.pk}: {self.available} (+{self.pending} pending)"


class Lot(models.Model):
    class Kind(models.TextChoices):
        ACCRUAL = "accrual", _("purchase accrual")
        WELCOME = "welcome", _("welcome bonus")
        GIFT = "gift", _("gift")
        REFERRAL = "referral", _("referral reward")
        CODE = "code", _("secret code")
        TRANSFER_IN = "transfer_in", _("received from a friend")
        ADJUSTMENT = "adjustment", _("manual grant")
        RETURN = "return", _("returned by a refund")

    merchant = models.ForeignKey("tenancy.Merchant", on_delete=models.PROTECT, related_name="+")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="lots")
    kind = models.CharField(_("kind"), max_length=16, choices=Kind)
    amount = models.BigIntegerField(_("amount"))
    remaining = models.BigIntegerField(_("remaining"))
    available_at = models.DateTimeField(_("spendable from"))
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    activated = models.BooleanField(default=False)  # counted in available (True) or pending
    created_at = models.DateTimeField(_("created"))

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("points lot")
        verbose_name_plural = _("points lots")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="lot_amount_gt_0"),
            models.CheckConstraint(condition=Q(remaining__gte=0), name="lot_remaining_gte_0"),
            models.CheckConstraint(
                condition=Q(remaining__lte=models.F("amount")), name="lot_remaining_lte_amount"
            ),
        ]
        indexes = [
            # Open lots of an account: what spending, expiry and balance reads scan.
            models.Index(
                fields=["account", "expires_at"], condition=Q(remaining__gt=0), name="lot_open"
            ),
            models.Index(fields=["merchant", "expires_at"], name="lot_merchant_expiry"),
        ]

    def __str__(self):
        return f"lot {self.pk}: {self.remaining}/{self.amount} {self.kind}"


class Entry(models.Model):
    class Kind(models.TextChoices):
        ACCRUE = "accrue", _("accrued")
        ACTIVATE = "activate", _("became spendable")
        REDEEM = "redeem", _("spent")
        EXPIRE = "expire", _("expired")
        REVERSE = "reverse", _("reversed by a refund")
        RETURN = "return", _("returned by a refund")
        TRANSFER_OUT = "transfer_out", _("sent to a friend")
        TRANSFER_IN = "transfer_in", _("received from a friend")
        GRANT = "grant", _("granted")
        DEDUCT = "deduct", _("deducted")

    merchant = models.ForeignKey("tenancy.Merchant", on_delete=models.PROTECT, related_name="+")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="entries")
    seq = models.BigIntegerField()
    kind = models.CharField(_("kind"), max_length=16, choices=Kind)
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="entries")
    available_delta = models.BigIntegerField(default=0)
    pending_delta = models.BigIntegerField(default=0)
    cause_type = models.CharField(max_length=20)  # purchase, refund, transfer, staff, job, ...
    cause_id = models.CharField(max_length=64, blank=True)
    actor = models.CharField(max_length=200, blank=True)
    occurred_at = models.DateTimeField(_("time"))
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        constraints = [
            models.UniqueConstraint(fields=["account", "seq"], name="entry_account_seq_unique"),
            models.CheckConstraint(
                condition=~Q(available_delta=0, pending_delta=0), name="entry_changes_something"
            ),
        ]
        indexes = [
            models.Index(fields=["merchant", "occurred_at"], name="entry_merchant_time"),
            models.Index(fields=["cause_type", "cause_id"], name="entry_cause"),
        ]

    def __str__(self):
        return f"entry {self.account_id}#{self.seq} {self.kind} {self.available_delta:+d}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("Ledger entries are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Ledger entries are append-only.")


class Hold(models.Model):
    """Points set aside (pending-out) until captured (spent) or released. Changed only under
    its account's lock, by `ledger.services.Book`."""

    class State(models.TextChoices):
        OPEN = "open", _("held")
        CAPTURED = "captured", _("spent")
        RELEASED = "released", _("released")

    merchant = models.ForeignKey("tenancy.Merchant", on_delete=models.PROTECT, related_name="+")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="holds")
    amount = models.BigIntegerField(_("amount"))
    state = models.CharField(_("state"), max_length=10, choices=State, default=State.OPEN)
    cause_type = models.CharField(max_length=20)
    cause_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(_("created"))
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("points hold")
        verbose_name_plural = _("points holds")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="hold_amount_gt_0"),
        ]
        indexes = [
            models.Index(fields=["account"], condition=Q(state="open"), name="hold_open"),
        ]

    def __str__(self):
        return f"hold {self.pk}: {self.amount} {self.state}"
