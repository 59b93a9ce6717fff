"""The pipelined commit (processing/fastsale.py) writes the same rows as the ORM path.

Each scenario runs twice from the same state — once through the ORM path, once pipelined, as
the POS's lean path runs it (the transaction's pipeline opened around it) — with the clock
frozen and the id sequences set back in between, and every row either path writes is
compared: purchases, lines, lots, entries (their SHA-256 chain included), accounts, the audit
entry, the analytics roll-up, outbox messages and webhook deliveries. On SQLite the fast path
declines and the ORM path does the work."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection, transaction
from django_scopes import scopes_disabled

from kopilka.analytics.models import DayFigures
from kopilka.core.errors import Conflict
from kopilka.core.models import AuditEntry
from kopilka.ledger.models import Account, Entry, Lot
from kopilka.ledger.pipeline import Pipeline
from kopilka.members import services as members
from kopilka.messaging.models import Message
from kopilka.processing import fastsale, sale
from kopilka.processing import services as processing
from kopilka.processing.models import Purchase, PurchaseLine
from kopilka.programs.engine import BasketLine
from kopilka.webhooks.models import Delivery
from tests.shop import ACTOR

pytestmark = pytest.mark.django_db
postgres_only = pytest.mark.skipif(connection.vendor != "postgresql",
                                   reason="the pipelined commit is PostgreSQL's")
TABLES = (Purchase, PurchaseLine, Lot, Entry, Account, AuditEntry, DayFigures, Message, Delivery)
T0 = datetime(2026, 6, 10, 9, 0, tzinfo=UTC)
PHONE = "+79995550001"


def rows() -> dict:
    with scopes_disabled():
        found = {model.__name__: list(model.objects.order_by("pk").values())
                 for model in TABLES}
    for delivery in found["Delivery"]:  # a random UUID per event, whichever path emits it
        delivery["event_id"] = delivery["payload"]["id"] = "<uuid4>"
    return found


def sequences() -> list[tuple[str, int, bool]]:
    found = []
    with connection.cursor() as cursor:
        for model in TABLES:
            cursor.execute("SELECT pg_get_serial_sequence(%s, %s)",
                           [model._meta.db_table, model._meta.pk.column])
            name = cursor.fetchone()[0]
            cursor.execute(f"SELECT last_value, is_called FROM {name}")
            found.append((name, *cursor.fetchone()))
    return found


def set_back(saved) -> None:
    with connection.cursor() as cursor:
        for name, value, called in saved:
            cursor.execute("SELECT setval(%s, %s, %s)", [name, value, called])


def buy(shop, amounts, *, spend=0, receipt="R-1"):
    member = members.find_member(shop.merchant, phone=PHONE)  # the account joined, as the API
    lines = tuple(BasketLine(line_id=str(n), amount=a, product_group="coffee")
                  for n, a in enumerate(amounts))
    return processing.commit_purchase(
        shop.merchant, member, sale.Sale(lines=lines, points_to_spend=spend),
        receipt_id=receipt, source="test", actor=ACTOR)


def outcome(call):
    try:
        result = call()
    except Conflict as error:
        return ("refused", error.field, str(error))
    return (result.purchase.pk, result.available, result.pending, result.tier_changed,
            result.replayed)


def both_paths(settings, monkeypatch, steps, at):
    """Run `steps` (callables) by the ORM path, then from the same state pipelined; the
    outcomes and rows of each."""
    taken = []
    real = fastsale.commit

    def spy(*args, **kwargs):
        try:
            result = real(*args, **kwargs)
        except Conflict:
            taken.append(True)  # refused on the fast path itself
            raise
        taken.append(result is not None)
        return result

    monkeypatch.setattr(fastsale, "commit", spy)
    saved, savepoint = sequences(), transaction.savepoint_create()
    settings.PIPELINED_COMMIT = False
    with time_machine.travel(at, tick=False):
        orm = ([outcome(step) for step in steps], rows())
    assert taken == [False] * len(steps)
    transaction.savepoint_rollback(savepoint)
    set_back(saved)
    taken.clear()
    settings.PIPELINED_COMMIT = True
    with time_machine.travel(at, tick=False):
        pipeline = Pipeline(connection)  # as the lean path opens it for POST /pos/purchases
        try:
            answers = [outcome(step) for step in steps]
        finally:
            pipeline.close(commit=False, check=True)
        fast = (answers, rows())
    for table, written in orm[1].items():  # table by table, so a failure names it
        assert fast[1][table] == written, table
    return orm, fast, taken


@postgres_only
def test_first_purchase_with_gift_welcome_bonus_and_tier(shop, settings, monkeypatch):
    with time_machine.travel(T0 - timedelta(days=1), tick=False):
        shop.program(welcome_bonus=1_000, max_redeem_percent="50",
                     first_purchase_gift={"points": 300, "validity_days": 30},
                     expiry={"mode": "after_accrual", "days": 365},
                     tiers=[{"code": "base", "name": "Base",
                             "accrual": {"kind": "percent", "percent": "5"}},
                            {"code": "gold", "name": "Gold", "threshold": 100_000,
                             "accrual": {"kind": "percent", "percent": "10"}}])
        shop.join(phone=PHONE)
    steps = [lambda: buy(shop, [60_000, 40_000], spend=700, receipt="R-1"),
             lambda: buy(shop, [50_000], receipt="R-2"),
             lambda: buy(shop, [50_000], receipt="R-2"),  # a retry: the first answer again
             lambda: buy(shop, [10_000], spend=999_999, receipt="R-3")]  # refused
    orm, fast, taken = both_paths(settings, monkeypatch, steps, T0)
    assert taken == [True, True, True, True]
    assert fast == orm
    answers, written = orm
    assert [a[1:] for a in answers[:3]] == [(1_000 - 700 + 4_965 + 300, 0, True, False),
                                           (10_565, 0, False, False),
                                           (10_565, 0, False, True)]
    assert answers[3][0] == "refused"
    assert [e["kind"] for e in written["Entry"]] == ["grant", "redeem", "accrue", "grant",
                                                     "accrue"]
    assert len(written["Purchase"]) == 2 and len(written["AuditEntry"]) >= 2


@postgres_only
def test_pending_accrual_and_expiry_journalled_at_the_commit(shop, settings, monkeypatch):
    with time_machine.travel(T0 - timedelta(days=40), tick=False):
        shop.program(welcome_bonus=2_000, welcome_validity_days=30, activation_delay_days=14)
        shop.join(phone=PHONE)
    steps = [lambda: buy(shop, [100_000], receipt="R-1"),
             lambda: buy(shop, [20_000], spend=1, receipt="R-2")]  # nothing spendable left
    orm, fast, taken = both_paths(settings, monkeypatch, steps, T0)
    assert taken == [True, True]
    assert fast == orm
    answers, written = orm
    assert answers[0][1:] == (0, 5_000, False, False)
    assert answers[1][0] == "refused"
    assert [(e["kind"], e["available_delta"], e["pending_delta"])
            for e in written["Entry"]] == [("grant", 2_000, 0), ("expire", -2_000, 0),
                                           ("accrue", 0, 5_000)]


@postgres_only
def test_the_outbox_and_the_webhook_deliveries_are_the_same(shop, settings, monkeypatch):
    from datetime import time

    from kopilka.core.actor import Actor
    from kopilka.members.models import Consent
    from kopilka.messaging import services as messaging
    from kopilka.messaging.models import Settings as MessagingSettings
    from kopilka.webhooks import services as webhooks

    settings.WEBHOOKS_ALLOW_PRIVATE = True
    with time_machine.travel(T0 - timedelta(days=1), tick=False):
        shop.program(welcome_bonus=1_000, max_redeem_percent="50")
        member = shop.join(phone=PHONE)
        members.grant_consent(member, members.ConsentGiven(kind=Consent.Kind.MESSAGES,
                                                           text_version="v1"),
                              channel="cashier", actor=Actor.cli())
        messaging.save_settings(shop.merchant, transactional=MessagingSettings.Transactional.ALL,
                                quiet_from=time(23), quiet_to=time(0, 1), actor=Actor.cli())
        webhooks.create_endpoint(shop.merchant, url="http://127.0.0.1:9/hook",
                                 events=["purchase.committed"], actor=Actor.cli())
    steps = [lambda: buy(shop, [60_000], spend=500, receipt="R-1"),
             lambda: buy(shop, [40_000], receipt="R-2")]
    orm, fast, taken = both_paths(settings, monkeypatch, steps, T0)
    assert taken == [True, True]
    assert fast == orm
    written = orm[1]
    assert len(written["Message"]) == 2 and len(written["Delivery"]) == 2
    assert [m["event"] for m in written["Message"]] == ["first_purchase", "accrual"]


def test_on_sqlite_or_switched_off_the_orm_path_commits(shop, settings):
    shop.program()
    shop.join(phone=PHONE)
    settings.PIPELINED_COMMIT = connection.vendor == "postgresql"
    # Inside the test's transaction and without the lean path's pipeline: not taken.
    member = members.find_member(shop.merchant, phone=PHONE)
    receipt = sale.Receipt(receipt_id="R-1", source="test", actor=ACTOR)
    one = sale.Sale(lines=(BasketLine("1", 10_000),))
    assert fastsale.commit(shop.merchant, member, one, receipt=receipt, confirmed=None) is None
    assert buy(shop, [10_000]).available == 500


def test_the_sale_entry_point_takes_only_known_arguments():
    """A new argument of commit_purchase (a promo code, ...) must reach the fast path's checks
    too, or it would be ignored there: add it to fastsale (or return None for it) first."""
    import inspect

    assert list(inspect.signature(sale.commit_purchase).parameters) == [
        "merchant", "member", "sale", "receipt_id", "actor", "source", "terminal", "store",
        "cashier", "code"]


def test_the_sale_carries_only_what_the_fast_path_knows():
    """A new field of Sale (a promo code, ...) must be declined by fastsale.commit or compared
    on both paths here before it reaches the pipelined commit."""
    import dataclasses

    known = {"lines", "points_to_spend", "payment_method", "occurred_at", "store_id",
             "cashier_id", "promo"}  # promo: declined (fastsale.commit)
    assert {field.name for field in dataclasses.fields(sale.Sale)} <= known
