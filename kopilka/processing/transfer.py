"""Transfers between members of one merchant (ENG-12): the recipient gets the sender's points
with the sender's expiry dates, within the program's limits."""

from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import Sum
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from kopilka.core import audit, clock, events
from kopilka.core.actor import Actor
from kopilka.core.errors import Conflict, Forbidden, InvalidInput
from kopilka.ledger import services as ledger
from kopilka.ledger.models import Entry, Lot
from kopilka.members.models import Member
from kopilka.processing import _book
from kopilka.processing.models import Transfer
from kopilka.programs import services as programs
from kopilka.tenancy.models import Merchant


@dataclass
class TransferResult:
    transfer: Transfer
    replayed: bool


def transfer_points(merchant: Merchant, *, sender: Member, recipient: Member, points: int,
                    key: str, actor: Actor) -> TransferResult:
    """Send points to another member of the same merchant. The recipient gets lots with the
    sender's expiry dates: a transfer never makes points live longer."""
    program = programs.load(merchant)
    limits = program.config.transfers
    if limits is None or not limits.enabled:
        raise Forbidden(_("This program does not allow sending points."), field="points")
    if type(points) is not int or points <= 0:
        raise InvalidInput(_("points must be a positive integer."), field="points")
    if sender.pk == recipient.pk:
        raise InvalidInput(_("Points cannot be sent to oneself."), field="to_member_id")
    if recipient.merchant_id != merchant.pk or sender.merchant_id != merchant.pk:
        raise InvalidInput(_("Both members must belong to this merchant."),
                           field="to_member_id")
    if points < limits.min_points or (limits.max_points and points > limits.max_points):
        if limits.max_points:
            message = ngettext(
                "A transfer must be between %(min)s and %(max)s point.",
                "A transfer must be between %(min)s and %(max)s points.",
                limits.max_points,
            ) % {"min": limits.min_points, "max": limits.max_points}
        else:  # no upper limit: only the minimum was missed
            message = ngettext(
                "A transfer must be at least %(min)s point.",
                "A transfer must be at least %(min)s points.",
                limits.min_points,
            ) % {"min": limits.min_points}
        raise Conflict(message, field="points")
    with transaction.atomic():
        sender_book, recipient_book = ledger.Book.open_pair(
            _book.account(sender, program).pk, _book.account(recipient, program).pk
        )
        sender_account, recipient_account = sender_book.account, recipient_book.account
        _book.attach(sender, sender_account)
        _book.attach(recipient, recipient_account)
        existing = Transfer.objects.filter(merchant=merchant, sender=sender_account,
                                           key=key).first()
        if existing is not None:
            if (existing.recipient_id, existing.points) != (recipient_account.pk, points):
                raise Conflict(_("This key was already used for another transfer."), field="key")
            return TransferResult(existing, replayed=True)
        _book.require_active(sender, "from_member_id")
        _book.require_active(recipient, "to_member_id")
        now = clock.now()
        if limits.max_points_per_day:
            sent_today = Transfer.objects.filter(
                sender=sender_account, occurred_at__gte=now - timedelta(days=1)
            ).aggregate(total=Sum("points"))["total"] or 0
            if sent_today + points > limits.max_points_per_day:
                raise Conflict(
                    ngettext(
                        "At most %(points)s point can be sent per 24 hours.",
                        "At most %(points)s points can be sent per 24 hours.",
                        limits.max_points_per_day,
                    ) % {"points": limits.max_points_per_day},
                    field="points",
                )
        transfer = Transfer.objects.create(merchant=merchant, sender=sender_account,
                                           recipient=recipient_account, points=points, key=key,
                                           occurred_at=now)
        cause = ledger.Cause("transfer", str(transfer.pk), actor.label)
        taken = sender_book.debit(points, entry_kind=Entry.Kind.TRANSFER_OUT, cause=cause,
                                  at=now)
        for lot, part in taken:
            recipient_book.credit(part, lot_kind=Lot.Kind.TRANSFER_IN,
                                  entry_kind=Entry.Kind.TRANSFER_IN, cause=cause, at=now,
                                  expires_at=ledger.effective_expiry(lot, sender_account))
        sender_book.save()
        recipient_book.save()
        audit.record("processing.points.transferred", actor=actor, merchant=merchant,
                     obj=transfer, data={"points": points, "from": sender.pk, "to": recipient.pk})
        events.publish(events.PointsTransferred(
            merchant=merchant, transfer=transfer, sender=sender, recipient=recipient,
            sender_available=sender_book.balances(now).available,
            recipient_available=recipient_book.balances(now).available,
        ))
        return TransferResult(transfer, replayed=False)
