"""Sales racing for the last uses of a limited promo code, in real concurrent transactions
(SQLite file or PostgreSQL): exactly as many win as the code has uses left."""

from datetime import date

import pytest
from django_scopes import scope, scopes_disabled

from kopilka.campaigns import promo as promos
from kopilka.campaigns.models import PromoCode, PromoUse
from kopilka.core.errors import Conflict
from kopilka.ledger.verify import verify
from kopilka.processing import services as processing
from kopilka.processing.models import Purchase
from tests.clients import run_in_threads
from tests.shop import ACTOR

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.mark.parametrize(("sales", "limit"), [(2, 1), (8, 3)])
def test_sales_racing_for_the_last_uses_exactly_the_limit_wins(shop, sales, limit):
    shop.program()
    merchant = shop.merchant
    buyers = [shop.join(phone=f"+7999000{n:04d}") for n in range(sales)]
    promos.create(merchant, code="LAST", rule={"multiply_accrual": 2}, max_uses=limit,
                  starts_on=date(2020, 1, 1), actor=ACTOR)

    def sell(n):
        with scope(merchant=merchant):
            offer = promos.for_sale(merchant, "LAST", member=buyers[n])
            sale = processing.sale_from([{"line_id": "1", "amount": 100_000}], promo=offer)
            return processing.commit_purchase(merchant, buyers[n], sale, receipt_id=f"S{n}",
                                              source="test", actor=ACTOR)

    outcomes = run_in_threads(sales, sell)
    won = [o for o in outcomes if not isinstance(o, Exception)]
    refused = [o for o in outcomes if isinstance(o, Conflict)]
    assert (len(won), len(refused)) == (limit, sales - limit), outcomes
    assert all(error.field == "promo_code" for error in refused)
    assert all(result.purchase.points_accrued == 10_000 for result in won)
    with scope(merchant=merchant):
        assert PromoCode.objects.get().uses == limit
        assert PromoUse.objects.count() == limit
        assert Purchase.objects.filter(receipt_id__startswith="S").count() == limit
    with scopes_disabled():
        assert verify()[1] == []
