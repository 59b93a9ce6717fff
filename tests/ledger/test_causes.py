"""Cause types are a closed list that apps extend (ledger/causes.py): an unknown one is refused
before anything is written."""

import pytest
from django_scopes import scope, scopes_disabled

from kopilka.ledger import causes
from kopilka.ledger.models import Entry, Lot
from kopilka.ledger.services import Book, Cause
from kopilka.processing.models import Purchase
from tests.shop import Shop


def test_every_cause_kopilka_writes_is_registered_by_its_app():
    assert sorted(causes.registered()) == [
        "adjustment", "birthday", "campaign_code", "first_purchase", "offer", "purchase",
        "referral", "refund", "relative_birthday", "reward_order", "self_registration", "time",
        "transfer", "welcome", "winback",
    ]
    assert causes.registered()["purchase"].startswith("processing.Purchase id")


def test_an_unregistered_cause_is_refused():
    with pytest.raises(causes.UnknownCause, match="unknown cause type 'lottery'"):
        Cause("lottery", "7")
    with pytest.raises(causes.UnknownCause):
        Cause("Purchase", "7")  # names are exact: no case folding


@pytest.mark.django_db
def test_an_unregistered_cause_writes_nothing(alice):
    with scope(merchant=alice.merchant):
        shop = Shop(alice).program()
        member = shop.join()
        before = Entry.objects.count()
        book = Book.open(member_id=member.pk)
        with pytest.raises(causes.UnknownCause):
            book.credit(100, lot_kind=Lot.Kind.GIFT, entry_kind=Entry.Kind.GRANT,
                        cause=Cause("campaign", "1"), at=book.account.updated_at)
        assert Entry.objects.count() == before


def test_register_refuses_bad_names_and_clashes():
    with pytest.raises(ValueError, match="lower-case letters"):
        causes.register("Referral", "x")
    with pytest.raises(ValueError, match="at most 20 characters"):
        causes.register("a_cause_type_too_long_", "x")
    with pytest.raises(ValueError, match="already registered: processing.Purchase id"):
        causes.register("purchase", "campaigns.Order id")
    causes.register("purchase", causes.registered()["purchase"])  # the same again: no-op
    assert "campaign" not in causes.registered()


@pytest.mark.django_db
def test_a_refund_finds_the_purchases_own_lots_by_its_cause(alice):
    """No foreign key from a lot to its purchase: the refund finds the lots the purchase's
    ACCRUE entries created, and the lots its REDEEM entries spent."""
    from kopilka.ledger import services as ledger

    with scope(merchant=alice.merchant):
        shop = Shop(alice).program(welcome_bonus=1_000, max_redeem_percent="100")
        member = shop.join()
        first = shop.buy(member, 100_000).purchase
        second = shop.buy(member, 20_000, spend=500).purchase
        cause = Cause("purchase", first.pk)
        accrued = ledger.lots_of(cause, Entry.Kind.ACCRUE, account_id=first.account_id)
        assert [(lot.kind, lot.amount) for lot in accrued] == [("accrual", 5_000)]
        spent = ledger.lots_of(Cause("purchase", second.pk), Entry.Kind.REDEEM,
                               account_id=second.account_id)
        assert [(lot.kind, lot.amount) for lot in spent] == [("welcome", 1_000)]
        assert ledger.lots_of(cause, Entry.Kind.ACCRUE, account_id=second.account_id + 1) == []
    with scopes_disabled():
        assert not hasattr(Purchase, "lots")
        assert "purchase" not in {field.name for field in Lot._meta.get_fields()}
