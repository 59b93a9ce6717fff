"""Every worked example of the seed documents, with exact figures.

001 = BonusPlus, 003 = PolyCard (see /work/shared/seeds). Amounts are minor units: 99_900 is
999.00; points are the program's minor units (precision 2: 2997 is 29.97 bonuses).
"""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from kopilka.programs.config import ProgramConfig
from kopilka.programs.engine import (
    Basket,
    BasketLine,
    Hint,
    MemberState,
    QuoteContext,
    compile_program,
    expires_at_for,
    expiry_deadline_after_last_purchase,
    quote,
    tier_for_lifetime,
    welcome_lot,
)

MSK = "Europe/Moscow"
KYIV = "Europe/Kyiv"
RICH = 10**9


def compile_(data: dict):
    return compile_program(ProgramConfig.model_validate(data))


def at(text: str, zone: str = MSK) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))


def sell(program, *lines, tier="standard", when="2026-11-23 15:00", tz=MSK, member=None, **ctx):
    items = tuple(
        item if isinstance(item, BasketLine) else BasketLine(f"l{i}", item)
        for i, item in enumerate(lines)
    )
    return quote(
        program,
        member or MemberState(tier, available_points=RICH),
        Basket(items),
        QuoteContext(at=at(when, tz), tz=tz, **ctx),
    )


# --- BonusPlus (001) ----------------------------------------------------------------------------

PROGRESSIVE_3_10 = {
    "kind": "progressive",
    "brackets": [{"from": 0, "percent": 3}, {"from": 100_000, "percent": 10}],
}


@pytest.mark.parametrize(
    ("amount", "points"), [(99_900, 2997), (100_000, 10_000), (99_999, 2999), (150_000, 15_000)]
)
def test_up_to_1000_rubles_3_percent_from_1000_10_percent(amount, points):
    """«при покупке до 1000 рублей копится 3% бонусами, а свыше 1000 рублей – 10%»

    Points precision 2 and 1 bonus = 1 ruble: one point minor unit is one kopeck.
    999.00 -> 29.97 bonuses; 1 000.00 -> 100.00 bonuses; 999.99 -> 29.9997, rounded down.
    """
    program = compile_(
        {
            "type": "bonus",
            "tiers": [{"code": "standard", "name": "Standard", "accrual": PROGRESSIVE_3_10}],
        }
    )
    assert sell(program, amount).accrual_points == points


def test_progressive_bracket_is_chosen_by_the_whole_check():
    """Two lines of 600.00 and 400.00 make a 1 000.00 check: both lines earn 10 %."""
    program = compile_(
        {
            "type": "bonus",
            "tiers": [{"code": "standard", "name": "Standard", "accrual": PROGRESSIVE_3_10}],
        }
    )
    q = sell(program, 60_000, 40_000)
    assert [ln.accrual_points for ln in q.lines] == [6000, 4000]


@pytest.mark.parametrize(("amount", "bonuses"), [(299_900, 100), (99_900, 0), (100_000, 50)])
def test_50_bonuses_for_every_full_1000_rubles(amount, bonuses):
    """«с каждой 1000 рублей в чеке начисляется 50 бонусов» — 2 999 rubles -> 100 bonuses."""
    whole_bonuses = compile_(
        {
            "type": "bonus",
            "points_precision": 0,
            "point_value": 100,  # 1 bonus = 1 ruble = 100 kopecks
            "tiers": [
                {
                    "code": "standard",
                    "name": "Standard",
                    "accrual": {"kind": "per_amount", "points": 50, "per": 100_000},
                }
            ],
        }
    )
    assert sell(whole_bonuses, amount).accrual_points == bonuses
    # The same program with kopeck precision: 50 bonuses are 5000 point minor units.
    kopeck_bonuses = compile_(
        {
            "type": "bonus",
            "tiers": [
                {
                    "code": "standard",
                    "name": "Standard",
                    "accrual": {"kind": "per_amount", "points": 5000, "per": 100_000},
                }
            ],
        }
    )
    assert sell(kopeck_bonuses, amount).accrual_points == bonuses * 100


TIERS_3_5 = {
    "type": "bonus",
    "tiers": [
        {"code": "standard", "name": "Стандартная", "accrual": {"kind": "percent", "percent": 3}},
        {
            "code": "gold",
            "name": "Золотая",
            "threshold": 1_000_000,
            "accrual": {"kind": "percent", "percent": 5},
        },
    ],
}


def test_card_level_changes_from_3_to_5_percent_at_10000_rubles():
    """«при достижении клиентом общей суммы покупок 10000 рублей, уровень его карты меняется
    с 3% на 5%»"""
    program = compile_(TIERS_3_5)
    assert tier_for_lifetime(program, 999_999, "standard") == "standard"
    assert tier_for_lifetime(program, 1_000_000, "standard") == "gold"
    assert sell(program, 100_000, tier="standard").accrual_points == 3000
    assert sell(program, 100_000, tier="gold").accrual_points == 5000


def test_member_page_shows_what_is_left_to_the_next_card():
    """«На какую сумму нужно совершить покупки для получения следующей карты»; OpenBonus-style
    cashier hint "120 to Gold" (ENG-10)."""
    program = compile_(TIERS_3_5)
    member = MemberState("standard", lifetime_spend=988_000)
    assert sell(program, 100, member=member).hints == (
        Hint(
            "amount_to_next_tier", {"tier_code": "gold", "tier_name": "Золотая", "amount": 12_000}
        ),
    )


def test_discount_up_to_1000_rubles_5_percent_from_1000_10_percent():
    """«при сумме покупки до 1000 рублей скидка 5%, от 1000 рублей – 10%»"""
    program = compile_(
        {
            "type": "discount",
            "tiers": [
                {
                    "code": "standard",
                    "name": "Standard",
                    "discount": {
                        "kind": "progressive",
                        "brackets": [{"from": 0, "percent": 5}, {"from": 100_000, "percent": 10}],
                    },
                }
            ],
        }
    )
    assert sell(program, 99_900).discount == 4995
    q = sell(program, 50_000, 30_000, 20_000)
    assert q.discount == 10_000
    assert [ln.discount for ln in q.lines] == [5000, 3000, 2000]
    assert q.payable == 90_000


def test_bonus_discount_program_accrues_on_the_discounted_amount():
    """«Бонусно-дисконтная программа»: 5 % discount and 3 % bonus on the rest."""
    program = compile_(
        {
            "type": "hybrid",
            "tiers": [
                {
                    "code": "standard",
                    "name": "Standard",
                    "accrual": {"kind": "percent", "percent": 3},
                    "discount": {"kind": "percent", "percent": 5},
                }
            ],
        }
    )
    q = sell(program, 100_000)
    assert (q.discount, q.accrual_points) == (5000, 2850)  # 3 % of 950.00 = 28.50


# «с 9 до 12 начисляем в 2 раза больше бонусов» on a 3 % tier.
MORNING_DOUBLE = {
    "type": "bonus",
    "tiers": [{"code": "standard", "name": "Standard",
               "accrual": {"kind": "percent", "percent": 3}}],
    "rules": [
        {
            "code": "morning",
            "name": "9-12 double bonuses",
            "conditions": {"time_from": "09:00", "time_to": "12:00"},
            "effects": {"multiply_accrual": 2},
        }
    ],
}


@pytest.mark.parametrize(
    ("when", "doubled"),
    [
        ("2026-11-23 08:59", False),
        ("2026-11-23 09:00", True),
        ("2026-11-23 11:59", True),
        ("2026-11-23 12:00", False),
    ],
)
def test_from_9_to_12_double_bonuses_in_the_merchants_time(when, doubled):
    """«с 9 до 12 начисляем в 2 раза больше бонусов»: 09:00 counts, 12:00 does not."""
    program = compile_(MORNING_DOUBLE)
    q = sell(program, 100_000, when=when)
    assert q.accrual_points == (6000 if doubled else 3000)
    assert q.lines[0].rules == (("morning",) if doubled else ())


def test_9_to_12_is_the_merchants_local_time_not_utc():
    program = compile_(MORNING_DOUBLE)
    # 10:00 UTC falls in "9-12" for a merchant on UTC, but is 13:00 for one in Moscow.
    q = sell(program, 100_000, when="2026-11-23 10:00", tz="UTC")
    assert q.accrual_points == 6000  # in a UTC merchant it is doubled ...
    member = MemberState("standard")
    q = quote(
        program,
        member,
        Basket((BasketLine("a", 100_000),)),
        QuoteContext(at=dt.datetime(2026, 11, 23, 10, tzinfo=dt.UTC), tz=MSK),
    )
    assert q.accrual_points == 3000  # ... in a Moscow merchant it is not
    q = quote(
        program,
        member,
        Basket((BasketLine("a", 100_000),)),
        QuoteContext(at=dt.datetime(2026, 11, 23, 6, tzinfo=dt.UTC), tz=MSK),
    )
    assert q.accrual_points == 6000  # 06:00 UTC = 09:00 Moscow


def test_services_10_percent_payable_up_to_50_accessories_3_percent_not_payable():
    """«за услуги можно начислять 10% бонусов, а на сопутствующие товары только 3%. И при этом,
    за услуги можно расплатиться бонусами до 50%, а на сопутствующие товары – бонусы [нельзя]»"""
    program = compile_(
        {
            "type": "bonus",
            "tiers": [
                {
                    "code": "standard",
                    "name": "Standard",
                    "accrual": {"kind": "percent", "percent": 3},
                }
            ],
            "rules": [
                {
                    "code": "services",
                    "name": "Услуги",
                    "conditions": {"product_groups": ["services"]},
                    "effects": {"set_percent": 10, "max_redeem_percent": 50},
                },
                {
                    "code": "accessories",
                    "name": "Сопутствующие товары",
                    "conditions": {"product_groups": ["accessories"]},
                    "effects": {"max_redeem_percent": 0},
                },
            ],
        }
    )
    basket = (
        BasketLine("wash", 100_000, product_group="services"),
        BasketLine("cloth", 50_000, product_group="accessories"),
    )
    q = sell(program, *basket)
    assert [ln.accrual_points for ln in q.lines] == [10_000, 1500]
    assert [ln.max_redeem_money for ln in q.lines] == [50_000, 0]
    assert q.max_redeem_points == 50_000
    q = sell(program, *basket, points_to_spend=RICH)
    assert [ln.redeem_money for ln in q.lines] == [50_000, 0]
    # The service paid half with points earns on the half paid in money only.
    assert [ln.accrual_points for ln in q.lines] == [5000, 1500]


def test_at_most_50_percent_of_the_check_payable_with_bonuses():
    """«% чека, который можно погасить бонусами — обычно это 50% от суммы чека»"""
    program = compile_(
        {
            "type": "bonus",
            "max_redeem_percent": 50,
            "tiers": [
                {
                    "code": "standard",
                    "name": "Standard",
                    "accrual": {"kind": "percent", "percent": 3},
                }
            ],
        }
    )
    q = sell(program, 100_000, points_to_spend=RICH)
    assert (q.max_redeem_money, q.points_spent, q.payable) == (50_000, 50_000, 50_000)


def test_bonuses_paid_count_as_a_discount_spread_over_the_lines():
    """«бонусы учитываются в 1С, как скидка на чек. При этом скидка на конкретную позицию
    номенклатуры в чеке будет пропорциональна стоимости позиции» (OPS-5)"""
    program = compile_(
        {
            "type": "bonus",
            "max_redeem_percent": 50,
            "tiers": [
                {
                    "code": "standard",
                    "name": "Standard",
                    "accrual": {"kind": "percent", "percent": 3},
                }
            ],
        }
    )
    q = sell(program, 50_000, 30_000, 20_000, points_to_spend=10_001)
    assert [ln.redeem_money for ln in q.lines] == [5001, 3000, 2000]
    assert sum(ln.redeem_money for ln in q.lines) == q.points_spent_money == 10_001


def test_three_ways_of_burning_bonuses():
    """«Через N дней с момента последней покупки; через N дней с момента начисления бонусов;
    в определенные даты»"""
    accrued = at("2026-12-30 18:00")
    after_accrual = compile_(
        {
            "type": "bonus",
            "expiry": {"mode": "after_accrual", "days": 30},
            "tiers": [{"code": "s", "name": "S", "accrual": {"kind": "percent", "percent": 3}}],
        }
    )
    assert expires_at_for(after_accrual, accrued, MSK) == at("2027-01-30 00:00")
    fixed = compile_(
        {
            "type": "bonus",
            "expiry": {"mode": "fixed_dates", "dates": ["01-01", "07-01"]},
            "tiers": [{"code": "s", "name": "S", "accrual": {"kind": "percent", "percent": 3}}],
        }
    )
    assert expires_at_for(fixed, accrued, MSK) == at("2027-01-01 00:00")
    # In the merchant's zone: 2027-01-01 00:00 in Moscow is 2026-12-31 21:00 UTC.
    assert expires_at_for(fixed, accrued, MSK).astimezone(dt.UTC) == dt.datetime(
        2026, 12, 31, 21, tzinfo=dt.UTC
    )
    after_last = compile_(
        {
            "type": "bonus",
            "expiry": {"mode": "after_last_purchase", "days": 90},
            "tiers": [{"code": "s", "name": "S", "accrual": {"kind": "percent", "percent": 3}}],
        }
    )
    assert expires_at_for(after_last, accrued, MSK) is None
    assert expiry_deadline_after_last_purchase(after_last, accrued, MSK) == at("2027-03-31 00:00")


def test_bonuses_usable_only_n_days_after_accrual():
    """«Количество дней, через которое можно использовать накопленные бонусы»"""
    program = compile_(
        {
            "type": "bonus",
            "activation_delay_days": 14,
            "tiers": [
                {
                    "code": "standard",
                    "name": "Standard",
                    "accrual": {"kind": "percent", "percent": 3},
                }
            ],
        }
    )
    q = sell(program, 100_000, when="2026-11-23 15:00")
    assert q.available_at == at("2026-12-07 15:00")
    assert q.accrual_lots[0].available_at == at("2026-12-07 15:00")


# --- PolyCard (003) -----------------------------------------------------------------------------

POLYCARD = {
    "type": "bonus",
    "currency_names": {
        "ru": {"one": "булавка", "few": "булавки", "many": "булавок"},
        "uk": {"one": "шпилька", "few": "шпильки", "many": "шпильок"},
        "en": {"one": "pin", "other": "pins"},
    },
    "points_precision": 0,
    "point_value": "10",  # «1 булавка = 0,1 гривны»: 10 kopecks per pin
    "max_redeem_percent": 50,
    "welcome_bonus": 50,
    "max_total_accrual_percent": 25,
    "birthday": {"extra_percent": 10, "days_before": 3, "days_after": 3},
    "expiry": {"mode": "after_last_purchase", "days": 180},
    "redeem_requires_code": True,
    "tiers": [
        {
            "code": "bronze",
            "name": "Bronze",
            "accrual": {"kind": "percent", "percent": 5},
            "start": True,
        },
        {
            "code": "silver",
            "name": "Silver",
            "threshold": 500_000,
            "accrual": {"kind": "percent", "percent": 7},
        },
        {
            "code": "platinum",
            "name": "Platinum",
            "threshold": 2_500_000,
            "accrual": {"kind": "percent", "percent": 10},
        },
    ],
    "rules": [
        {
            "code": "black-friday",
            "name": "Чёрная пятница",
            "conditions": {"date_from": "2026-11-27", "date_to": "2026-11-27"},
            "effects": {"add_percent": 10},
        },
    ],
}


def test_bronze_silver_platinum_5_7_10_percent_with_thresholds_5000_and_25000():
    """«Группы лояльности: Bronze Silver Platinum; % накопления: 5 7 10;
    Порог перехода: 5000 грн, 25000 грн»"""
    program = compile_(POLYCARD)
    assert program.start_tier == "bronze"
    assert tier_for_lifetime(program, 499_999, "bronze") == "bronze"
    assert tier_for_lifetime(program, 500_000, "bronze") == "silver"
    assert tier_for_lifetime(program, 2_500_000, "silver") == "platinum"
    points = [
        sell(program, 20_000, tier=t, tz=KYIV).accrual_points
        for t in ("bronze", "silver", "platinum")
    ]
    assert points == [100, 140, 200]  # 5/7/10 % of 200.00 UAH in 10-kopeck pins


def test_one_pin_is_ten_kopecks():
    """«1 булавка = 0,1 гривны»: 5 % of 200.00 UAH = 10.00 UAH = 100 pins; 100 pins pay
    10.00 UAH."""
    program = compile_(POLYCARD)
    q = sell(program, 20_000, tier="bronze", tz=KYIV)
    assert q.accrual_points == 100
    assert program.config.currency_word("ru", q.accrual_points) == "булавок"
    member = MemberState("bronze", available_points=100)
    q = sell(program, 20_000, member=member, tz=KYIV, points_to_spend=100)
    assert (q.points_spent, q.points_spent_money, q.payable) == (100, 1000, 19_000)
    # 50 % of 200.00 UAH = 100.00 UAH = 1 000 pins at most
    assert q.max_redeem_points == 1000


def test_one_bonus_is_half_a_hryvnia():
    """«1 бонус = 0,5 гривны» (Silver's currency in the seed): 7 % of 200.00 UAH = 14.00 UAH
    = 28 bonuses."""
    program = compile_({**POLYCARD, "point_value": "50"})
    assert sell(program, 20_000, tier="silver", tz=KYIV).accrual_points == 28


def test_welcome_bonus_of_50_pins():
    """«Приветственный бонус: 50 булавок»"""
    lot = welcome_lot(compile_(POLYCARD), at("2026-11-23 12:00", KYIV), KYIV)
    assert (lot.points, lot.expires_at) == (50, None)  # burns with the account's deadline


def test_black_friday_meets_birthday_capped_at_25_percent():
    """«% накопления не больше 25% если "Чёрная пятница" совпала с "ДР клиента"»:
    Platinum 10 % + Black Friday 10 % + birthday 10 % = 30 % -> 25 %."""
    program = compile_(POLYCARD)
    birthday_member = MemberState("platinum", birth_date=dt.date(1990, 11, 28))
    q = sell(program, 100_000, member=birthday_member, when="2026-11-27 12:00", tz=KYIV)
    assert q.in_birthday_window
    assert q.lines[0].rules == ("black-friday",)
    assert q.lines[0].accrual_percent_bp == 2500
    assert q.accrual_points == 2500  # 25 % of 1 000.00 UAH = 250.00 UAH = 2 500 pins
    plain_member = MemberState("platinum")
    q = sell(program, 100_000, member=plain_member, when="2026-11-27 12:00", tz=KYIV)
    assert q.accrual_points == 2000  # 20 %: below the cap
    q = sell(program, 100_000, member=birthday_member, when="2026-11-26 12:00", tz=KYIV)
    assert q.accrual_points == 2000  # birthday only


def test_birthday_extra_percent_window_before_and_after():
    """«Дополнительный % накопления в День Рождения клиента — период до и после даты
    настраивается»"""
    program = compile_(POLYCARD)
    member = MemberState("bronze", birth_date=dt.date(1990, 12, 10))
    by_day = {
        day: sell(
            program, 10_000, member=member, when=f"2026-12-{day:02d} 12:00", tz=KYIV
        ).accrual_points
        for day in (6, 7, 10, 13, 14)
    }
    assert by_day == {6: 50, 7: 150, 10: 150, 13: 150, 14: 50}
    q = sell(program, 10_000, member=member, when="2026-12-10 12:00", tz=KYIV)
    assert Hint("birthday_today", {}) in q.hints


def test_redemption_confirmed_by_sms_code_and_burning_after_last_purchase():
    """«Организовать списание бонусов только при смс подтверждении»; «Период сгорания бонусов:
    спустя какое время после последней покупки бонусы сгорают»"""
    program = compile_(POLYCARD)
    assert sell(program, 100, tier="bronze", tz=KYIV).redeem_requires_code is True
    assert expiry_deadline_after_last_purchase(program, at("2026-11-23 12:00", KYIV), KYIV) == at(
        "2027-05-23 00:00", KYIV
    )


def test_gift_bonuses_with_their_own_shorter_validity():
    """«Можно начислять дополнительные подарочные бонусы ... установить срок сгорания
    дополнительных бонусов» — a promo group earning 20 extra pins per check, valid 14 days."""
    program = compile_(
        {
            **POLYCARD,
            "rules": [
                {
                    "code": "promo",
                    "name": "Promo",
                    "conditions": {"product_groups": ["promo"]},
                    "effects": {"fixed_points_per_check": 20, "points_validity_days": 14},
                }
            ],
        }
    )
    q = sell(
        program,
        BasketLine("a", 20_000),
        BasketLine("b", 10_000, product_group="promo"),
        tier="bronze",
        when="2026-11-23 12:00",
        tz=KYIV,
    )
    lots = [(lot.points, lot.expires_at) for lot in q.accrual_lots]
    assert lots == [(50 + 20, at("2026-12-08 00:00", KYIV)), (100, None)]
