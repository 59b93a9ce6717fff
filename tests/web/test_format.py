"""Money and dates in the active language, by Babel (CLDR), with the exact characters CLDR uses:
U+00A0 (no-break space) inside and after amounts, U+202F (narrow no-break space) before "г."
and before AM/PM."""

import datetime as dt

import pytest
from django.template import Context, Template, TemplateSyntaxError
from django.utils import timezone, translation

NBSP, NNBSP = "\u00a0", "\u202f"
MOMENT = dt.datetime(2026, 3, 5, 21, 30, tzinfo=dt.UTC)  # 6 March 00:30 in Moscow


def render(source: str, language: str, **context) -> str:
    with translation.override(language):
        return Template("{% load kopilka %}" + source).render(Context(context))


@pytest.mark.parametrize(
    ("language", "amount", "currency", "expected"),
    [
        ("ru", 150000, "RUB", f"1{NBSP}500,00{NBSP}₽"),
        ("uk", 150000, "RUB", f"1{NBSP}500,00{NBSP}RUB"),
        ("en", 150000, "RUB", "RUB1,500.00"),
        ("ru", 150000, "UAH", f"1{NBSP}500,00{NBSP}₴"),
        ("uk", 150000, "UAH", f"1{NBSP}500,00{NBSP}₴"),
        ("en", 150000, "UAH", "UAH1,500.00"),
        ("en", 150000, "USD", "$1,500.00"),
        ("ru", 5, "RUB", f"0,05{NBSP}₽"),
        ("ru", -12345, "RUB", f"-123,45{NBSP}₽"),
        ("en", 150000, "JPY", "¥150,000"),  # no minor units: 150000 yen
        ("ru", 0, "EUR", f"0,00{NBSP}€"),
    ],
)
def test_money(language, amount, currency, expected):
    assert render("{% money amount currency %}", language, amount=amount,
                  currency=currency) == expected


def test_money_refuses_a_float_and_leaves_none_empty():
    with pytest.raises(TypeError, match="int of minor units"):
        render("{% money amount 'RUB' %}", "ru", amount=1500.0)
    assert render("{% money amount 'RUB' %}", "ru", amount=None) == ""


def test_money_into_a_variable_for_a_translated_sentence():
    assert render("{% money 2500 'RUB' as total %}[{{ total }}]", "ru") == f"[25,00{NBSP}₽]"


@pytest.mark.parametrize(
    ("language", "expected"),
    [("ru", f"5 мар. 2026{NNBSP}г."), ("uk", f"5 бер. 2026{NNBSP}р."), ("en", "Mar 5, 2026")],
)
def test_date_of_a_date(language, expected):
    assert render("{% date day %}", language, day=dt.date(2026, 3, 5)) == expected


@pytest.mark.parametrize(
    ("language", "expected"),
    [("ru", f"6 марта 2026{NNBSP}г."), ("uk", f"6 березня 2026{NNBSP}р."),
     ("en", "March 6, 2026")],
)
def test_date_of_a_moment_is_the_local_day(language, expected):
    # 21:30 UTC is already the next day in Moscow.
    assert render('{% date moment "Europe/Moscow" format="long" %}', language,
                  moment=MOMENT) == expected


@pytest.mark.parametrize(
    ("language", "zone", "expected"),
    [
        ("ru", "Europe/Moscow", f"6 мар. 2026{NNBSP}г., 00:30"),
        ("uk", "Europe/Kyiv", f"5 бер. 2026{NNBSP}р., 23:30"),
        ("en", "Europe/Moscow", f"Mar 6, 2026, 12:30{NNBSP}AM"),
        ("en", "America/New_York", f"Mar 5, 2026, 4:30{NNBSP}PM"),
    ],
)
def test_datetime_in_the_merchants_zone(language, zone, expected):
    assert render("{% datetime moment zone %}", language, moment=MOMENT, zone=zone) == expected


def test_datetime_defaults_to_the_active_time_zone():
    with timezone.override("Asia/Vladivostok"):  # UTC+10
        assert render("{% datetime moment %}", "ru", moment=MOMENT) == (
            f"6 мар. 2026{NNBSP}г., 07:30"
        )


def test_unknown_format_is_a_template_error():
    with pytest.raises(TemplateSyntaxError, match="format must be one of"):
        render('{% date day format="tiny" %}', "en", day=dt.date(2026, 3, 5))
