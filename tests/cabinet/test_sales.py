"""The cabinet's sales book (#16): sales and refunds with filters and exact totals, keyset
pages, a purchase's page with its lines, quote, ledger entries and refunds."""

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

from django.urls import reverse
from django_scopes import scope

from kopilka.analytics import rollup
from kopilka.core import clock
from kopilka.core.actor import Actor
from kopilka.tenancy import services as tenancy
from kopilka.tenancy.models import Staff
from tests.cabinet.tools import owner_of, staff_client
from tests.shop import Shop

SALES, REFUNDS = "/cabinet/sales/", "/cabinet/sales/refunds/"


def _figures(page: str) -> dict[str, str]:
    block = page.split("data-totals")[1].split("</div>\n</div>")[0]
    return dict(re.findall(r'figure__label">([^<]+)</p>\s*<p class="figure__value">([^<]+)<',
                           block))


def _book(alice):
    """Three sales today (1 000.00 spending 20.00 points, 300.00, 50.00 in the second store),
    one 10 days ago; a refund of 100.00 of the first."""
    with scope(merchant=alice.merchant):
        shop = Shop(alice)
        anna = shop.join("+79990000041", first_name="Anna")
        boris = shop.join("+79990000042", first_name="Boris")
        old = shop.buy(anna, 200000, receipt="OLD",
                       at=clock.now() - timedelta(days=10)).purchase
        first = shop.buy(anna, 100000, spend=2000, receipt="A1").purchase
        shop.buy(boris, 30000, receipt="B1")
        second_store = tenancy.create_store(alice.merchant, "Riverside", actor=Actor.cli())
        third = shop.buy(boris, 5000, receipt="B2").purchase
        type(third).objects.filter(pk=third.pk).update(store=second_store)
        # An edit behind the services' back: the roll-up the totals read is rebuilt, as
        # docs/analytics.md says for any data repair.
        rollup.rebuild([alice.merchant])
        shop.refund(first, refund_id="F1", amount=10000)
    return anna, boris, old, first, second_store


def test_sales_with_totals_and_filters(alice):
    anna, boris, old, first, riverside = _book(alice)
    client = owner_of(alice)
    page = client.get(SALES).content.decode()
    assert _figures(page) == {
        "Purchases": "3", "Total": "RUB1,350.00", "Paid with points": "RUB20.00",
        "Points accrued": "66.5\xa0bonuses", "Refunded": "RUB100.00"}
    # 5 % of 980.00 (49.00), of 300.00 (15.00) and of 50.00 (2.50)
    assert page.count('class="row__link"') == 3
    by_store = client.get(SALES, {"store": riverside.pk}).content.decode()
    assert _figures(by_store)["Total"] == "RUB50.00"
    by_member = client.get(SALES, {"member": anna.pk}).content.decode()
    assert _figures(by_member)["Purchases"] == "1"
    by_phone = client.get(SALES, {"find": "+79990000042"}).content.decode()
    assert _figures(by_phone)["Total"] == "RUB350.00"
    by_amount = client.get(SALES, {"amount_min": "100", "amount_max": "1000"}).content.decode()
    assert _figures(by_amount)["Total"] == "RUB1,300.00"
    today = clock.now().astimezone(ZoneInfo(alice.merchant.timezone)).date()
    month = client.get(SALES, {"since": (today - timedelta(days=30)).isoformat()}
                       ).content.decode()
    assert _figures(month)["Purchases"] == "4" and _figures(month)["Total"] == "RUB3,350.00"
    by_cashier = client.get(SALES, {"cashier": alice.owner.pk}).content.decode()
    assert _figures(by_cashier)["Purchases"] == "0"


def test_refunds_with_totals(alice):
    _book(alice)
    page = owner_of(alice).get(REFUNDS).content.decode()
    assert _figures(page) == {"Refunds": "1", "Refunded": "RUB100.00",
                              "Points taken back": "4.9\xa0bonuses",
                              "Points given back": "2\xa0bonuses"}
    assert "−RUB100.00" in page and "A1" in page


def test_keyset_pages_of_sales(alice):
    with scope(merchant=alice.merchant):
        shop = Shop(alice)
        start = clock.now() - timedelta(hours=2)
        for n in range(53):  # two of them in the same microsecond
            shop.buy(alice.member, 1000 + n, receipt=f"K{n:02d}",
                     at=start + timedelta(minutes=n if n != 52 else 51))
    client = owner_of(alice)
    first = client.get(SALES).content.decode()
    receipts = re.findall(r"href=\"/cabinet/sales/(\d+)/\"", first)
    assert len(receipts) == 50
    next_url = re.search(r'href="(\?[^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    second = client.get(SALES + next_url).content.decode()
    more = re.findall(r"href=\"/cabinet/sales/(\d+)/\"", second)
    assert len(more) == 3 and not set(more) & set(receipts)
    assert _figures(second)["Purchases"] == "53"


def test_a_purchase_page(alice):
    anna, boris, old, first, riverside = _book(alice)
    page = owner_of(alice).get(reverse("cabinet:sale", args=[first.pk])).content.decode()
    assert "Purchase, receipt A1" in page
    lines = page.split("data-lines")[1].split("</table>")[0]
    assert "RUB1,000.00" in lines and "RUB20.00" in lines and "49" in lines
    entries = page.split("data-entries")[1].split("</table>")[0]
    assert entries.count("<tr>") == 5  # header + spent, accrued; the refund: reversed, returned
    assert "Purchase" in entries and "Refund" in entries
    assert "+49" in entries and "-20" in entries and "-4.9" in entries and "+2" in entries
    refunds = page.split("data-refunds")[1].split("</ul>")[0]
    assert "−RUB100.00" in refunds and "F1" in refunds
    assert f'href="/cabinet/members/{anna.pk}/"' in page


def test_bad_filters_are_form_errors(alice):
    client = owner_of(alice, language="uk")
    response = client.get(SALES, {"since": "2026-02-30", "store": "x", "amount_min": "-1",
                                  "cashier": "999999", "before": "1.1"})
    assert response.status_code == 422
    page = response.content.decode()
    assert "Введіть коректну дату." in page
    for odd in ({"before": "99999999999999999999.1"}, {"before": "1.99999999999999999999"},
                {"member": "-3"}, {"amount_max": "1e400"}, {"until": "0001-01-01"},
                {"since": "9999-12-31"}):
        assert client.get(SALES, odd).status_code in (200, 422), odd
        assert client.get(REFUNDS, odd).status_code in (200, 422), odd


def test_a_cashier_gets_403_and_another_merchant_404(alice, bob):
    _book(alice)
    _staff, cashier = staff_client(alice, Staff.Role.CASHIER)
    assert cashier.get(SALES).status_code == 403
    with scope(merchant=alice.merchant):
        purchase = Shop(alice).buy(alice.member, 1000).purchase
    assert owner_of(bob).get(reverse("cabinet:sale", args=[purchase.pk])).status_code == 404
    assert _figures(owner_of(bob).get(SALES).content.decode())["Purchases"] == "0"


