"""`verify-ledger` beside live traffic: sales commit in other threads while it runs, and a
sound ledger is never reported broken (it reads one snapshot: ledger/verify.py)."""

import threading

import pytest
from django.db import connection
from django_scopes import scope, scopes_disabled

from kopilka.ledger.verify import verify

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

MEMBERS, CASHIERS, SALES = 3, 2, 40  # SALES per cashier


def test_verify_reports_no_false_alarm_while_sales_commit(shop):
    shop.program(welcome_bonus=1_000, max_redeem_percent="100")
    members = [shop.join(phone=f"+7999000{n:04d}") for n in range(MEMBERS)]
    merchant = shop.merchant
    errors = []

    def cashier(n):
        try:
            with scope(merchant=merchant):
                for sale in range(SALES):
                    # Accrue and spend, so balances, lots and entries all move.
                    shop.buy(members[(n + sale) % MEMBERS], 10_000, spend=100 * (sale % 2),
                             receipt=f"L{n}-{sale}")
        except Exception as error:  # asserted on below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=cashier, args=(n,)) for n in range(CASHIERS)]
    for thread in threads:
        thread.start()
    runs, alarms = 0, []
    with scopes_disabled():
        while any(thread.is_alive() for thread in threads):
            _checked, breaches = verify()
            runs += 1
            alarms += breaches
        for thread in threads:
            thread.join(timeout=120)
        assert errors == []
        assert runs >= 3, "the sales finished before verify could run beside them"
        assert [str(alarm) for alarm in alarms] == []
        assert verify() == (MEMBERS + 1, [])  # with alice's fixture member
