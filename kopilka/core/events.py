"""Domain events: what an operation did, published once, heard by whoever cares.

Each operation (processing's families, automation's jobs) writes its changes and its audit row
in its transaction and then calls `publish(event)` once, still inside that transaction. The
apps that react — webhooks writes its outbox deliveries, messaging queues the member's text,
later features (referral rewards, review requests, analytics roll-ups) do their part —
subscribe in their `AppConfig.ready()`:

    @events.subscribe(events.PurchaseCommitted)
    def announce(event): ...

A subscriber runs inside the operation's transaction by default: its writes commit or roll
back with the operation, so an outbox row exists exactly when the purchase does, and an effect
that is money (a reward) is exactly-once under the operation's locks. One that does work that
is not transactional asks for `on_commit=True` and runs after the commit (robustly: its
failure cannot undo a committed operation). A replay of an idempotent operation publishes
nothing: nothing happened.

The events carry what subscribers need (balances after the operation, tier names) so that
hearing one costs no query; the model instances they carry belong to higher floors and are
typed loosely here, since core imports no app above it. The `name` of an event is the public
name webhooks use (`purchase.committed`); the audit action stays the operation's own
(`processing.purchase.committed`), as both are API.
"""

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from typing import Any, ClassVar

from django.db import transaction


@dataclass(frozen=True, kw_only=True)
class Event:
    """What happened, in which merchant (a tenancy.Merchant)."""

    name: ClassVar[str]
    merchant: Any


@dataclass(frozen=True, kw_only=True)
class MemberEnrolled(Event):
    """A member joined: account opened in `tier`, welcome bonus (0 without one) granted."""

    name = "member.registered"
    member: Any  # members.Member
    tier: str
    welcome_points: int
    available: int


@dataclass(frozen=True, kw_only=True)
class TierMove:
    """A member's tier before and after an operation (equal when it did not move)."""

    before: str
    after: str
    after_name: str  # the tier's display name in the program, for the member's message
    manual: bool = False

    @property
    def changed(self) -> bool:
        return self.before != self.after


@dataclass(frozen=True, kw_only=True)
class PurchaseCommitted(Event):
    name = "purchase.committed"
    member: Any  # members.Member
    purchase: Any  # processing.Purchase
    available: int  # the member's balances after the purchase
    pending: int
    first: bool  # the member's first purchase
    gift_points: int  # the first-purchase gift granted with it (0: none)
    tier: TierMove


@dataclass(frozen=True, kw_only=True)
class PurchaseRefunded(Event):
    name = "purchase.refunded"
    purchase: Any  # processing.Purchase, totals after the refund
    refund: Any  # processing.Refund
    available: int
    pending: int
    tier: TierMove
    at: datetime


@dataclass(frozen=True, kw_only=True)
class PointsTransferred(Event):
    name = "points.transferred"
    transfer: Any  # processing.Transfer
    sender: Any  # members.Member
    recipient: Any  # members.Member
    sender_available: int
    recipient_available: int


@dataclass(frozen=True, kw_only=True)
class PointsAdjusted(Event):
    """Staff granted (points > 0) or deducted points by hand."""

    name = "points.adjusted"
    adjustment: Any  # processing.Adjustment
    member: Any  # members.Member
    available: int
    pending: int


@dataclass(frozen=True, kw_only=True)
class TierAssigned(Event):
    """Staff put a member in a tier by hand, or back to automatic tiers."""

    name = "member.tier_changed"
    member: Any  # members.Member
    tier: TierMove
    at: datetime


@dataclass(frozen=True, kw_only=True)
class PointsExpiring(Event):
    """A member's points will expire: `points` are spendable through `last_day` (local) and
    gone after it. Published once per member and expiry day by the daily reminder job."""

    name = "points.expiring"
    member: Any  # members.Member
    points: int
    last_day: date
    at: datetime


@dataclass(frozen=True, kw_only=True)
class CodeActivated(Event):
    """A member activated a campaign's secret code (campaigns.activate): `points` granted."""

    name = "campaign.code_activated"
    activation: Any  # campaigns.Activation
    member: Any  # members.Member
    points: int
    available: int
    pending: int



@dataclass(frozen=True, kw_only=True)
class ReviewCreated(Event):
    """A member rated a purchase (feedback)."""

    name = "review.created"
    review: Any  # feedback.Review


@dataclass(frozen=True, kw_only=True)
class ReviewAnswered(Event):
    """Staff answered a review in its dialog (feedback)."""

    name = "review.answered"
    review: Any  # feedback.Review
    message: Any  # feedback.ReviewMessage

Handler = Callable[[Any], None]
_subscribers: dict[type[Event], list[tuple[Handler, bool]]] = defaultdict(list)


def subscribe(*kinds: type[Event], on_commit: bool = False,
              first: bool = False) -> Callable[[Handler], Handler]:
    """Register the decorated function for events of these kinds (called in the order of
    registration, i.e. of INSTALLED_APPS). Registering the same function twice is a no-op.

    `first`: run before the subscribers registered without it. For a subscriber that locks
    other members' accounts (referral rewards): it must take them right after the operation's
    own, before any subscriber writes a row many operations share (analytics' day cell), or two
    sales could each hold what the other waits for."""
    def register(handler: Handler) -> Handler:
        for kind in kinds:
            if (handler, on_commit) not in _subscribers[kind]:
                if first:
                    _subscribers[kind].insert(0, (handler, on_commit))
                else:
                    _subscribers[kind].append((handler, on_commit))
        return handler
    return register


def unsubscribe(kind: type[Event], handler: Handler) -> None:
    _subscribers[kind] = [entry for entry in _subscribers[kind] if entry[0] is not handler]


def publish(event: Event) -> None:
    """Tell the subscribers. Call it inside the operation's transaction, after its writes."""
    for handler, deferred in _subscribers.get(type(event), ()):
        if deferred:
            transaction.on_commit(partial(handler, event), robust=True)
        else:
            handler(event)
