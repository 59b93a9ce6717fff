"""The counter's search, the member card, registration and a lost card, through Django's client
(kopilka/web/cashier/views/members.py). Figures are points in minor units: 15_000 is "150
bonuses" with the default two decimals."""

import re

import pytest
from django_scopes import scope, scopes_disabled

from kopilka.members.models import Card, Consent, Member
from kopilka.messaging import tasks
from kopilka.programs.models import Program
from kopilka.tenancy.models import Staff
from tests.cashier.tools import at_counter
from tests.shop import Shop

pytestmark = pytest.mark.django_db
HX = {"HX-Request": "true"}
PHONE = "+79161234567"


def sms_code(outbox) -> str:
    with scopes_disabled():
        tasks.deliver_due()
    return re.search(r"код (\d{6})\.", outbox[-1].body)[1]


def text(response) -> str:
    """The response's visible text, spaces normalised (CLDR puts no-break spaces in figures)."""
    body = re.sub(r"<[^>]+>", " ", response.content.decode())
    return " ".join(body.replace("\u00a0", " ").replace("\u202f", " ").split())


@pytest.fixture
def counter(alice):
    return at_counter(alice)


@pytest.fixture
def member(alice):
    """A member with 150 available (the welcome bonus) and 40 pending (5 % of 800.00,
    activated 14 days after the purchase)."""
    with scope(merchant=alice.merchant):
        shop = Shop(alice).program(welcome_bonus=15_000, activation_delay_days=14)
        joined = shop.join(PHONE, first_name="Maria")
        shop.buy(joined, 80_000)
        assert shop.balance(joined) == (15_000, 4_000)
    return joined


def find(at, query, **headers):
    return at.client.get("/cashier/find/", {"q": query}, headers={**HX, **headers})


# --- the counter page and the card -------------------------------------------------------------


def test_the_counter_has_one_search_field_and_the_camera(counter):
    response = counter.client.get("/cashier/")
    page = response.content.decode()
    assert response.status_code == 200
    assert page.count("data-search-field") == 1
    assert "Scan with camera" in page
    assert "'wasm-unsafe-eval'" in response["Content-Security-Policy"]
    assert "zxing_reader.wasm" in page


def test_the_card_shows_available_and_pending_points_with_the_activation_date(counter, member):
    response = counter.client.get(f"/cashier/members/{member.pk}/")
    shown = text(response)
    assert response.status_code == 200
    assert "Maria" in shown
    assert "150 bonuses" in shown and "40 bonuses" in shown
    assert re.search(r"40 bonuses from \w{3} \d{1,2}, \d{4}", shown)
    assert "+7916***4567" in shown and PHONE not in shown  # a cashier sees masked phones
    assert "Base" in shown
    assert "/cashier/purchases/" in response.content.decode()  # the refund link
    assert "RUB800.00" in shown


def test_the_card_in_russian(alice, member):
    at = at_counter(alice, language="ru")
    shown = text(at.client.get(f"/cashier/members/{member.pk}/"))
    assert "Доступно 150 бонусов" in shown
    assert re.search(r"40 бонусов с \d{1,2} дек\. 2026 г\.", shown), shown
    assert "Продажа" in shown and "Последние покупки" in shown


def test_a_role_that_sees_phones_sees_the_whole_number(alice, member):
    at = at_counter(alice, Staff.Role.OWNER)
    assert PHONE in text(at.client.get(f"/cashier/members/{member.pk}/"))


def test_points_expiring_soon_and_the_next_tier(alice, counter):
    with scope(merchant=alice.merchant):
        shop = Shop(alice).program(
            welcome_bonus=2_500, welcome_validity_days=3, expiry_warning_days=7,
            tiers=[{"code": "base", "name": "Base", "accrual": {"kind": "percent", "percent": "5"}},
                   {"code": "gold", "name": "Gold", "threshold": 1_000_000,
                    "accrual": {"kind": "percent", "percent": "10"}}])
        joined = shop.join(PHONE)
    shown = text(counter.client.get(f"/cashier/members/{joined.pk}/"))
    assert re.search(r"25 bonuses expire after \w{3} \d{1,2}, \d{4}", shown)
    assert "Buy for RUB10,000.00 more to reach Gold" in shown


# --- the search --------------------------------------------------------------------------------


@pytest.mark.parametrize("query", [
    "+7 916 123-45-67", "89161234567", "8 (916) 123-45-67", "9161234567", "+79161234567",
    "79161234567",
])
def test_a_phone_in_any_format_finds_the_member(counter, member, query):
    response = find(counter, query)
    assert response.status_code == 200
    assert "150 bonuses" in text(response)
    assert response["HX-Push-Url"] == f"/cashier/members/{member.pk}/"
    assert 'id="result"' in response.content.decode()
    assert "data-search-field" not in response.content.decode()  # the result alone


def test_a_plastic_card_and_the_member_page_qr_find_the_member(alice, counter, member):
    with scope(merchant=alice.merchant):
        Card.objects.create(merchant=alice.merchant, member=member, number="2000123456789",
                            kind=Card.Kind.PLASTIC, issued_at=member.registered_at)
    assert "Maria" in text(find(counter, "2000123456789"))
    assert "Maria" in text(find(counter, member.qr_token))


def test_scanner_control_characters_are_stripped(alice, counter, member):
    assert "Maria" in text(find(counter, f"\x02{member.qr_token}\r\n"))
    assert "Maria" in text(find(counter, "\x1d89161234567\t"))


def test_an_unknown_phone_offers_registration_prefilled(counter, member):
    response = find(counter, "+7 916 000-11-22")
    shown = text(response)
    assert "No member with phone +7 916 000-11-22" in shown
    assert "Register +7 916 000-11-22" in shown
    assert "/cashier/register/?phone=%2B79160001122" in response.content.decode()


def test_an_unknown_card_or_qr_says_so(counter, member):
    unknown_card = find(counter, "2000 1234 56789")
    assert "No member has this card or QR code" in text(unknown_card)
    assert "Register a new member with card 2000123456789" in text(unknown_card)
    form = counter.client.get("/cashier/register/", {"card": "2000123456789"}, headers=HX)
    assert 'value="2000123456789"' in form.content.decode()
    unknown_qr = text(find(counter, "A" * 24))
    assert "No member has this card or QR code" in unknown_qr
    assert "Register +" not in unknown_qr and "with card" not in unknown_qr


@pytest.mark.parametrize("junk", [
    "", " ", "'; drop table", "+", "9" * 200, "\x00\x00", "<script>", "🙂", "%", "1",
    "+999 123", "а" * 30, "12345678901234567890123456789012345",
])
def test_junk_never_fails(counter, member, junk):
    response = find(counter, junk)
    assert response.status_code == 200
    assert "<script>" not in response.content.decode()


def test_a_search_without_htmx_is_the_whole_page(counter, member):
    response = counter.client.get("/cashier/find/", {"q": "89161234567"})
    assert response.status_code == 200
    assert "data-search-field" in response.content.decode()
    assert "150 bonuses" in text(response)


def test_another_merchants_member_is_not_found(bob, counter):
    response = find(counter, "+79160000002")  # bob's member
    assert "No member with phone" in text(response)


# --- registration ------------------------------------------------------------------------------


def registration(**fields) -> dict:
    return {"phone": "+7 916 555-44-33", "first_name": "Ivan", "personal_data": "on", **fields}


def test_the_form_is_prefilled_from_the_search(counter, member):
    response = counter.client.get("/cashier/register/", {"phone": "+79165554433"}, headers=HX)
    assert response.status_code == 200
    assert 'value="+79165554433"' in response.content.decode()


def test_registration_with_the_sms_code_shows_the_welcome_bonus(alice, counter, member, outbox,
                                                                unscoped):
    sent = counter.client.post("/cashier/register/", registration(action="send_code"),
                               headers=HX)
    assert sent.status_code == 200
    assert "Code sent to +7916***4433" in text(sent)
    assert 'autocomplete="one-time-code"' in sent.content.decode()
    code = sms_code(outbox)
    response = counter.client.post("/cashier/register/", registration(code=code, messages="on"),
                                   headers=HX)
    assert response.status_code == 200
    created = Member.objects.get(merchant=alice.merchant, person__phone="+79165554433")
    assert response["HX-Push-Url"] == f"/cashier/members/{created.pk}/"
    shown = text(response)
    assert "Registered" in shown and "Ivan" in shown
    assert "150 bonuses" in shown  # the welcome bonus, at once
    assert created.person.verified_at is not None
    assert created.registered_by == counter.staff
    assert sorted(Consent.objects.filter(member=created).values_list("kind", "text_version")) \
        == [("messages", "counter-2026-12"), ("personal_data", "counter-2026-12")]


def test_registration_without_a_code_as_the_api_allows(alice, counter, member, unscoped):
    response = counter.client.post("/cashier/register/", registration(), headers=HX)
    assert response.status_code == 200
    created = Member.objects.get(merchant=alice.merchant, person__phone="+79165554433")
    assert created.person.verified_at is None
    assert "150 bonuses" in text(response)


@pytest.mark.parametrize(("language", "message"), [
    ("en", "Wrong code"), ("ru", "Неверный код"), ("uk", "Неправильний код"),
])
def test_a_wrong_code_is_a_form_error_in_the_cashiers_language(alice, member, outbox, unscoped,
                                                               language, message):
    at = at_counter(alice, language=language)
    at.client.post("/cashier/register/", registration(action="send_code"), headers=HX)
    code = sms_code(outbox)
    wrong = str((int(code) + 1) % 1_000_000).zfill(6)
    response = at.client.post("/cashier/register/", registration(code=wrong), headers=HX)
    assert response.status_code == 422
    assert message in text(response)
    assert 'aria-invalid="true"' in response.content.decode()
    assert not Member.objects.filter(person__phone="+79165554433").exists()


def test_the_code_limit_is_a_clear_error_on_the_phone(counter, member, outbox):
    counter.client.post("/cashier/register/", registration(action="send_code"), headers=HX)
    again = counter.client.post("/cashier/register/", registration(action="send_code"),
                                headers=HX)
    assert again.status_code == 422
    assert re.search(r"Too many codes for this phone number: try again in \d+ seconds",
                     text(again))


@pytest.mark.parametrize("phone", ["", "12", "+7 000", "x" * 40])
def test_a_code_for_a_bad_phone_is_an_error_on_the_phone(counter, member, outbox, phone):
    response = counter.client.post("/cashier/register/",
                                   registration(action="send_code", phone=phone), headers=HX)
    assert response.status_code == 422
    assert re.search(r'name="phone"[^>]*aria-invalid="true"', response.content.decode())
    assert outbox == []


def test_a_registered_phone_cannot_register_again(counter, member):
    response = counter.client.post("/cashier/register/", registration(phone="89161234567"),
                                   headers=HX)
    assert response.status_code == 422
    assert "This phone number is already registered." in text(response)


def test_consent_is_required(counter, member, unscoped):
    data = registration()
    del data["personal_data"]
    response = counter.client.post("/cashier/register/", data, headers=HX)
    assert response.status_code == 422
    assert "Ask the customer for this consent" in text(response)
    assert not Member.objects.filter(person__phone="+79165554433").exists()


def test_a_plastic_card_scanned_in_at_registration(alice, counter, member, unscoped):
    response = counter.client.post("/cashier/register/",
                                   registration(card_number="\x02 2000 1111 2222\r"), headers=HX)
    assert response.status_code == 200
    created = Member.objects.get(person__phone="+79165554433")
    assert Card.objects.get(member=created, kind=Card.Kind.PLASTIC).number == "200011112222"
    assert "Ivan" in text(find(counter, "200011112222"))


def test_a_card_number_in_use_registers_nobody(alice, counter, member, outbox, unscoped):
    counter.client.post("/cashier/register/", registration(action="send_code"), headers=HX)
    code = sms_code(outbox)
    taken = member.cards.get().number  # the member's phone card
    response = counter.client.post("/cashier/register/",
                                   registration(card_number=taken, code=code), headers=HX)
    assert response.status_code == 422
    assert f"Card {taken} is already in use." in text(response)
    assert not Member.objects.filter(person__phone="+79165554433").exists()
    # The code was not used up: the retry with another card works.
    retry = counter.client.post("/cashier/register/", registration(code=code), headers=HX)
    assert retry.status_code == 200


@pytest.mark.parametrize("fields", [
    {"phone": ""}, {"phone": "12"}, {"phone": "x" * 40}, {"birth_date": "31.02.1990"},
    {"card_number": "!!!"}, {"code": "abc"}, {"phone": "\x00"}, {"first_name": "x" * 300},
])
def test_bad_registration_input_is_a_form_error(counter, member, fields, unscoped):
    response = counter.client.post("/cashier/register/", registration(**fields), headers=HX)
    assert response.status_code == 422
    assert 'aria-invalid="true"' in response.content.decode() or "banner--error" in \
        response.content.decode()
    assert not Member.objects.filter(first_name="Ivan").exists()


# --- a lost card -------------------------------------------------------------------------------


def test_a_lost_card_is_replaced_and_the_balance_stays(alice, counter, member, unscoped):
    lost = Card.objects.create(merchant=alice.merchant, member=member, number="1001",
                               kind=Card.Kind.PLASTIC, issued_at=member.registered_at)
    form = counter.client.get(f"/cashier/members/{member.pk}/card/", headers=HX)
    assert form.status_code == 200 and "1001" in text(form)
    response = counter.client.post(f"/cashier/members/{member.pk}/card/",
                                   {"old_card": "1001", "new_number": "\x02 1002\r"},
                                   headers=HX)
    assert response.status_code == 200
    assert "Card 1002 now holds the balance." in text(response)
    assert "150 bonuses" in text(response)
    lost.refresh_from_db()
    assert lost.status == Card.Status.LOST and lost.replaced_by.number == "1002"
    assert "Nothing found" in text(find(counter, "1001"))
    assert "150 bonuses" in text(find(counter, "1002"))


def test_a_member_with_only_the_phone_card_gets_a_new_card(counter, member, unscoped):
    response = counter.client.post(f"/cashier/members/{member.pk}/card/", {"new_number": "1003"},
                                   headers=HX)
    assert response.status_code == 200
    assert member.cards.get(number="1003").kind == Card.Kind.PLASTIC


@pytest.mark.parametrize("number", ["", "!!", "x" * 50, "79161234567"])
def test_a_bad_new_card_number_is_a_form_error(counter, member, number):
    response = counter.client.post(f"/cashier/members/{member.pk}/card/", {"new_number": number},
                                   headers=HX)
    assert response.status_code == 422
    assert 'aria-invalid="true"' in response.content.decode()


@pytest.mark.parametrize("url", ["/cashier/members/{id}/", "/cashier/members/{id}/card/"])
def test_an_id_beyond_any_row_is_404(counter, url):
    assert counter.client.get(url.format(id=2**70)).status_code == 404


def test_a_merchant_without_a_program_gets_a_message_not_a_500(alice, counter, member, unscoped):
    Program.objects.filter(merchant=alice.merchant).delete()
    response = find(counter, "89161234567")
    assert response.status_code == 409
    assert "This merchant has no loyalty program yet." in text(response)
    assert "data-toast" in response.content.decode()
    assert counter.client.get(f"/cashier/members/{member.pk}/").status_code == 409
