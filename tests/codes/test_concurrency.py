"""Codes under real concurrent transactions (SQLite file or PostgreSQL): one code per phone
however many cashiers press "send" at once, and one purchase per code however many tills
type it in."""

import itertools
import re

import pytest
from django_scopes import scope, scopes_disabled

from kopilka.codes import services as codes
from kopilka.codes.models import OneTimeCode, Purpose
from kopilka.core.actor import Actor
from kopilka.core.errors import InvalidInput
from kopilka.messaging import tasks
from kopilka.processing import services
from kopilka.processing.models import Purchase
from kopilka.programs.engine import BasketLine
from tests.clients import run_in_threads

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ACTOR = Actor.cli()
PHONE = "+79995550001"


def test_codes_asked_for_one_phone_at_once_make_one_code(shop, outbox):
    merchant = shop.merchant

    def ask(n):
        with scope(merchant=merchant):
            return codes.request_code(merchant, purpose=Purpose.REGISTRATION, actor=ACTOR,
                                      phone=PHONE)

    outcomes = run_in_threads(8, ask)
    issued = [o for o in outcomes if isinstance(o, codes.Issued)]
    limited = [o for o in outcomes if isinstance(o, codes.RateLimited)]
    assert (len(issued), len(limited)) == (1, 7), [o for o in outcomes if o][:3]
    assert all(0 < o.retry_after <= 60 for o in limited), [o.retry_after for o in limited]
    with scopes_disabled():
        assert OneTimeCode.objects.count() == 1
        tasks.deliver_due()
    assert len(outbox) == 1


def test_one_code_typed_at_eight_tills_pays_one_purchase(shop, outbox):
    shop.program(welcome_bonus=1_000, max_redeem_percent="100", redeem_requires_code=True)
    member = shop.join(phone=PHONE)
    merchant = shop.merchant
    codes.request_code(merchant, purpose=Purpose.SPENDING, actor=ACTOR, member=member)
    with scopes_disabled():
        tasks.deliver_due()
    code = re.search(r"код (\d{6})\.", outbox[-1].body)[1]
    receipts = itertools.count()

    def spend(n):
        with scope(merchant=merchant):
            sale = services.Sale(lines=(BasketLine(line_id="1", amount=1_000),),
                                 points_to_spend=100)
            return services.commit_purchase(merchant, member, sale, source="test",
                                            receipt_id=f"C{next(receipts)}-{n}",
                                            actor=ACTOR, code=code)

    outcomes = run_in_threads(8, spend)
    paid = [o for o in outcomes if isinstance(o, services.PurchaseResult)]
    refused = [o for o in outcomes if isinstance(o, InvalidInput) and o.field == "code"]
    assert (len(paid), len(refused)) == (1, 7), [o for o in outcomes if o][:3]
    with scope(merchant=merchant):
        assert Purchase.objects.count() == 1
        assert shop.balance(member) == (1_000 - 100 + 45, 0)  # 5 % of the 9.00 paid in money
