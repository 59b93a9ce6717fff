"""Which message each processing operation sends its member (MSG-1), with which figures:
the subscribers to the domain events (kopilka/core/events.py), registered by
MessagingConfig.ready.

Each runs inside the operation's transaction, after its writes and never on a replay, so the
message is in the outbox exactly when the operation committed. Whether the member gets it at
all (consent, the merchant's settings, the event switched off) is `services.queue`'s business.
"""

from kopilka.core import events
from kopilka.messaging import services
from kopilka.messaging.models import Event


@events.subscribe(events.MemberEnrolled)
def registered(event: events.MemberEnrolled) -> None:
    member = event.member
    services.queue(event.merchant, event=Event.REGISTRATION, member=member,
                   context={"name": member.first_name, "balance": event.available})


@events.subscribe(events.PurchaseCommitted)
def purchased(event: events.PurchaseCommitted) -> None:
    """One message per purchase: thanks for the first one; otherwise the spending (a member
    must learn at once of points spent, by them or not), else the accrual; nothing for a
    purchase that moved no points. Then the new tier, if the purchase moved it."""
    member, purchase = event.member, event.purchase
    accrued = purchase.points_accrued + event.gift_points
    kind = points = None
    if event.first:
        kind, points = Event.FIRST_PURCHASE, accrued
    elif purchase.points_spent:
        kind, points = Event.REDEMPTION, purchase.points_spent
    elif accrued:
        kind, points = Event.ACCRUAL, accrued
    if kind is not None:
        services.queue(event.merchant, event=kind, member=member, context={
            "name": member.first_name, "amount": purchase.total, "points": points,
            "balance": event.available})
    if event.tier.changed:
        services.queue(event.merchant, event=Event.TIER_CHANGE, member=member,
                       context={"name": member.first_name, "tier": event.tier.after_name})


@events.subscribe(events.PointsTransferred)
def received(event: events.PointsTransferred) -> None:
    """Points another member sent: told to the recipient."""
    member = event.recipient
    services.queue(event.merchant, event=Event.TRANSFER, member=member, context={
        "name": member.first_name, "points": event.transfer.points,
        "balance": event.recipient_available})
