"""Which message each processing operation sends its member (MSG-1), with which figures.

processing/services.py calls these inside the operation's transaction, after its writes and
never on a replay — the same place it emits webhooks. Whether the member gets the message at
all (consent, the merchant's settings, the event switched off) is `services.queue`'s business.
"""

from kopilka.messaging import services
from kopilka.messaging.models import Event


def registered(merchant, member, *, balance: int):
    return services.queue(merchant, event=Event.REGISTRATION, member=member,
                          context={"name": member.first_name, "balance": balance})


def purchased(merchant, member, *, first: bool, amount: int, accrued: int, spent: int,
              balance: int):
    """One message per purchase: thanks for the first one; otherwise the spending (a member
    must learn at once of points spent, by them or not), else the accrual; nothing for a
    purchase that moved no points."""
    if first:
        event, points = Event.FIRST_PURCHASE, accrued
    elif spent:
        event, points = Event.REDEMPTION, spent
    elif accrued:
        event, points = Event.ACCRUAL, accrued
    else:
        return None
    return services.queue(merchant, event=event, member=member, context={
        "name": member.first_name, "amount": amount, "points": points, "balance": balance})


def tier_changed(merchant, member, *, tier: str):
    return services.queue(merchant, event=Event.TIER_CHANGE, member=member,
                          context={"name": member.first_name, "tier": tier})


def received(merchant, member, *, points: int, balance: int):
    """Points another member sent (a transfer): told to the recipient."""
    return services.queue(merchant, event=Event.TRANSFER, member=member, context={
        "name": member.first_name, "points": points, "balance": balance})
