"""The cabinet's start through Django's test client: sign-up with defaults from the browser's
language, each program template saved with its exact values, the first store, a cashier with a
PIN or an invitation, and this browser opened as the store's counter."""

from decimal import Decimal

import pytest
from django.test import Client
from django_scopes import scopes_disabled

from kopilka.programs.config import ProgramConfig
from kopilka.programs.models import Program
from kopilka.tenancy.models import Invitation, Merchant, Staff, Store, Terminal
from kopilka.web.cabinet.views.account import defaults_for
from kopilka.web.cashier import counter
from tests.cabinet.tools import SIGNUP


def sign_up(language: str = "en", **changes) -> tuple[Client, object]:
    client = Client(headers={"Accept-Language": language})
    response = client.post("/cabinet/signup/", {**SIGNUP, **changes})
    return client, response


def saved_config() -> ProgramConfig:
    with scopes_disabled():
        return ProgramConfig.model_validate(Program.objects.get().config)


@pytest.mark.parametrize(("header", "expected"), [
    ("ru-RU,ru;q=0.9,en;q=0.8", ("RUB", "Europe/Moscow", "RU", "ru")),
    ("uk,en-US;q=0.7", ("UAH", "Europe/Kyiv", "UA", "uk")),
    ("en-US,en;q=0.9", ("USD", "America/New_York", "US", "en")),
    ("en-GB", ("GBP", "Europe/London", "GB", "en")),
    ("ru-KZ", ("KZT", "Asia/Almaty", "KZ", "ru")),
    ("de-DE,de", ("RUB", "Europe/Moscow", "RU", "ru")),
    ("", ("RUB", "Europe/Moscow", "RU", "ru")),
])
def test_signup_defaults_follow_the_browsers_language(header, expected):
    found = defaults_for(header)
    assert (found["currency"], found["timezone"], found["country"], found["language"]) == expected


@pytest.mark.django_db
def test_the_signup_page_is_prefilled_from_accept_language():
    page = Client(headers={"Accept-Language": "uk"}).get("/cabinet/signup/").content.decode()
    assert '<option value="UAH" selected>' in page
    assert '<option value="Europe/Kyiv" selected>' in page
    assert '<option value="UA" selected>' in page
    assert "Розпочати програму лояльності" in page


@pytest.mark.django_db
def test_signup_creates_the_business_and_its_owner_with_the_chosen_password():
    client, response = sign_up()
    assert response.status_code == 302 and response["Location"] == "/cabinet/program/"
    with scopes_disabled():
        merchant = Merchant.objects.get()
        owner = Staff.objects.select_related("user").get()
    assert (merchant.name, merchant.currency, merchant.timezone, merchant.language,
            merchant.country) == ("Кофейня Ёжик", "RUB", "Europe/Moscow", "ru", "RU")
    assert owner.role == Staff.Role.OWNER and owner.user.email == "owner@ezhik.test"
    assert owner.user.check_password(SIGNUP["owner_password"])
    assert client.get("/cabinet/program/").status_code == 200  # signed in


@pytest.mark.django_db
@pytest.mark.parametrize(("language", "changes", "field", "message"), [
    ("en", {"name": ""}, "name", "This field is required."),
    ("ru", {"name": ""}, "name", "Обязательное поле."),
    ("en", {"owner_email": "no-at-sign"}, "owner_email", "Enter a valid email address."),
    ("en", {"owner_password": "short"}, "owner_password", "This password is too short."),
    ("ru", {"owner_password": "short"}, "owner_password", "Введённый пароль слишком короткий."),
    ("en", {"currency": "XYZ"}, "currency", "Select a valid choice."),
    ("en", {"timezone": "Mars/Olympus"}, "timezone", "Select a valid choice."),
    ("uk", {"country": "ZZ"}, "country", "ZZ немає серед варіантів вибору."),
])
def test_bad_signup_input_is_a_form_error_and_writes_nothing(language, changes, field, message):
    _client, response = sign_up(language, **changes)
    assert response.status_code == 422
    page = response.content.decode()
    assert f'id="id_{field}_error"' in page and message in page
    with scopes_disabled():
        assert not Merchant.objects.exists()


@pytest.mark.django_db
def test_an_existing_account_signs_in_instead(alice):
    _client, response = sign_up(owner_email=alice.owner.user.email)
    assert response.status_code == 422
    assert "An account with this e-mail already exists. Sign in instead." in \
        response.content.decode()
    with scopes_disabled():
        assert Merchant.objects.count() == 1  # alice only


TEMPLATES = {
    "cafe": ({}, {
        "type": "bonus", "max_redeem_percent": Decimal(50), "welcome_bonus": 10000,
        "tiers": [("guest", 0, Decimal(5), None)],
        "rules": [("double-hours", "09:00:00", "12:00:00", Decimal(2))],
    }),
    "shop": ({}, {
        "type": "bonus", "max_redeem_percent": Decimal(50), "welcome_bonus": 0,
        "tiers": [("bronze", 0, Decimal(5), None), ("silver", 500000, Decimal(7), None),
                  ("platinum", 2500000, Decimal(10), None)],
        "rules": [],
    }),
    "discount": ({}, {
        "type": "discount", "max_redeem_percent": Decimal(100), "welcome_bonus": 0,
        "tiers": [("discount", 0, None, Decimal(3)),
                  ("discount-higher", 1000000, None, Decimal(5))],
        "rules": [],
    }),
    "currency": ({}, {
        "type": "bonus", "max_redeem_percent": Decimal(50), "welcome_bonus": 50,
        "tiers": [("member", 0, Decimal(5), None)], "rules": [],
    }),
}


def answers(client: Client, key: str) -> dict:
    """The template's questions as prefilled: what an owner who changes nothing sends."""
    form = client.get(f"/cabinet/program/{key}/").context["form"]
    data = {}
    for name, field in form.fields.items():
        value = form[name].value()
        data[name] = str(field.widget.format_value(value))  # lazy texts as text, times "09:00"
    return data


@pytest.mark.django_db
@pytest.mark.parametrize("key", TEMPLATES)
def test_each_template_saves_its_exact_program_after_the_summary(key):
    client, _response = sign_up()
    data = answers(client, key)
    summary = client.post(f"/cabinet/program/{key}/", {**data, "step": "summary"})
    assert summary.status_code == 200 and "data-summary" in summary.content.decode()
    with scopes_disabled():
        assert not Program.objects.exists()  # the summary saves nothing
    saved = client.post(f"/cabinet/program/{key}/", {**data, "step": "save"})
    assert saved.status_code == 302 and saved["Location"] == "/cabinet/stores/new/"
    config, expected = saved_config(), TEMPLATES[key][1]
    assert config.type == expected["type"]
    assert config.max_redeem_percent == expected["max_redeem_percent"]
    assert config.welcome_bonus == expected["welcome_bonus"]
    assert [(t.code, t.threshold, t.accrual.percent if t.accrual else None,
             t.discount.percent if t.discount.kind == "percent" else None)
            for t in config.tiers] == expected["tiers"]
    assert [(r.code, str(r.conditions.time_from), str(r.conditions.time_to),
             r.effects.multiply_accrual) for r in config.rules] == expected["rules"]


@pytest.mark.django_db
def test_the_pins_currency_is_worth_ten_kopecks_and_counted_whole():
    client, _response = sign_up()
    data = answers(client, "currency")
    client.post("/cabinet/program/currency/", {**data, "step": "save"})
    config = saved_config()
    assert (config.point_value.money, config.point_value.points, config.points_precision) == \
        (10, 1, 0)
    assert config.currency_word("ru", 5) == "булавок" and config.currency_word("en", 1) == "pin"
    assert config.currency_word("uk", 2) == "шпильки"


@pytest.mark.django_db
def test_the_summary_in_plain_words():
    client, _response = sign_up()
    data = answers(client, "cafe")
    page = client.post("/cabinet/program/cafe/", {**data, "step": "summary"}).content.decode()
    for line in ("1 bonus is worth RUB1.00.",
                 # the tier is named in the merchant's language (Russian here)
                 "Гость, from the first purchase: 5\u00a0% of every purchase back.",
                 "From 09:00 to 12:00 bonuses are multiplied by 2.",
                 "A new member gets 100\u00a0bonuses as a welcome gift.",
                 "Points can pay up to 50\u00a0% of a check.", "Points never expire."):
        assert f"<li>{line}</li>" in page
    ru = Client(headers={"Accept-Language": "ru"})
    ru.cookies = client.cookies
    page = ru.post("/cabinet/program/shop/",
                   {**answers(client, "shop"), "step": "summary"}).content.decode()
    assert "<li>Silver, когда покупки наберут 5\u00a0000,00\u00a0₽: 7\u00a0% с каждой покупки — " \
        "бонусами.</li>" in page


@pytest.mark.django_db
@pytest.mark.parametrize(("language", "changes", "field", "message"), [
    ("en", {"silver_from": "30000"}, "platinum_from",
     "The third level starts above the second level&#x27;s amount."),
    ("en", {"bronze_percent": "150"}, "bronze_percent",
     "Ensure this value is less than or equal to 100."),
    ("ru", {"silver_from": "abc"}, "silver_from", "Введите число."),
    ("en", {"platinum_name": "Silver"}, "platinum_name", "Give each level its own name."),
])
def test_bad_answers_are_form_errors(language, changes, field, message):
    client, _response = sign_up()
    data = answers(client, "shop")
    localized = Client(headers={"Accept-Language": language})
    localized.cookies = client.cookies
    response = localized.post("/cabinet/program/shop/", {**data, **changes, "step": "save"})
    assert response.status_code == 422
    page = response.content.decode()
    assert f'id="id_{field}_error"' in page and message in page
    with scopes_disabled():
        assert not Program.objects.exists()


@pytest.mark.django_db
def test_an_unknown_template_is_404():
    client, _response = sign_up()
    assert client.get("/cabinet/program/lottery/").status_code == 404


@pytest.mark.django_db
def test_store_then_cashier_with_a_pin_then_the_counter_on_this_browser():
    client, _response = sign_up()
    client.post("/cabinet/program/cafe/", {**answers(client, "cafe"), "step": "save"})
    response = client.post("/cabinet/stores/new/", {"name": "На Арбате", "address": "Арбат, 1"})
    with scopes_disabled():
        store = Store.objects.get()
    assert response["Location"] == f"/cabinet/stores/{store.pk}/cashier/"
    assert (store.name, store.address) == ("На Арбате", "Арбат, 1")

    weak = client.post(f"/cabinet/stores/{store.pk}/cashier/",
                       {"action": "pin", "pin-name": "Даша", "pin-pin": "1234"})
    assert weak.status_code == 422
    assert "This PIN is the first one anyone would try. Choose another." in \
        weak.content.decode()
    response = client.post(f"/cabinet/stores/{store.pk}/cashier/",
                           {"action": "pin", "pin-name": "Даша  Петренко", "pin-pin": "2580"})
    assert response["Location"] == f"/cabinet/stores/{store.pk}/counter/"
    with scopes_disabled():
        cashier = Staff.objects.select_related("user").get(role=Staff.Role.CASHIER)
    assert cashier.user.first_name == "Даша Петренко" and not cashier.user.has_usable_password()
    assert cashier.user.check_password("2580") is False

    page = client.get(f"/cabinet/stores/{store.pk}/counter/").content.decode()
    assert 'value="Counter 1"' in page
    response = client.post(f"/cabinet/stores/{store.pk}/counter/", {"name": "Касса 1"})
    assert response.status_code == 302 and response["Location"] == "/cashier/switch/"
    with scopes_disabled():
        terminal = Terminal.objects.get(kind=Terminal.Kind.BROWSER)
    assert (terminal.store_id, terminal.name) == (store.pk, "Касса 1")
    assert counter.DEVICE_COOKIE in response.cookies
    # The owner is signed out here; the counter asks for Даша's PIN.
    assert client.get("/cabinet/").status_code == 302
    switch = client.get("/cashier/switch/").content.decode()
    assert "Даша Петренко" in switch
    response = client.post("/cashier/switch/", {"staff": cashier.pk, "pin": "2580"})
    assert response["Location"] == "/cashier/"


@pytest.mark.django_db
def test_inviting_the_first_cashier_by_email(outbox):
    client, _response = sign_up()
    client.post("/cabinet/stores/new/", {"name": "Main"})
    with scopes_disabled():
        store = Store.objects.get()
    bad = client.post(f"/cabinet/stores/{store.pk}/cashier/",
                      {"action": "invite", "invite-email": "nobody"})
    assert bad.status_code == 422 and 'id="id_invite-email_error"' in bad.content.decode()
    response = client.post(f"/cabinet/stores/{store.pk}/cashier/",
                           {"action": "invite", "invite-email": "dana@ezhik.test"})
    assert response["Location"] == f"/cabinet/stores/{store.pk}/counter/"
    with scopes_disabled():
        invitation = Invitation.objects.get()
    assert (invitation.email, invitation.role) == ("dana@ezhik.test", Staff.Role.CASHIER)
    assert "dana@ezhik.test" in client.get("/cabinet/").content.decode()


@pytest.mark.django_db
def test_sign_ups_from_one_address_are_limited(monkeypatch):
    from kopilka.web.cabinet.views import account

    monkeypatch.setattr(account, "SIGNUPS_PER_ADDRESS", (2, 3600))
    for n in range(2):
        _client, response = sign_up(owner_email=f"owner{n}@ezhik.test")
        assert response.status_code == 302
    _client, response = sign_up("ru", owner_email="owner3@ezhik.test")
    assert response.status_code == 429
    assert "Слишком много компаний зарегистрировано с этого адреса." in response.content.decode()
    with scopes_disabled():
        assert Merchant.objects.count() == 2
