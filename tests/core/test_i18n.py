"""UI-4: Russian, Ukrainian and English. The API answers in the request's Accept-Language,
and every catalogue is complete (no untranslated or fuzzy entry)."""

from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from django.conf import settings

LOCALE_DIR = Path(settings.BASE_DIR) / "locale"
CATALOGUES = sorted(LOCALE_DIR.glob("*/LC_MESSAGES/django.po"))


def translated(message) -> bool:
    # Plural entries carry one string per plural form; every form must be filled in.
    forms = message.string if isinstance(message.string, tuple) else (message.string,)
    return all(forms)


def register(tenant, language, body):
    return tenant.pos(language).post("/api/v1/pos/members", body, content_type="application/json")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "title", "detail"),
    [
        ("ru", "Некорректный запрос.", "'123' — недействительный номер телефона."),
        ("uk", "Некоректний запит.", "'123' — недійсний номер телефону."),
        ("en", "The request is not valid.", "'123' is not a valid phone number."),
    ],
)
def test_pos_problem_comes_in_the_requested_language(alice, language, title, detail):
    response = register(alice, language, {"phone": "123"})
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert response["Content-Language"] == language
    problem = response.json()
    assert problem["type"] == "/problems/validation"  # stable whatever the language
    assert (problem["title"], problem["detail"]) == (title, detail)
    assert problem["errors"] == [{"field": "phone", "message": detail}]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "message"),
    [("ru", "Обязательное поле."), ("uk", "Обов’язкове поле."), ("en", "This field is required.")],
)
def test_schema_validation_messages_are_translated(alice, language, message):
    response = register(alice, language, {"first_name": "X"})
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "phone", "message": message}]


@pytest.mark.django_db
def test_regional_variant_and_unsupported_language(alice):
    assert register(alice, "uk-UA,uk;q=0.9", {"phone": "123"}).json()["title"] == (
        "Некоректний запит."
    )
    # A language Kopilka does not speak gets the next one the client accepts.
    assert register(alice, "de-DE,en;q=0.5", {"phone": "123"}).json()["title"] == (
        "The request is not valid."
    )


def test_every_language_has_a_catalogue():
    assert {path.parent.parent.name for path in CATALOGUES} == {
        code for code, _ in settings.LANGUAGES
    }


@pytest.mark.parametrize("path", CATALOGUES, ids=lambda path: path.parent.parent.name)
def test_catalogue_is_complete(path):
    with path.open("rb") as handle:
        catalogue = read_po(handle)
    entries = [message for message in catalogue if message.id]
    assert entries
    untranslated = [message.id for message in entries if not translated(message)]
    fuzzy = [message.id for message in entries if message.fuzzy]
    assert untranslated == [], f"{path}: untranslated entries"
    assert fuzzy == [], f"{path}: fuzzy entries"
    assert not catalogue.fuzzy, f"{path}: the header is marked fuzzy"
    # Placeholders must survive translation: %(name)s in the msgid, %(name)s in the msgstr.
    problems = [(message.id, [str(e) for e in errors]) for message, errors in catalogue.check()]
    assert problems == [], f"{path}: broken placeholders"


@pytest.mark.parametrize("path", CATALOGUES, ids=lambda path: path.parent.parent.name)
def test_compiled_catalogue_is_up_to_date(path):
    compiled = path.with_suffix(".mo")
    assert compiled.exists(), f"{compiled} is missing: run 'pip install -e .' (or ./dev test)"
    assert compiled.stat().st_mtime >= path.stat().st_mtime, f"{compiled} is older than its .po"


@pytest.mark.django_db
def test_unreadable_body_gets_a_translated_title(alice):
    response = alice.pos("uk").post(
        "/api/v1/pos/members", "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["type"] == "/problems/http-error"
    assert response.json()["title"] == "Не вдалося прочитати запит."


@pytest.mark.django_db
def test_sale_conflict_comes_in_the_requested_language(shop):
    shop.program(welcome_bonus=1_000, max_redeem_percent="50")
    shop.join(phone="+79995550001")
    response = shop.tenant.pos("ru").post(
        "/api/v1/pos/purchases",
        {"member": {"phone": "+79995550001"}, "receipt_id": "R-1", "points_to_spend": 1_001,
         "lines": [{"line_id": "1", "amount": 100_000}]},
        content_type="application/json",
    )
    assert response.status_code == 409
    assert response["Content-Language"] == "ru"
    problem = response.json()
    assert problem["type"] == "/problems/conflict"
    detail = "На эту покупку можно потратить не больше 1000 баллов."  # the whole balance
    assert (problem["title"], problem["detail"]) == ("Противоречит текущему состоянию.", detail)
    assert problem["errors"] == [{"field": "points_to_spend", "message": detail}]
