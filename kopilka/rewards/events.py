"""The reward catalogue's domain events (core/events.py explains publishing and hearing)."""

from dataclasses import dataclass
from typing import Any

from kopilka.core.events import Event


@dataclass(frozen=True, kw_only=True)
class RewardOrdered(Event):
    """A member ordered an item: its price is held on the account."""

    name = "reward.ordered"
    order: Any  # rewards.Order
    available: int  # spendable after the hold


@dataclass(frozen=True, kw_only=True)
class RewardHandedOver(Event):
    """The cashier handed the item over: the held points are spent."""

    name = "reward.handed_over"
    order: Any
    available: int


@dataclass(frozen=True, kw_only=True)
class RewardOrderClosed(Event):
    """An order was cancelled or lapsed (order.status says which): the points are back."""

    name = "reward.order_closed"
    order: Any


@dataclass(frozen=True, kw_only=True)
class RewardItemSaved(Event):
    """The owner added (created) or changed a reward of the catalogue."""

    name = "reward.item_saved"
    item: Any  # rewards.Item
    created: bool
