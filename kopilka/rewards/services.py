"""The reward catalogue's operations: items (the owner's), orders (the member's), the hand-over
(the cashier's). Each validates, writes in one transaction with its audit row and publishes
one event (rewards/events.py). Points move only through processing's holds.

An order's life: HELD (points held, QR shown) → HANDED_OVER (points spent, stock counted
down), or CANCELLED by the member, or EXPIRED once `expires_at` passes. Expiry needs no job:
the ledger stops counting a lapsed hold at once, and an order read after its time is closed
then (`expire_lapsed`: the wallet, the counter and the cabinet's lists call it).
"""

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Count, Q
from django.utils.translation import gettext as _

from kopilka.core import audit, clock, events
from kopilka.core.actor import Actor
from kopilka.core.errors import Conflict, InvalidInput, NotFound
from kopilka.members.models import Member
from kopilka.processing import holds
from kopilka.rewards import pictures
from kopilka.rewards.events import (
    RewardHandedOver,
    RewardItemSaved,
    RewardOrderClosed,
    RewardOrdered,
)
from kopilka.rewards.models import Item, Order
from kopilka.tenancy.models import Merchant, Staff, Store

CAUSE = "reward_order"
CODE_PREFIX = "R-"
CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I/L look-alikes
CODE_LENGTH = 10
MAX_VALID_HOURS = 24 * 30


def new_code() -> str:
    return CODE_PREFIX + "".join(secrets.choice(CODE_ALPHABET) for _i in range(CODE_LENGTH))


def looks_like_code(text: str) -> bool:
    """Whether a scan or a typed text is an order code ("R-…", any case, spaces ignored)."""
    text = normalise_code(text)
    return (text.startswith(CODE_PREFIX) and len(text) == len(CODE_PREFIX) + CODE_LENGTH
            and all(c in CODE_ALPHABET for c in text[len(CODE_PREFIX):]))


def normalise_code(text: str) -> str:
    return "".join(text.split()).upper()


def local_today(merchant: Merchant, at: datetime | None = None) -> date:
    return (at or clock.now()).astimezone(ZoneInfo(merchant.timezone)).date()


# --- items -----------------------------------------------------------------------------------


@dataclass
class ItemInput:
    name: str
    price: int
    description: str = ""
    stock: int | None = None
    stores: tuple[Store, ...] = ()
    starts_on: date | None = None
    ends_on: date | None = None
    valid_hours: int = 24
    active: bool = True
    position: int = 0


def _validate(merchant: Merchant, data: ItemInput) -> None:
    if not data.name.strip():
        raise InvalidInput(_("Name the reward."), field="name")
    if type(data.price) is not int or data.price <= 0:
        raise InvalidInput(_("The price must be above zero."), field="price")
    if data.stock is not None and (type(data.stock) is not int or data.stock < 0):
        raise InvalidInput(_("Stock cannot be negative."), field="stock")
    if data.starts_on and data.ends_on and data.ends_on < data.starts_on:
        raise InvalidInput(_("The last day comes before the first."), field="ends_on")
    if not 1 <= data.valid_hours <= MAX_VALID_HOURS:
        raise InvalidInput(_("An order may wait from 1 hour to 30 days."), field="valid_hours")
    if any(store.merchant_id != merchant.pk for store in data.stores):
        raise InvalidInput(_("No such store."), field="stores")


def _apply(item: Item, data: ItemInput) -> None:
    item.name = data.name.strip()
    item.description = data.description.strip()
    item.price, item.stock = data.price, data.stock
    item.starts_on, item.ends_on = data.starts_on, data.ends_on
    item.valid_hours, item.active, item.position = data.valid_hours, data.active, data.position


def _set_picture(item: Item, picture) -> None:
    if picture is None:
        return
    old = item.picture
    item.picture = pictures.store(item.merchant_id, picture)
    if old:
        transaction.on_commit(lambda: pictures.remove(item.merchant_id, old))


def create_item(merchant: Merchant, data: ItemInput, *, actor: Actor, picture=None) -> Item:
    _validate(merchant, data)
    with transaction.atomic():
        item = Item(merchant=merchant, created_at=clock.now())
        _apply(item, data)
        _set_picture(item, picture)
        item.save()
        item.stores.set(data.stores)
        audit.record("rewards.item.created", actor=actor, merchant=merchant, obj=item,
                     data={"name": item.name, "price": item.price, "stock": item.stock})
        events.publish(RewardItemSaved(merchant=merchant, item=item, created=True))
    return item


def update_item(merchant: Merchant, item: Item, data: ItemInput, *, actor: Actor,
                picture=None) -> Item:
    if item.merchant_id != merchant.pk:
        raise NotFound(_("No such reward."), field="item")
    _validate(merchant, data)
    with transaction.atomic():
        item = Item.objects.select_for_update().get(pk=item.pk, merchant=merchant)
        _apply(item, data)
        _set_picture(item, picture)
        item.save()
        item.stores.set(data.stores)
        audit.record("rewards.item.changed", actor=actor, merchant=merchant, obj=item,
                     data={"name": item.name, "price": item.price, "stock": item.stock,
                           "active": item.active})
        events.publish(RewardItemSaved(merchant=merchant, item=item, created=False))
    return item


def item_of(merchant: Merchant, item_id: int) -> Item:
    item = Item.objects.filter(merchant=merchant, pk=item_id).first()
    if item is None:
        raise NotFound(_("No such reward."), field="item")
    return item


def reserved(items) -> dict[int, int]:
    """How many open (held, not lapsed) orders each item has: stock they have promised."""
    now = clock.now()
    rows = (Order.objects.filter(item__in=items, status=Order.Status.HELD, expires_at__gt=now)
            .values("item_id").annotate(n=Count("pk")))
    return {row["item_id"]: row["n"] for row in rows}


def items(merchant: Merchant):
    return Item.objects.filter(merchant=merchant).prefetch_related("stores")


# --- the member's catalogue ------------------------------------------------------------------


@dataclass
class Offer:
    item: Item
    left: int | None  # None: no limit
    missing: int  # points the member still needs (0: affordable)

    @property
    def sold_out(self) -> bool:
        return self.left is not None and self.left <= 0


def on_offer(merchant: Merchant, at: datetime | None = None):
    """The items members may order now: shown, and within their dates (merchant's days)."""
    today = local_today(merchant, at)
    return (Item.objects.filter(merchant=merchant, active=True)
            .filter(Q(starts_on__isnull=True) | Q(starts_on__lte=today))
            .filter(Q(ends_on__isnull=True) | Q(ends_on__gte=today))
            .prefetch_related("stores"))


def catalogue(merchant: Merchant, available: int) -> tuple[list[Offer], list[Offer]]:
    """(affordable, not yet affordable) offers for a member with `available` spendable points;
    the second list says how many points each still needs, cheapest first."""
    found = list(on_offer(merchant))
    taken = reserved(found)
    affordable, later = [], []
    for item in found:
        left = None if item.stock is None else item.stock - taken.get(item.pk, 0)
        offer = Offer(item, left, max(0, item.price - available))
        (later if offer.missing else affordable).append(offer)
    later.sort(key=lambda offer: (offer.missing, offer.item.position))
    return affordable, later


# --- orders ----------------------------------------------------------------------------------


def _lock(order: Order) -> Order:
    return Order.objects.select_for_update().select_related("item", "member").get(pk=order.pk)


def place_order(merchant: Merchant, member: Member, item_id: int, *, actor: Actor,
                key: str = "") -> Order:
    """Hold the item's price on the member's account and open an order with its code. The
    same `key` again (a double tap) returns the order it made, holding nothing more."""
    if member.merchant_id != merchant.pk:
        raise NotFound(_("No such member."), field="member")
    key = key[:64]
    with transaction.atomic():
        item = (Item.objects.select_for_update().filter(merchant=merchant, pk=item_id).first())
        if item is None:
            raise NotFound(_("This reward is not on offer."), field="item")
        if key:  # under the item's lock: a concurrent twin waits, then finds this order
            made = Order.objects.filter(merchant=merchant, member=member, key=key).first()
            if made is not None:
                return made
        if not on_offer(merchant).filter(pk=item_id).exists():
            raise NotFound(_("This reward is not on offer."), field="item")
        if item.stock is not None and item.stock - reserved([item]).get(item.pk, 0) <= 0:
            raise Conflict(_("%(item)s is out of stock.") % {"item": item.name}, field="item")
        now = clock.now()
        order = Order.objects.create(
            merchant=merchant, item=item, member=member, points=item.price, code=new_code(),
            created_at=now, expires_at=now + timedelta(hours=item.valid_hours), key=key)
        try:
            held = holds.hold_points(merchant, member, points=item.price, cause_type=CAUSE,
                                     cause_id=str(order.pk), expires_at=order.expires_at,
                                     actor=actor)
        except holds.InsufficientPoints:
            raise Conflict(_("Not enough points for %(item)s.") % {"item": item.name},
                           field="item") from None
        order.hold = held.hold
        order.save(update_fields=["hold"])
        audit.record("rewards.order.placed", actor=actor, merchant=merchant, obj=order,
                     data={"item": item.pk, "points": order.points, "member": member.pk})
        events.publish(RewardOrdered(merchant=merchant, order=order, available=held.available))
    return order


def _close(order: Order, status: str, at: datetime) -> None:
    order.status, order.closed_at = status, at
    order.save(update_fields=["status", "closed_at"])


def cancel_order(merchant: Merchant, order: Order, *, actor: Actor) -> Order:
    """The member changed their mind: the held points are back."""
    with transaction.atomic():
        order = _lock(order)
        if order.merchant_id != merchant.pk:
            raise NotFound(_("No such order."), field="order")
        if order.status != Order.Status.HELD:
            raise Conflict(_("This order is already closed."), field="order")
        now = clock.now()
        holds.release_hold(merchant, order.hold_id)
        _close(order, Order.Status.EXPIRED if order.expires_at <= now
               else Order.Status.CANCELLED, now)
        audit.record("rewards.order.cancelled", actor=actor, merchant=merchant, obj=order,
                     data={"status": order.status})
        events.publish(RewardOrderClosed(merchant=merchant, order=order))
    return order


def _expire(merchant: Merchant, order: Order, at: datetime) -> None:
    holds.release_hold(merchant, order.hold_id)  # the ledger may have released it already
    _close(order, Order.Status.EXPIRED, order.expires_at)
    audit.record("rewards.order.expired", actor=Actor.system(), merchant=merchant, obj=order,
                 data={})
    events.publish(RewardOrderClosed(merchant=merchant, order=order))


def expire_lapsed(merchant: Merchant, member: Member | None = None,
                  at: datetime | None = None) -> int:
    """Close the held orders past their time (of one member, or all): how many."""
    at = at or clock.now()
    rows = Order.objects.filter(merchant=merchant, status=Order.Status.HELD, expires_at__lte=at)
    if member is not None:
        rows = rows.filter(member=member)
    return sum(_expire_one(merchant, order, at) for order in rows.only("pk"))


def _expire_one(merchant: Merchant, order: Order, at: datetime | None = None) -> bool:
    at = at or clock.now()
    if order.status != Order.Status.HELD or order.expires_at > at:
        return False
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        if order.status == Order.Status.HELD and order.expires_at <= at:
            _expire(merchant, order, at)
            return True
    return False



def orders_of(merchant: Merchant, member: Member):
    return (Order.objects.filter(merchant=merchant, member=member)
            .select_related("item").order_by("-created_at", "-pk"))


def order_of(merchant: Merchant, *, pk: int | None = None, code: str | None = None) -> Order:
    rows = Order.objects.filter(merchant=merchant).select_related("item", "member__person")
    found = (rows.filter(pk=pk) if pk is not None
             else rows.filter(code=normalise_code(code or ""))).first()
    if found is None:
        raise NotFound(_("No such order."), field="code")
    return found


def orders(merchant: Merchant, *, status: str | None = None):
    rows = Order.objects.filter(merchant=merchant).select_related("item", "member__person",
                                                                   "store")
    if status:
        rows = rows.filter(status=status)
    return rows.order_by("-created_at", "-pk")


# --- the hand-over ---------------------------------------------------------------------------


def refusal(order: Order, store: Store | None, at: datetime | None = None) -> str | None:
    """Why this order cannot be handed over here and now (None: it can)."""
    at = at or clock.now()
    if order.status == Order.Status.HANDED_OVER:
        return _("This order was already handed over.")
    if order.status == Order.Status.CANCELLED:
        return _("The member cancelled this order.")
    if order.status == Order.Status.EXPIRED or order.expires_at <= at:
        return _("This order has expired: the points went back to the member.")
    stores = list(order.item.stores.all())
    if store is not None and stores and store.pk not in {s.pk for s in stores}:
        return _("%(item)s is handed over only at: %(stores)s.") % {
            "item": order.item.name, "stores": ", ".join(s.name for s in stores)}
    return None


def hand_over(merchant: Merchant, order: Order, *, store: Store | None, staff: Staff | None,
              actor: Actor) -> Order:
    """Spend the held points and count the item out of stock; refused with the reason."""
    if order.merchant_id != merchant.pk:
        raise NotFound(_("No such order."), field="code")
    _expire_one(merchant, order)  # committed even though the hand-over is then refused
    with transaction.atomic():
        order = _lock(order)
        now = clock.now()
        reason = refusal(order, store, now)
        if reason is None:
            item = Item.objects.select_for_update().get(pk=order.item_id)
            if item.stock is not None and item.stock <= 0:
                reason = _("%(item)s is out of stock.") % {"item": item.name}
        if reason is not None:
            raise _Refused(reason, order)
        try:
            spent = holds.capture_hold(merchant, order.hold_id, cause_type=CAUSE,
                                       cause_id=str(order.pk), actor=actor)
        except (holds.HoldClosed, holds.InsufficientPoints):
            raise Conflict(_("The member's points for this order are gone (expired, or "
                             "taken back by a refund)."), field="code") from None
        if item.stock is not None:
            item.stock -= 1
            item.save(update_fields=["stock"])
        order.status, order.closed_at, order.store, order.handed_by = (
            Order.Status.HANDED_OVER, now, store, staff)
        order.save(update_fields=["status", "closed_at", "store", "handed_by"])
        audit.record("rewards.order.handed_over", actor=actor, merchant=merchant, obj=order,
                     data={"item": order.item_id, "points": order.points,
                           "store": store.pk if store else None})
        events.publish(RewardHandedOver(merchant=merchant, order=order,
                                        available=spent.available))
    return order


class _Refused(Conflict):
    problem = "reward-refused"

    def __init__(self, detail: str, order: Order):
        super().__init__(detail, field="code")
        self.order = order


Refused = _Refused
