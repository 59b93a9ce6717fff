"""The shift at the counter: the live sales book of this device and cashier, its close with a
kept, printable summary, exact figures from the purchases and refunds."""

import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django_scopes import scope

import kopilka
from kopilka.processing import services as processing
from kopilka.processing import shifts
from kopilka.processing.models import Shift
from kopilka.tenancy import access
from tests.cashier.tools import at_counter
from tests.shop import Shop

MSK = ZoneInfo("Europe/Moscow")
CSS = Path(kopilka.__file__).parent / "web/cashier/static/cashier/cashier.css"


@pytest.fixture(autouse=True)
def awake_counter(settings):
    """These tests travel hours between requests: no idle lock (test_signin.py tests it)."""
    settings.COUNTER_IDLE_LOCK = 0


def at(*moment) -> datetime:
    return datetime(*moment, tzinfo=MSK)


def sell(counter, member, amount, *, receipt, payment="card", spend=0):
    principal = access.Principal.at_counter(counter.terminal, counter.staff)
    sale = processing.sale_from([{"line_id": "1", "amount": amount}], points_to_spend=spend,
                                payment_method=payment, store=counter.terminal.store,
                                cashier=counter.staff)
    return processing.commit_purchase(
        counter.terminal.merchant, member, sale, receipt_id=receipt, actor=principal.actor,
        terminal=counter.terminal, store=counter.terminal.store, cashier=counter.staff,
    ).purchase


def refund(counter, purchase, amount, refund_id="F1"):
    principal = access.Principal.at_counter(counter.terminal, counter.staff)
    return processing.refund_purchase(counter.terminal.merchant, purchase, refund_id=refund_id,
                                      actor=principal.actor, amount=amount)


@pytest.fixture
def day(alice):
    """Alice's counter on 1 March 2027: 5 % accrual; anna holds 100.00 points from before."""
    with scope(merchant=alice.merchant):
        shop = Shop(alice).program()
        with time_machine.travel(at(2027, 2, 20, 12, 0), tick=False):
            anna = shop.join()
            shop.buy(anna, 200_000)  # 100.00 points, not at this counter
        with time_machine.travel(at(2027, 3, 1, 7, 0), tick=False):  # the session's start
            counter = at_counter(alice)
            boris = shop.join("+79990000002")
        yield shop, counter, anna, boris


def test_the_live_shift_sums_this_cashiers_sales_at_this_device(day, alice):
    shop, counter, anna, boris = day
    with time_machine.travel(at(2027, 3, 1, 9, 5), tick=False):
        first = sell(counter, anna, 100_000, receipt="A1", payment="cash")  # +50.00 points
    with time_machine.travel(at(2027, 3, 1, 11, 30), tick=False):
        sell(counter, anna, 40_000, receipt="A2", payment="card", spend=5_000)
    with time_machine.travel(at(2027, 3, 1, 12, 0), tick=False):
        sell(counter, boris, 30_000, receipt="A3", payment="card")  # +15.00
        refund(counter, first, 20_000)  # 200.00 of 1 000.00 back: 10.00 points taken back
        # Another cashier at the same device, and a sale not from a counter: not this shift.
        other = at_counter(alice, email="dana@alice.test", device=(counter.terminal, counter.key))
        sell(other, boris, 99_900, receipt="B1")
        shop.buy(boris, 77_700)

        response = counter.client.get("/cashier/shift/")

    assert response.status_code == 200
    book = response.context["book"]
    assert book.opened_at == at(2027, 3, 1, 9, 5)  # the first sale opened it
    assert book.summary == shifts.Summary(
        sales=3, refunds=1, total=170_000, discounts=0, paid_with_points=5_000,
        money=165_000, refunded=20_000,
        points_accrued=5_000 + 1_750 + 1_500, points_spent=5_000,
        points_reversed=1_000, points_returned=0,
        first_sale_at=at(2027, 3, 1, 9, 5), last_sale_at=at(2027, 3, 1, 12, 0),
        by_payment=(shifts.PaymentTotal("card", 2, 65_000),
                    shifts.PaymentTotal("cash", 1, 100_000)),
    )
    assert [sale.receipt_id for sale in response.context["sales"]] == ["A3", "A2", "A1"]
    page = response.content.decode()
    assert "+7999***0001" in page and "+79990000001" not in page  # masked phones
    assert "RUB1,650.00" in page  # money taken
    words = " ".join(re.sub(r"<[^>]+>", " ", page).split())
    assert "Points accrued 82.5 bonuses" in words  # in the program's own words


def test_closing_keeps_the_summary_and_the_next_sale_opens_a_new_shift(day):
    _shop, counter, anna, boris = day
    with time_machine.travel(at(2027, 3, 1, 10, 0), tick=False):
        sell(counter, anna, 100_000, receipt="A1", payment="cash")
    with time_machine.travel(at(2027, 3, 1, 18, 0), tick=False):
        response = counter.client.post("/cashier/shift/close/")
    shift = Shift.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/cashier/shift/?closed={shift.pk}"
    assert (shift.opened_at, shift.closed_at) == (at(2027, 3, 1, 10, 0), at(2027, 3, 1, 18, 0))
    assert (shift.summary["sales"], shift.summary["money"], shift.summary["points_accrued"]) \
        == (1, 100_000, 5_000)

    with time_machine.travel(at(2027, 3, 2, 9, 0), tick=False):
        sell(counter, boris, 30_000, receipt="A2", payment="card")
        page = counter.client.get(response["Location"])
    closed = page.context["closed_summary"]
    assert (closed.sales, closed.money, closed.by_payment) == (
        1, 100_000, (shifts.PaymentTotal("cash", 1, 100_000),))
    live = page.context["book"]
    assert (live.opened_at, live.summary.sales, live.summary.money) == (
        at(2027, 3, 2, 9, 0), 1, 30_000)
    text = page.content.decode()
    assert "Shift closed" in text and "data-print" in text
    assert "@media print" in CSS.read_text()


def test_open_shift_explicitly_then_close_an_empty_one(day):
    _shop, counter, _anna, _boris = day
    with time_machine.travel(at(2027, 3, 1, 8, 0), tick=False):
        assert not counter.client.get("/cashier/shift/").context["book"].is_open
        assert counter.client.post("/cashier/shift/").status_code == 302
        assert counter.client.post("/cashier/shift/").status_code == 302  # still one
        book = counter.client.get("/cashier/shift/").context["book"]
    assert (book.opened_at, book.summary.sales) == (at(2027, 3, 1, 8, 0), 0)
    with time_machine.travel(at(2027, 3, 1, 9, 0), tick=False):
        counter.client.post("/cashier/shift/close/")
    shift = Shift.objects.get()
    assert (shift.opened_at, shift.closed_at, shift.summary["sales"]) == (
        at(2027, 3, 1, 8, 0), at(2027, 3, 1, 9, 0), 0)


def test_nothing_to_close_says_so(day):
    _shop, counter, _anna, _boris = day
    response = counter.client.post("/cashier/shift/close/", follow=True)
    assert "There is no open shift to close." in response.content.decode()
    assert not Shift.objects.exists()


def test_another_cashiers_or_merchants_closed_shift_is_404(day, alice, bob):
    _shop, counter, anna, _boris = day
    sell(counter, anna, 10_000, receipt="A1")
    counter.client.post("/cashier/shift/close/")
    shift = Shift.objects.get()
    colleague = at_counter(alice, email="dana@alice.test", device=(counter.terminal, counter.key))
    assert colleague.client.get(f"/cashier/shift/?closed={shift.pk}").status_code == 404
    assert at_counter(bob).client.get(f"/cashier/shift/?closed={shift.pk}").status_code == 404
    assert counter.client.get("/cashier/shift/?closed=x").status_code == 404
    assert counter.client.get(f"/cashier/shift/?closed={2**70}").status_code == 404
    assert counter.client.get(f"/cashier/shift/?closed={shift.pk}").status_code == 200


def test_the_shift_in_russian(day):
    _shop, counter, anna, _boris = day
    sell(counter, anna, 100_000, receipt="A1", payment="cash")
    at_ru = counter.client
    at_ru.defaults["HTTP_ACCEPT_LANGUAGE"] = "ru"
    page = at_ru.get("/cashier/shift/").content.decode()
    assert "Закрыть смену" in page and "Наличные" in page
    assert "1\xa0000,00\xa0₽" in page
