"""`Shop`: one merchant with a program, members and purchases, in words that read like the
counter. The `shop` fixture (tests/conftest.py) gives alice's merchant as a Shop, in scope."""

import itertools
from datetime import datetime

from kopilka.core.actor import Actor
from kopilka.members.models import Member
from kopilka.processing import services
from kopilka.programs import services as programs
from kopilka.programs.engine import BasketLine

ACTOR = Actor.cli()
_receipts = itertools.count(1)


class Shop:
    """One merchant (alice) in scope, with helpers that read like the counter."""

    def __init__(self, tenant):
        self.tenant = tenant
        self.merchant = tenant.merchant

    def program(self, **config):
        config.setdefault("type", "bonus")
        config.setdefault(
            "tiers", [{"code": "base", "name": "Base",
                       "accrual": {"kind": "percent", "percent": "5"}}]
        )
        programs.save_program(self.merchant, config, actor=ACTOR)
        return self

    def join(self, phone="+79990000001", **profile) -> Member:
        return services.enrol(self.merchant, phone=phone, actor=ACTOR,
                              channel=Member.Channel.CASHIER, **profile)

    def buy(self, member, *amounts, spend=0, receipt=None, at: datetime | None = None,
            groups=(), payment_method=""):
        lines = tuple(
            BasketLine(line_id=str(n), amount=amount,
                       product_group=groups[n] if n < len(groups) else None)
            for n, amount in enumerate(amounts)
        )
        sale = services.Sale(lines=lines, points_to_spend=spend, occurred_at=at,
                             payment_method=payment_method)
        return services.commit_purchase(
            self.merchant, member, sale, receipt_id=receipt or f"R{next(_receipts)}",
            source="test", actor=ACTOR,
        )

    def refund(self, purchase, refund_id="F1", **kwargs):
        return services.refund_purchase(self.merchant, purchase, refund_id=refund_id,
                                        actor=ACTOR, **kwargs)

    def send(self, sender, recipient, points, key=None):
        return services.transfer_points(
            self.merchant, sender=sender, recipient=recipient, points=points,
            key=key or f"T{next(_receipts)}", actor=ACTOR,
        )

    def balance(self, member) -> tuple[int, int]:
        card = services.member_card(self.merchant, member)
        return card.available, card.pending
