"""Creating merchants: slugs from names in any script, and a country phone numbers can use."""

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from kopilka.core.actor import Actor
from kopilka.core.errors import Conflict, InvalidInput
from kopilka.tenancy import services as tenancy
from kopilka.tenancy.models import Merchant

pytestmark = pytest.mark.django_db


def create(name, **fields):
    fields.setdefault("owner_email", "owner@example.com")
    return tenancy.create_merchant(name, actor=Actor.cli(), **fields).merchant


@pytest.mark.parametrize("name, slug", [
    ("Кафе У Володи", "kafe-u-volodi"),
    ("Кав'ярня Їжачок", "kavyarnya-izhachok"),  # the apostrophe does not split the word
    ("Кав’ярня «Ґанок і Єнот»", "kavyarnya-ganok-i-ienot"),
    ("Жёлтый Юг", "zheltyy-yug"),
    ("Пекарня «Хлебъ» №1", "pekarnya-khleb-no1"),
    ("Қазақ Дәмі", "qazaq-dami"),
    ("Café Déjà Vu", "cafe-deja-vu"),
    ("Coffee Point", "coffee-point"),
])
def test_a_name_in_any_script_gives_a_readable_slug(name, slug):
    assert create(name).slug == slug


def test_the_same_name_twice_gets_a_numbered_slug():
    assert [create("Кафе У Володи").slug for _ in range(3)] == [
        "kafe-u-volodi", "kafe-u-volodi-2", "kafe-u-volodi-3"]


def test_a_name_without_letters_or_digits_gets_merchant():
    assert [create(name).slug for name in ("!!!", "★")] == ["merchant", "merchant-2"]


def test_a_long_name_is_cut_at_fifty_characters_without_a_trailing_hyphen():
    slug = create("Мама " * 20).slug  # the 50th character is a hyphen
    assert (slug, len(slug)) == ("mama-" * 9 + "mama", 49)


def test_a_given_slug_is_transliterated_too_and_must_be_free():
    assert create("Shop", slug="Кафе У Володи").slug == "kafe-u-volodi"
    with pytest.raises(Conflict) as error:
        create("Other", slug="kafe-u-volodi")
    assert error.value.field == "slug"
    with pytest.raises(InvalidInput) as error:
        create("Other", slug="!!!")
    assert error.value.field == "slug"


@pytest.mark.parametrize("country", ["ZZ", "XX", "UK", "Russia", "r", "001"])
def test_a_country_without_a_phone_numbering_plan_is_refused_on_country(country):
    with translation.override("en"), pytest.raises(InvalidInput) as error:
        create("Shop", country=country)
    assert error.value.field == "country"
    assert error.value.detail == (
        f"{country.upper()!r} is not an ISO 3166 country code with a phone numbering plan "
        "(e.g. RU, UA, KZ).")
    assert not Merchant.objects.exists()


def test_the_country_message_is_translated():
    with translation.override("uk"), pytest.raises(InvalidInput) as error:
        create("Shop", country="ZZ")
    assert error.value.detail == (
        "'ZZ' — не код країни ISO 3166 з планом нумерації телефонів (наприклад, RU, UA, KZ).")


@pytest.mark.parametrize("country, currency, expected", [
    ("kz", "KZT", "KZ"), (None, "UAH", "UA"), (None, "EUR", "RU"), ("de", "EUR", "DE"),
])
def test_a_known_country_is_kept_upper_case(country, currency, expected):
    assert create("Shop", country=country, currency=currency).country == expected


def test_the_operators_admin_form_validates_the_country_too():
    merchant = create("Shop")
    merchant.country = "ZZ"
    with translation.override("en"), pytest.raises(ValidationError) as error:
        merchant.full_clean()
    assert list(error.value.message_dict) == ["country"]
