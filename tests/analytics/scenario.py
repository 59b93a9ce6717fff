"""A small hand-made shop for the figures: alice's merchant (Europe/Moscow) with a hybrid
program (10 % discount, 5 % bonus), two stores, two cashiers, five members, refunds, an SMS
bill and a win-back purchase, in February and March 2030. Each moment is local (Moscow)."""

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import time_machine

from kopilka.automation.models import WinbackContact, WinbackPurchase
from kopilka.core.actor import Actor
from kopilka.members.models import Member
from kopilka.messaging.models import Message, SmsEntry
from kopilka.processing import services
from kopilka.programs.engine import BasketLine
from kopilka.tenancy import services as tenancy
from kopilka.tenancy.models import Staff, Store

ACTOR = Actor.cli()
MSK = ZoneInfo("Europe/Moscow")
PROGRAM = {
    "type": "hybrid", "max_redeem_percent": "50",
    "tiers": [{"code": "base", "name": "Base", "accrual": {"kind": "percent", "percent": 5},
               "discount": {"kind": "percent", "percent": 10}}],
}


def msk(*moment) -> datetime:
    return datetime(*moment, tzinfo=MSK)


@dataclass
class Counter:
    """Who sells: a store and a cashier."""

    store: Store
    cashier: Staff


class Sales:
    """Purchases and refunds at a counter, at a moment, through the real services."""

    def __init__(self, shop):
        self.shop = shop
        self.merchant = shop.merchant
        self._receipts = 0

    def join(self, name: str, phone: str, at: datetime) -> Member:
        with time_machine.travel(at, tick=False):
            return self.shop.join(phone=phone, first_name=name)

    def buy(self, member, amount: int, at: datetime, counter: Counter, spend: int = 0):
        self._receipts += 1
        sale = services.Sale(lines=(BasketLine(line_id="1", amount=amount),),
                             points_to_spend=spend)
        with time_machine.travel(at, tick=False):
            return services.commit_purchase(
                self.merchant, member, sale, receipt_id=f"A{self._receipts}", source="test",
                actor=ACTOR, store=counter.store, cashier=counter.cashier,
            ).purchase

    def refund(self, purchase, at: datetime, amount: int | None = None, refund_id="F1"):
        with time_machine.travel(at, tick=False):
            return self.shop.refund(purchase, refund_id=refund_id, amount=amount)


def sms(merchant, event: str, cost: int, at: datetime, kind=SmsEntry.Kind.CHARGE) -> None:
    """A line of the SMS statement, as billing writes it when a message is charged (or its
    charge refunded)."""
    sign = -1 if kind == SmsEntry.Kind.CHARGE else 1
    SmsEntry.objects.create(merchant=merchant, kind=kind, amount=sign * cost, parts=-sign,
                            balance_after=0, free_parts_after=0, event=event, actor="system",
                            created_at=at)


def hand_made_shop(shop, cashier: Staff) -> dict:
    """The purchases (p1..p7) and members of the figures tests; see test_figures.py for what
    each figure makes of them."""
    merchant = shop.merchant
    with time_machine.travel(msk(2029, 9, 1, 9), tick=False):
        shop.program(**PROGRAM)
        second = tenancy.create_store(merchant, "Second", actor=ACTOR)
    main = shop.tenant.terminal.store
    owner = shop.tenant.owner
    front, back = Counter(main, owner), Counter(second, cashier)
    sales = Sales(shop)
    gleb = sales.join("Gleb", "+79990000005", msk(2029, 10, 1, 10))
    anna = sales.join("Anna", "+79990000001", msk(2030, 2, 24, 10))
    boris = sales.join("Boris", "+79990000002", msk(2030, 3, 1, 10))
    vera = sales.join("Vera", "+79990000003", msk(2030, 3, 4, 10))
    found = {"members": {"anna": anna, "boris": boris, "vera": vera, "gleb": gleb},
             "stores": {"main": main, "second": second}}
    p = {}
    p["gleb-1"] = sales.buy(gleb, 10_000, msk(2029, 10, 1, 12), front)
    p["anna-1"] = sales.buy(anna, 10_000, msk(2030, 2, 25, 12), front)
    p["anna-2"] = sales.buy(anna, 20_000, msk(2030, 3, 1, 12), front)
    p["boris-1"] = sales.buy(boris, 50_000, msk(2030, 3, 2, 12), back)
    p["boris-2"] = sales.buy(boris, 30_000, msk(2030, 3, 3, 12), back, spend=1_000)
    # Vera's only purchase, on the back counter's cashier at the main store, refunded in full.
    p["vera-1"] = sales.buy(vera, 40_000, msk(2030, 3, 4, 12), Counter(main, cashier))
    sales.refund(p["vera-1"], msk(2030, 3, 5, 9))
    # Anna's third, a quarter of it refunded after the period: it counts on its own day.
    p["anna-3"] = sales.buy(anna, 10_000, msk(2030, 3, 6, 23, 59), front)
    sales.refund(p["anna-3"], msk(2030, 3, 8, 9), amount=2_250)
    # Gleb, lost since January, contacted by the win-back chain and back on the 5th.
    message = Message.objects.create(
        merchant=merchant, member=gleb, event="winback", channel="sms", recipient="+79990000005",
        language="ru", body="Ждём вас", status=Message.Status.SENT, parts=1, cost=350,
        next_attempt_at=msk(2030, 3, 2, 10), created_at=msk(2030, 3, 2, 10))
    contact = WinbackContact.objects.create(
        merchant=merchant, member=gleb, chain="comeback", step=0,
        absence_started_at=msk(2029, 10, 1, 12), at=msk(2030, 3, 2, 10), sent=True,
        message=message, attributable_until=msk(2030, 4, 1, 10))
    p["gleb-2"] = sales.buy(gleb, 20_000, msk(2030, 3, 5, 12), front)
    WinbackPurchase.objects.create(merchant=merchant, purchase=p["gleb-2"], contact=contact,
                                   member=gleb, occurred_at=p["gleb-2"].occurred_at,
                                   attributed_at=msk(2030, 3, 6, 4))
    # The SMS statement: the win-back text, two receipts (one charge refunded) and one in
    # February.
    sms(merchant, "winback", 350, msk(2030, 3, 2, 10))
    sms(merchant, "receipt", 250, msk(2030, 3, 3, 12))
    sms(merchant, "receipt", 250, msk(2030, 3, 7, 23, 30))
    sms(merchant, "receipt", 250, msk(2030, 3, 7, 23, 40), kind=SmsEntry.Kind.REFUND)
    sms(merchant, "receipt", 250, msk(2030, 3, 7, 23, 59))
    sms(merchant, "receipt", 250, msk(2030, 3, 8, 0, 1))  # the next day: not in the period
    sms(merchant, "birthday", 300, msk(2030, 2, 27, 10))
    found["purchases"] = p
    return found
