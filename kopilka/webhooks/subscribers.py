"""What each domain event announces to the merchant's webhook endpoints (registered by
WebhooksConfig.ready). Each runs inside the operation's transaction, so the deliveries are
written with the operation and sent when it commits (services.emit)."""

from kopilka.core import events
from kopilka.webhooks import payloads
from kopilka.webhooks.services import emit


@events.subscribe(events.MemberEnrolled)
def member_registered(event: events.MemberEnrolled) -> None:
    emit(event.merchant, event.name, payloads.member_registered(
        event.member, tier=event.tier, welcome_points=event.welcome_points))


def _tier_changed(event, member_id: int, cause: str, at) -> None:
    move = event.tier
    if move.changed:
        emit(event.merchant, "member.tier_changed", payloads.tier_changed(
            member_id, before=move.before, after=move.after, manual=move.manual, cause=cause,
            at=at))


@events.subscribe(events.PurchaseCommitted)
def purchase_committed(event: events.PurchaseCommitted) -> None:
    emit(event.merchant, event.name, payloads.purchase_committed(
        event.purchase, available=event.available, pending=event.pending))
    _tier_changed(event, event.member.pk, "purchase", event.purchase.occurred_at)


@events.subscribe(events.PurchaseRefunded)
def purchase_refunded(event: events.PurchaseRefunded) -> None:
    emit(event.merchant, event.name, payloads.purchase_refunded(
        event.purchase, event.refund, tier=event.tier.after, available=event.available,
        pending=event.pending))
    _tier_changed(event, event.purchase.member_id, "refund", event.at)


@events.subscribe(events.TierAssigned)
def tier_assigned(event: events.TierAssigned) -> None:
    _tier_changed(event, event.member.pk, "manual", event.at)


@events.subscribe(events.PointsAdjusted)
def points_adjusted(event: events.PointsAdjusted) -> None:
    emit(event.merchant, event.name, payloads.points_adjusted(
        event.adjustment, event.member.pk, available=event.available, pending=event.pending))


@events.subscribe(events.PointsTransferred)
def points_transferred(event: events.PointsTransferred) -> None:
    emit(event.merchant, event.name, payloads.points_transferred(
        event.transfer, sender_id=event.sender.pk, recipient_id=event.recipient.pk,
        sender_available=event.sender_available,
        recipient_available=event.recipient_available))


@events.subscribe(events.PointsExpiring)
def points_expiring(event: events.PointsExpiring) -> None:
    emit(event.merchant, event.name, payloads.points_expiring(
        event.member.pk, points=event.points, last_day=event.last_day, at=event.at))
