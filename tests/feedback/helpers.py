"""What the reviews tests share: reviews switched on for alice's merchant, a purchase rated
the way a member does it (the sale, the tick sending the request, the link from the SMS)."""

import itertools
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import time_machine

from kopilka.core.actor import Actor
from kopilka.feedback import services as feedback
from kopilka.members.services import ConsentGiven
from kopilka.messaging.models import Event, Message
from kopilka.processing import services as processing
from kopilka.programs.engine import BasketLine

ACTOR = Actor.cli()
MSK = ZoneInfo("Europe/Moscow")  # alice's merchant's zone
AGREED = [ConsentGiven("messages", "v1")]
LINK = re.compile(r"/my/r/([A-Za-z0-9]{10})")
_phones = itertools.count(1)
_receipts = itertools.count(1)


def at(*moment) -> datetime:
    return datetime(*moment, tzinfo=MSK)


def reviews_on(merchant, **changes):
    values = {"requests_on": True, "delay_minutes": 120, "once_per_days": 30,
              "alert_on": False, "alert_score": 3} | changes
    return feedback.save_settings(merchant, **values, actor=ACTOR)


def member(shop, name="Anna", *, consent=True):
    return shop.join(phone=f"+7999100{next(_phones):04d}", first_name=name,
                     consents=AGREED if consent else ())


def buy(shop, buyer, amount=100_000, *, moment: datetime, store=None, cashier=None):
    with time_machine.travel(moment, tick=False):
        sale = processing.Sale(lines=(BasketLine(line_id="1", amount=amount),))
        return processing.commit_purchase(
            shop.merchant, buyer, sale, receipt_id=f"F{next(_receipts)}", source="test",
            store=store, cashier=cashier, actor=ACTOR).purchase


def tick(moment: datetime) -> int:
    with time_machine.travel(moment, tick=False):
        return feedback.send_due()


def requests_sent(member=None) -> list[str]:
    rows = Message.objects.filter(event=Event.REVIEW_REQUEST).order_by("pk")
    if member is not None:
        rows = rows.filter(member=member)
    return list(rows.values_list("body", flat=True))


def token_of(body: str) -> str:
    return LINK.search(body).group(1)


def rate(shop, buyer, score, comment="", *, moment=None, store=None, cashier=None):
    """A purchase at `moment` (default noon, 1 March 2030), its request sent two hours later,
    the member's review through the link right after."""
    moment = moment or at(2030, 3, 1, 12)
    purchase = buy(shop, buyer, moment=moment, store=store, cashier=cashier)
    assert tick(moment + timedelta(hours=2)) == 1
    link = feedback.find_link(token_of(requests_sent(buyer)[-1]))
    with time_machine.travel(moment + timedelta(hours=2, minutes=5), tick=False):
        review = feedback.submit(link, score=score, comment=comment)
    assert review.purchase_id == purchase.pk
    return review
