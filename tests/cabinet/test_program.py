"""The program editor through Django's test client: every section saved through the programs
service (a version each time), errors next to their fields in the user's language, the live
preview computed by the engine on unsaved answers with exact figures, who may look and who may
save, the history of changes in words and the roll back."""

import re
from decimal import Decimal

import pytest
from django import forms
from django.test import Client
from django_scopes import scope, scopes_disabled

from kopilka.core.actor import Actor
from kopilka.programs import services as programs
from kopilka.programs import versions
from kopilka.programs.config import ProgramConfig
from kopilka.programs.models import Program, ProgramVersion
from kopilka.tenancy.models import Staff
from tests.cabinet.tools import owner_of, staff_client

SHOP = {
    "type": "bonus", "max_redeem_percent": "50",
    "tiers": [
        {"code": "bronze", "name": "Bronze", "accrual": {"kind": "percent", "percent": "5"}},
        {"code": "silver", "name": "Silver", "threshold": 500000,
         "accrual": {"kind": "percent", "percent": "7"}},
    ],
    "rules": [
        {"code": "morning", "name": "Morning", "conditions": {
            "weekdays": [1, 2, 3, 4, 5], "time_from": "08:00", "time_to": "09:00"},
         "effects": {"multiply_accrual": "2"}},
    ],
}


@pytest.fixture
def shop(alice):
    programs.save_program(alice.merchant, SHOP, actor=Actor.cli())
    return alice


def answers(client: Client) -> dict:
    """Everything the editor's page sends when the owner changes nothing."""
    editor = client.get("/cabinet/program/").context["forms"]
    data = {}
    for form in (editor.program, editor.tiers.management_form, *editor.tiers.forms,
                 editor.rules.management_form, *editor.rules.forms, editor.preview):
        for name, field in form.fields.items():
            bound = form[name]
            value = bound.value()
            if isinstance(value, bool) or name in ("DELETE",):
                if value:
                    data[bound.html_name] = "on"
                continue
            many = getattr(field.widget, "allow_multiple_selected", False)
            if isinstance(value, (list, tuple)) or many:
                data[bound.html_name] = [str(item) for item in value or ()]
            elif value is None:
                data[bound.html_name] = ""
            elif isinstance(field.widget, forms.widgets.ChoiceWidget):  # selects, radio buttons
                data[bound.html_name] = str(value)
            else:
                data[bound.html_name] = str(field.widget.format_value(value) or "")
    return data


def saved() -> ProgramConfig:
    with scopes_disabled():
        return ProgramConfig.model_validate(Program.objects.get(merchant__name="Alice Coffee")
                                            .config)


def test_saving_unchanged_answers_keeps_the_program_and_adds_a_version(shop):
    client = owner_of(shop)
    before = saved()
    response = client.post("/cabinet/program/", answers(client))
    assert response.status_code == 302, response.content.decode()[:3000]
    assert response["Location"] == "/cabinet/program/"
    assert saved() == before
    with scopes_disabled():
        assert list(ProgramVersion.objects.filter(merchant=shop.merchant)
                    .order_by("number").values_list("number", "actor_kind")) == \
            [(1, "cli"), (2, "cli"), (3, "staff")]


NBSP = "\u00a0"


def preview(client: Client, **changes) -> str:
    data = {**answers(client), **changes}
    response = client.post("/cabinet/program/preview/", data, headers={"HX-Request": "true"})
    assert response.status_code == 200
    return response.content.decode()


def figures(page: str) -> tuple[str, str, str]:
    def one(name):
        return page.split(f"data-{name}>", 1)[1].split("<", 1)[0]
    return one("preview"), one("preview-earns"), one("preview-pays")


def test_the_preview_quotes_the_unsaved_answers_with_exact_figures(shop):
    client = owner_of(shop)
    # A new member (Bronze, 5 %): 1 500.00 on Friday at 10:00 earns 75.00, pays up to 50 %.
    assert figures(preview(client)) == (
        "A purchase of RUB1,500.00 on Friday at 10:00 by a member of the Bronze tier:",
        f"75{NBSP}bonuses", f"750{NBSP}bonuses (RUB750.00)")
    # Silver at 8 % instead of 7 %, typed and not saved: 120.00.
    assert figures(preview(client, **{"preview-tier": "silver", "tier-1-accrual_percent": "8"})
                   )[1:] == (f"120{NBSP}bonuses", f"750{NBSP}bonuses (RUB750.00)")
    # The morning rule doubles Bronze's 5 % on a Monday at 08:30: 150.00 of 1 500.00.
    assert figures(preview(client, **{"preview-weekday": "1", "preview-at": "08:30"}))[1] == \
        f"150{NBSP}bonuses"
    # Another example amount and the share payable with points changed: 99.99 at 5 % is 4.99
    # (rounded down), 20 % of it is 19.99 (19.998 rounded down).
    assert figures(preview(client, **{"preview-amount": "99.99", "max_redeem_percent": "20"})
                   )[1:] == (f"4,99{NBSP}bonuses".replace(",", "."),
                             f"19.99{NBSP}bonuses (RUB19.99)")
    with scopes_disabled():  # nothing was saved
        assert Program.objects.get(merchant=shop.merchant).version == 2
        assert ProgramVersion.objects.filter(merchant=shop.merchant).count() == 2
    # An answer the program refuses: the preview says so, no figures.
    assert "Fix the marked fields" in preview(client, **{"tier-1-threshold": "0"})


def test_the_editor_saves_each_section_exactly(shop):
    client = owner_of(shop)
    data = {**answers(client),
            "type": "hybrid", "point_value": "0.5", "points_precision": "0",
            "expiry_mode": "after_last_purchase", "expiry_days": "180",
            "activation_delay_days": "14", "welcome_bonus": "100", "welcome_validity_days": "30",
            "birthday_percent": "3", "birthday_days_before": "2", "birthday_days_after": "5",
            "first_gift_points": "50", "first_gift_days": "14",
            "max_redeem_percent": "30", "redeem_requires_code": "on",
            "max_total_accrual_percent": "15", "transfers_enabled": "on",
            "transfers_min": "10", "transfers_max": "1000",
            "tier-1-discount_kind": "percent", "tier-1-discount_percent": "2.5",
            "tier-1-accrual_kind": "progressive", "tier-1-accrual_steps": "0: 7; 10 000: 9",
            "tier-2-name": "Gold", "tier-2-threshold": "50000", "tier-2-accrual_percent": "12",
            "rule-1-name": "Coffee week", "rule-1-product_groups": "coffee, tea",
            "rule-1-add_percent": "1.5", "rule-1-date_from": "2026-12-14",
            "rule-1-date_to": "2026-12-20", "rule-1-tiers": ["silver"],
            "rule-0-DELETE": "on"}
    response = client.post("/cabinet/program/", data)
    assert response.status_code == 302, response.content.decode()
    config = saved()
    assert (config.type, config.point_value.money, config.point_value.points,
            config.points_precision) == ("hybrid", 50, 1, 0)  # a whole point: 0.50 = 50 kopecks
    assert config.expiry.model_dump() == {"mode": "after_last_purchase", "days": 180}
    assert (config.activation_delay_days, config.welcome_bonus,
            config.welcome_validity_days) == (14, 100, 30)
    assert config.birthday.model_dump() == {"extra_percent": Decimal(3), "days_before": 2,
                                            "days_after": 5}
    assert config.first_purchase_gift.model_dump() == {"points": 50, "validity_days": 14}
    assert (config.max_redeem_percent, config.redeem_requires_code,
            config.max_total_accrual_percent) == (Decimal(30), True, Decimal(15))
    assert config.transfers.model_dump() == {"enabled": True, "min_points": 10,
                                             "max_points": 1000, "max_points_per_day": None,
                                             "confirm_by_code": False}
    bronze, silver, gold = config.tiers
    assert (bronze.code, bronze.accrual.percent, bronze.discount.kind) == \
        ("bronze", Decimal(5), "none")
    assert [(b.from_amount, b.percent) for b in silver.accrual.brackets] == \
        [(0, Decimal(7)), (1000000, Decimal(9))]
    assert (silver.discount.percent, gold.code, gold.threshold, gold.accrual.percent) == \
        (Decimal("2.5"), "gold", 5000000, Decimal(12))
    [rule] = config.rules
    assert (rule.code, rule.conditions.product_groups, rule.conditions.tiers,
            str(rule.conditions.date_from), rule.effects.add_percent) == \
        ("coffee-week", ("coffee", "tea"), ("silver",), "2026-12-14", Decimal("1.5"))
    # and the page shows the saved answers back
    again = answers(client)
    assert (again["point_value"], again["tier-1-accrual_steps"], again["rule-0-name"]) == \
        ("0.5", "0: 7; 10000: 9", "Coffee week")


@pytest.mark.parametrize(("language", "changes", "field", "message"), [
    ("ru", {"tier-0-accrual_percent": "150"}, "tier-0-accrual_percent",
     "Убедитесь, что это значение меньше либо равно 100."),
    ("ru", {"tier-1-threshold": "0"}, "tier-1-threshold",
     "Должно быть больше порога предыдущего уровня."),
    ("uk", {"tier-1-threshold": "0"}, "tier-1-threshold",
     "Має бути більшим за поріг попереднього рівня."),
    ("en", {"tier-1-threshold": "0"}, "tier-1-threshold",
     "Must be more than the previous tier&#x27;s threshold."),
    ("ru", {"expiry_mode": "after_accrual"}, "expiry_days", "Сколько дней?"),
    ("ru", {"rule-0-multiply_accrual": ""}, "rule-0-multiply_accrual",
     "Укажите, что делает правило: умножает, добавляет или задаёт бонусы, даёт баллы "
     "или не даёт бонусов."),
    ("ru", {"rule-0-time_to": "08:00"}, "rule-0-time_from",
     "Время «с» и «до» должно различаться."),
    ("ru", {"welcome_bonus": "0.005"}, "welcome_bonus",
     "Убедитесь, что вы ввели не более 2 цифр после запятой."),
    ("ru", {"tier-1-accrual_kind": "progressive", "tier-1-accrual_steps": "100: 7"},
     "tier-1-accrual_steps", "Первая ступень начинается с 0."),
    ("ru", {"chains": "[{]"}, "chains", "Это не JSON."),
])
def test_a_bad_value_is_an_error_next_to_its_field(shop, language, changes, field, message):
    client = owner_of(shop, language)
    response = client.post("/cabinet/program/", {**answers(client), **changes})
    assert response.status_code == 422
    page = response.content.decode()
    error = page.split(f'id="id_{field}_error"', 1)[1].split("</ul>", 1)[0]
    assert message in error, error
    with scopes_disabled():
        assert Program.objects.get(merchant=shop.merchant).version == 2


def test_a_manager_may_look_but_not_save(shop):
    _staff, client = staff_client(shop, Staff.Role.MANAGER)
    page = client.get("/cabinet/program/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Save the program" not in text and "only the owner or an administrator" in text
    assert re.search(r'<input[^>]*name="tier-0-accrual_percent"[^>]*disabled', text)
    assert re.search(r'<select[^>]*name="preview-tier"[^>]*>', text)  # the example stays open
    assert not re.search(r'<select[^>]*name="preview-tier"[^>]*disabled', text)
    data = answers(owner_of(shop))
    assert client.post("/cabinet/program/", data).status_code == 403
    assert f"75{NBSP}bonuses" in client.post("/cabinet/program/preview/", {
        "preview-amount": "1500", "preview-weekday": "5", "preview-at": "10:00",
        "preview-tier": "bronze"}).content.decode()  # the saved program's preview
    with scope(merchant=shop.merchant):
        version = versions.history(shop.merchant)[-1]
    assert client.post(f"/cabinet/program/versions/{version.pk}/").status_code == 403
    with scopes_disabled():
        assert Program.objects.get(merchant=shop.merchant).version == 2


def test_every_save_is_a_version_with_its_changes_in_words_and_rolls_back(shop):
    client = owner_of(shop)
    client.post("/cabinet/program/", {**answers(client), "tier-1-accrual_percent": "8"})
    api = shop.manage()
    config = api.get("/api/v1/manage/program").json()["config"]
    assert api.put("/api/v1/manage/program", {"config": {**config, "welcome_bonus": 5000}},
                   content_type="application/json").status_code == 200
    with scope(merchant=shop.merchant):
        found = versions.history(shop.merchant)
    assert [(v.number, v.actor_kind) for v in found] == \
        [(4, "token"), (3, "staff"), (2, "cli"), (1, "cli")]
    page = client.get("/cabinet/program/versions/").content.decode()
    for line in ("Silver tier accrual: 7\u00a0% → 8\u00a0%", "Welcome bonus: 0 → 50",
                 "Tier Silver added.", "Rule Morning added."):
        assert f"<li>{line}</li>" in page, line
    ru = owner_of(shop, "ru")
    page = ru.get("/cabinet/program/versions/").content.decode()
    assert "<li>Уровень Silver, начисление: 7\u00a0% → 8\u00a0%</li>" in page
    assert "<li>Приветственный бонус: 0 → 50</li>" in page
    # Back to version 2: a new version 5 equal to it.
    second = next(v for v in found if v.number == 2)
    view = client.get(f"/cabinet/program/versions/{second.pk}/").content.decode()
    assert "<li>Silver tier accrual: 8\u00a0% → 7\u00a0%</li>" in view
    assert "<li>Welcome bonus: 50 → 0</li>" in view
    response = client.post(f"/cabinet/program/versions/{second.pk}/")
    assert response.status_code == 302 and response["Location"] == "/cabinet/program/versions/"
    with scopes_disabled():
        program = Program.objects.get(merchant=shop.merchant)
        latest = ProgramVersion.objects.get(program=program, number=5)
    assert program.version == 5 and program.config == second.config == latest.config
    assert latest.restored_from == 2
    assert "back to version 2" in client.get("/cabinet/program/versions/").content.decode()


def test_another_merchants_version_is_404(shop, bob):
    with scope(merchant=shop.merchant):
        theirs = versions.history(shop.merchant)[0]
    client = owner_of(bob)
    assert client.get(f"/cabinet/program/versions/{theirs.pk}/").status_code == 404
    assert client.post(f"/cabinet/program/versions/{theirs.pk}/").status_code == 404
    with scopes_disabled():
        assert Program.objects.get(merchant=bob.merchant).version == 1


def test_the_templates_stay_one_click_away(shop):
    page = owner_of(shop).get("/cabinet/program/templates/").content.decode()
    assert 'href="/cabinet/program/cafe/"' in page


@pytest.mark.parametrize("changes", [
    {"tier-0-accrual_percent": "1e400"}, {"tier-0-name": "\x00"}, {"point_value": "NaN"},
    {"tier-TOTAL_FORMS": "100000"}, {"rule-0-weekdays": ["9"]}, {"preview-amount": "-5"},
    {"tier-0-accrual_steps": "0: 5; x"}, {"tier-0-accrual_kind": "progressive",
                                          "tier-0-accrual_steps": "0: 5; 0: 6"},
    {"chains": '[{"code": "x"}]'}, {"expiry_mode": "fixed_dates", "expiry_dates": "02-30"},
    {"rule-0-rest": "not json"}, {"points_precision": "0", "welcome_bonus": "0.5"},
])
def test_odd_input_is_a_form_error_never_a_500(shop, changes):
    client = owner_of(shop)
    data = {**answers(client), **changes}
    saved_response = client.post("/cabinet/program/", data)
    assert saved_response.status_code in (302, 422)
    assert client.post("/cabinet/program/preview/", data).status_code == 200


def test_what_the_page_does_not_show_is_kept_on_save(shop):
    with scopes_disabled():
        config = Program.objects.get(merchant=shop.merchant).config
    config["rules"][0]["conditions"].update(skus=["latte-l"], payment_methods=["card"],
                                            member_tags_any=["vip"])
    config["chains"] = [{"code": "winback", "name": "Win back", "segment": {"kind": "all"},
                         "steps": [{"after_days": 30, "gift": {"points": 10000,
                                                                "validity_days": 14}}]}]
    programs.save_program(shop.merchant, config, actor=Actor.cli())
    client = owner_of(shop)
    data = answers(client)
    assert data["rule-0-rest"] and '"winback"' in data["chains"]
    assert client.post("/cabinet/program/", {**data, "rule-0-add_percent": "1"}
                       ).status_code == 302
    rule = saved().rules[0]
    assert (rule.conditions.skus, rule.conditions.payment_methods,
            rule.conditions.member_tags_any, rule.effects.add_percent) == \
        (("latte-l",), ("card",), ("vip",), Decimal(1))
    assert saved().chains[0].steps[0].gift.points == 10000


def test_changes_in_words_in_russian():
    from copy import deepcopy

    from django.utils import translation

    old = ProgramConfig.model_validate(SHOP).model_dump(mode="json", by_alias=True)
    new = deepcopy(old)
    new["rules"][0]["conditions"]["weekdays"] = [6, 7]
    new["tiers"][1]["threshold"] = 600000
    new["max_redeem_percent"] = "30"
    new["expiry"] = {"mode": "after_accrual", "days": 90}
    new["birthday"] = {"extra_percent": "2.5", "days_before": 0, "days_after": 3}
    new["type"] = "hybrid"
    new["tiers"][0]["discount"] = {"kind": "percent", "percent": "3"}
    with translation.override("ru"):
        lines = versions.changes(old, new, "RUB", "ru")
    assert lines == [  # in the configuration's order
        "Тип программы: бонусная → бонусы и скидка",
        "Доля чека, которую можно оплатить баллами: 50\u00a0% → 30\u00a0%",
        "Баллы сгорают: никогда → после начисления",
        "Дней до сгорания баллов: — → 90",
        "Доп. начисление в день рождения: — → 2,5\u00a0%",
        "Дней до дня рождения: — → 0",
        "Дней после дня рождения: — → 3",
        "Уровень Bronze, схема скидки: без скидки → процент",
        "Уровень Bronze, скидка: — → 3\u00a0%",
        "Уровень Silver, порог: 5\u00a0000,00\u00a0₽ → 6\u00a0000,00\u00a0₽",
        "Правило Morning, дни недели: пн, вт, ср, чт, пт → сб, вс",
    ]
