"""A promo code at the counter: typed (or scanned by a USB scanner) into the sale form, the
live quote shows what it adds, the receipt records it once; a code that cannot be used is a
form error in the cashier's language and sells nothing.

The program (tests/shop.py): 5 %, points with 2 decimals worth 1 kopeck each."""

from datetime import date

import pytest
from django_scopes import scopes_disabled

from kopilka.campaigns import promo as promos
from kopilka.campaigns.models import PromoCode, PromoUse
from kopilka.core.actor import Actor
from kopilka.processing.models import Purchase
from tests.cashier.tools import at_counter

pytestmark = pytest.mark.django_db
HX = {"HX-Request": "true"}


@pytest.fixture
def member(shop):
    shop.program()
    promos.create(shop.merchant, code="COFFEE2X", rule={"multiply_accrual": 2},
                  starts_on=date(2020, 1, 1), per_member=1, min_check=50_000,
                  actor=Actor.cli())
    return shop.join(phone="+79990000011", first_name="Olga")


def counter_of(alice, language="en"):
    return at_counter(alice, language=language)


def post(counter, member, path, **fields):
    body = {"amount": "1000", "payment": "card", "receipt": "W-PROMO-1", **fields}
    return counter.client.post(f"/cashier/members/{member.pk}/sale/{path}", body, headers=HX)


def test_the_quote_shows_what_the_code_adds(alice, member):
    response = post(counter_of(alice), member, "quote/", promo="coffee2x")
    quote = response.context["quote"]
    assert (quote.accrual_points, quote.promo.points) == (10_000, 5_000)
    html = response.content.decode()
    assert "+100\u00a0bonuses" in html and "of them by promo code COFFEE2X" in html
    assert "+50\u00a0bonuses" in html


def test_a_sale_with_the_code_records_it_once(alice, member):
    counter = counter_of(alice)
    sold = post(counter, member, "", promo="COFFEE2X")
    assert sold.status_code == 200
    html = sold.content.decode()
    assert 'data-receipt="promo">+50\u00a0bonuses' in html
    again = post(counter, member, "", promo="COFFEE2X")  # a double click: the same receipt
    assert again.status_code == 200 and again.context["result"].replayed
    with scopes_disabled():
        assert Purchase.objects.get().points_accrued == 10_000
        assert (PromoUse.objects.count(), PromoCode.objects.get().uses) == (1, 1)


@pytest.mark.parametrize(("language", "fields", "message"), [
    ("en", {"promo": "NOPE"}, "There is no promo code NOPE."),
    ("en", {"amount": "499,99", "promo": "COFFEE2X"},
     "The promo code COFFEE2X needs a check of at least RUB500.00."),
    ("ru", {"amount": "499,99", "promo": "COFFEE2X"},
     "Промокод COFFEE2X действует для чека от 500,00\u00a0₽."),
    ("uk", {"promo": "NOPE"}, "Промокоду NOPE немає."),
])
def test_a_code_that_cannot_be_used_is_a_form_error(alice, member, language, fields, message):
    response = post(counter_of(alice, language), member, "", **fields)
    assert response.status_code == 422
    assert response.context["form"].errors["promo"] == [message]
    assert message in response.content.decode()
    with scopes_disabled():
        assert not Purchase.objects.exists()


def test_once_per_member_at_the_counter(alice, member):
    counter = counter_of(alice)
    assert post(counter, member, "", promo="COFFEE2X", receipt="W-1").status_code == 200
    second = post(counter, member, "", promo="COFFEE2X", receipt="W-2")
    assert second.status_code == 422
    assert second.context["form"].errors["promo"] == [
        "This customer has used the promo code COFFEE2X already (1 time is the most)."]
    quote = post(counter, member, "quote/", promo="COFFEE2X")
    assert quote.context["quote"] is None and quote.context["promo_error"]


def test_a_codes_product_group_is_offered_as_a_split(alice, member):
    promos.create(alice.merchant, code="LATTE2X", actor=Actor.cli(), starts_on=date(2020, 1, 1),
                  rule={"multiply_accrual": 2, "product_groups": ["coffee"]})
    counter = counter_of(alice)
    form = counter.client.get(f"/cashier/members/{member.pk}/sale/").context["form"]
    assert form.groups == ["coffee"]
    # 400.00 of coffee in a 1 000.00 sale: coffee 10 % = 40.00, the rest 5 % = 30.00
    response = post(counter, member, "quote/", promo="latte2x", group_1="400")
    quote = response.context["quote"]
    assert (quote.accrual_points, quote.promo.points) == (7_000, 2_000)
