"""What the automation tests share: alice's merchant's clock, one tick at a moment, the
messages the outbox holds."""

from datetime import datetime, time
from zoneinfo import ZoneInfo

import time_machine

from kopilka.automation import tick
from kopilka.core.actor import Actor
from kopilka.ledger.models import Account
from kopilka.members.services import ConsentGiven
from kopilka.messaging import services as messaging
from kopilka.messaging.models import Message

MSK = ZoneInfo("Europe/Moscow")  # alice's merchant's zone
# Gifts, chain steps and reminders advertise: only members who agreed to messages get them.
AGREED = [ConsentGiven("messages", "v1")]


def at(*moment) -> datetime:
    return datetime(*moment, tzinfo=MSK)


def tick_at(moment: datetime) -> int:
    """One tick at `moment`; how many merchant job runs it did."""
    with time_machine.travel(moment, tick=False):
        return tick.run()["merchant jobs run"]


def balance(member) -> int:
    return Account.objects.get(member=member).available


def sent(event: str | None = None) -> list[tuple[str, str]]:
    """(recipient, body) of every message in the outbox, oldest first."""
    rows = Message.objects.order_by("pk")
    if event is not None:
        rows = rows.filter(event=event)
    return list(rows.values_list("recipient", "body"))


def receipts_for_everyone(merchant) -> None:
    """Transactional messages (registration, receipts, activation) to every member, and no
    quiet hours: the tests see every message the moment it is queued."""
    messaging.save_settings(merchant, transactional="all", quiet_from=time(0), quiet_to=time(0),
                            actor=Actor.cli())
