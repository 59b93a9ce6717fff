"""The member wallet through Django's test client: signing in by code and by link, the card,
the shops with exact figures, the history, settings, and every /my/ URL refusing another
person's membership with a 404."""

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client
from django_scopes import scope, scopes_disabled

from kopilka.codes.models import OneTimeCode
from kopilka.core.actor import Actor
from kopilka.members.models import Consent, Member, Person
from kopilka.processing import queries
from kopilka.processing import services as processing
from kopilka.programs import services as programs
from kopilka.web.wallet import signin
from tests.shop import Shop
from tests.wallet.tools import person, signed_in, sms_code

pytestmark = pytest.mark.django_db

PHONE = "+79160000001"  # alice's member, who joins bob too
T0 = datetime(2027, 1, 11, 9, 0, tzinfo=UTC)  # after the fixtures: alice joined first
ACTOR = Actor.cli()


@pytest.fixture
def two_shops(alice, bob):
    """One person, a member of alice (5%, points burn 5 days after accrual) and bob (10%,
    points wait 14 days), with one purchase at each on T0."""
    with time_machine.travel(T0, tick=False), scopes_disabled():
        programs.save_program(alice.merchant, {
            "type": "bonus", "expiry": {"mode": "after_accrual", "days": 5},
            "tiers": [
                {"code": "base", "name": "Base", "accrual": {"kind": "percent", "percent": "5"}},
                {"code": "gold", "name": "Gold", "threshold": 500000,
                 "accrual": {"kind": "percent", "percent": "7"}},
            ]}, actor=ACTOR)
        programs.save_program(bob.merchant, {
            "type": "bonus", "activation_delay_days": 14,
            "tiers": [{"code": "base", "name": "Base",
                       "accrual": {"kind": "percent", "percent": "10"}}]}, actor=ACTOR)
        at_bob = processing.enrol(bob.merchant, phone=PHONE, actor=ACTOR,
                                  channel=Member.Channel.CASHIER)
    with time_machine.travel(T0, tick=False):
        with scope(merchant=alice.merchant):
            Shop(alice).buy(alice.member, 100000)  # 1 000.00: 5 000 points (50.00)
        with scope(merchant=bob.merchant):
            Shop(bob).buy(at_bob, 30000)  # 300.00: 3 000 points (30.00), pending 14 days
    return alice.member, at_bob


def english() -> Client:
    return Client(headers={"Accept-Language": "en"})


def text(response) -> str:
    """The page's visible text, tags dropped and spaces (also CLDR's no-break ones) folded."""
    body = html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode()))
    return " ".join(body.replace("\xa0", " ").replace("\u202f", " ").split())


def test_the_card_shows_the_qr_and_the_number_with_a_switcher(two_shops):
    at_alice, at_bob = two_shops
    client = signed_in(person(PHONE))
    with time_machine.travel(T0 + timedelta(days=1), tick=False):
        response = client.get("/my/")
        assert response.status_code == 302
        assert response["Location"] == f"/my/cards/{at_alice.pk}/"
        page = client.get(response["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert '<svg viewBox="0 0 ' in html and 'class="wallet-qr__svg"' in html
    assert "79160000001" in text(page)  # the phone card
    words = text(page)
    assert "Alice Coffee" in words and "Bob Bakery" in words  # the switcher
    assert "50 bonuses worth RUB50.00" in words  # the program's word, not "points"
    bob_card = client.get(f"/my/cards/{at_bob.pk}/")
    assert "0 bonuses worth RUB0.00" in text(bob_card)


def test_the_qr_is_the_token_the_counter_looks_up(two_shops):
    import segno

    at_alice, _at_bob = two_shops
    page = signed_in(person(PHONE)).get(f"/my/cards/{at_alice.pk}/").content.decode()
    expected = segno.make(at_alice.qr_token, error="m", micro=False).svg_inline(
        scale=1, border=4, omitsize=True, svgclass="wallet-qr__svg", lineclass="")
    assert expected in page
    with scope(merchant=at_alice.merchant):  # what the counter does with the scanned text
        assert queries.lookup(at_alice.merchant, qr=at_alice.qr_token).member.pk == at_alice.pk


def test_shops_list_has_every_figure_of_both_memberships(two_shops):
    with time_machine.travel(T0 + timedelta(days=1), tick=False):
        page = signed_in(person(PHONE)).get("/my/shops/")
    words = text(page)
    assert page.status_code == 200
    alice_part, bob_part = words.split("Bob Bakery", 1)
    assert "Available 50 bonuses · RUB50.00" in alice_part
    assert "Expiring 50 bonuses until Jan 16, 2027" in alice_part  # the last day they can be spent
    assert "Level Base · RUB4,000.00 more to Gold" in alice_part
    assert "Spent in total RUB1,000.00" in alice_part
    assert "Last purchase Jan 11, 2027" in alice_part
    assert "Available 0 bonuses · RUB0.00" in bob_part
    assert "Waiting 30 bonuses from Jan 25, 2027" in bob_part
    assert "Spent in total RUB300.00" in bob_part


def test_history_in_words_paged(two_shops, alice):
    at_alice, _at_bob = two_shops
    client = signed_in(person(PHONE))
    with scope(merchant=at_alice.merchant):
        shop = Shop(alice)
        for n in range(21):
            with time_machine.travel(T0 + timedelta(minutes=n + 1), tick=False):
                shop.buy(at_alice, 1000)  # 10.00: 50 points (0.50) each
    first = client.get(f"/my/shops/{at_alice.pk}/")
    words = text(first)
    assert first.status_code == 200
    assert words.count("Purchase") == 20
    assert "+0.5 bonuses" in words and "accrued" in words
    before = re.search(r'href="\?before=(\d+)"', first.content.decode())[1]
    second = client.get(f"/my/shops/{at_alice.pk}/?before={before}")
    words = text(second)
    assert words.count("Purchase") == 2  # the 21st small one and the first big one
    assert "+50 bonuses" in words
    assert 'href="?before=' not in second.content.decode()


@pytest.mark.parametrize("junk", ["abc", "-1", "99999999999999999999999", "1e5", ""])
def test_junk_paging_is_the_first_page(two_shops, junk):
    at_alice, _at_bob = two_shops
    response = signed_in(person(PHONE)).get(f"/my/shops/{at_alice.pk}/", {"before": junk})
    assert response.status_code == 200


def test_every_wallet_url_refuses_another_persons_membership(two_shops, alice, bob):
    """bob's own member (another person) may not open anything of the first person's."""
    at_alice, at_bob = two_shops
    stranger = signed_in(person("+79160000002"))
    for member in (at_alice, at_bob):
        for url in (f"/my/cards/{member.pk}/", f"/my/shops/{member.pk}/",
                    f"/my/shops/{member.pk}/settings/", f"/my/shops/{member.pk}/send/"):
            assert stranger.get(url).status_code == 404, url
        for url, data in ((f"/my/shops/{member.pk}/settings/", {"action": "leave"}),
                          (f"/my/shops/{member.pk}/settings/", {"action": "messages_off"}),
                          (f"/my/shops/{member.pk}/erase/", {}),
                          (f"/my/shops/{member.pk}/erase/", {"code": "123456"}),
                          (f"/my/shops/{member.pk}/send/", {"phone": PHONE, "points": "1",
                                                            "key": "k"})):
            assert stranger.post(url, data).status_code == 404, url
    for url in ("/my/cards/0/", "/my/shops/999999999/", "/my/cards/99999999999999999999/"):
        assert stranger.get(url).status_code == 404
    with scopes_disabled():
        assert Member.objects.get(pk=at_alice.pk).status == Member.Status.ACTIVE


def test_signed_out_device_is_sent_to_sign_in():
    client = Client()
    for url in ("/my/", "/my/shops/", "/my/cards/1/", "/my/shops/1/settings/", "/my/alias/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"] == "/my/signin/", url
    assert client.post("/my/alias/", {"action": "drop"})["Location"] == "/my/signin/"


def test_forged_cookie_is_not_a_session(two_shops):
    client = Client()
    client.cookies[signin.COOKIE] = f"{person(PHONE).pk}:0"  # unsigned
    assert client.get("/my/shops/").status_code == 302


# --- signing in --------------------------------------------------------------------------------


def test_sign_in_by_code(two_shops, outbox):
    client = Client(headers={"Accept-Language": "en"})
    assert client.get("/my/signin/").status_code == 200
    response = client.post("/my/signin/", {"phone": "8 916 000-00-01"})
    assert response.status_code == 200
    assert "+7916***0001" in text(response)
    code = sms_code(outbox)
    assert outbox[-1].recipient == PHONE
    wrong = client.post("/my/signin/code/", {"phone": PHONE,
                                             "code": str((int(code) + 1) % 10**6).zfill(6)})
    assert wrong.status_code == 422
    assert "Wrong code. 4 attempts left." in text(wrong)
    response = client.post("/my/signin/code/", {"phone": PHONE, "code": code})
    assert response.status_code == 302 and response["Location"] == "/my/"
    assert client.get("/my/shops/").status_code == 200
    again = Client().post("/my/signin/code/", {"phone": PHONE, "code": code})
    assert again.status_code == 422  # used up


def test_a_phone_that_is_nobodys_gets_the_same_answer_and_no_sms(db, outbox):
    response = english().post("/my/signin/", {"phone": "+79169999999"})
    assert response.status_code == 200
    assert "If +7916***9999 has a card" in text(response)
    with scopes_disabled():
        assert OneTimeCode.objects.count() == 0


def test_code_requests_are_limited_per_phone_across_shops(two_shops, outbox):
    with time_machine.travel(T0 + timedelta(days=1), tick=False):
        assert Client().post("/my/signin/", {"phone": PHONE}).status_code == 200
    with time_machine.travel(T0 + timedelta(days=1, seconds=20), tick=False):
        response = english().post("/my/signin/", {"phone": PHONE})
    assert response.status_code == 429
    assert "Too many codes for this phone number: try again in 40 seconds." in text(response)


def test_code_requests_are_limited_per_address(two_shops, outbox, settings):
    settings.ONE_TIME_CODES = {**settings.ONE_TIME_CODES, "CLIENT_LIMITS": ((1, 3600),)}
    with time_machine.travel(T0 + timedelta(days=1), tick=False):
        assert Client().post("/my/signin/", {"phone": PHONE}).status_code == 200
        response = english().post("/my/signin/", {"phone": "+79160000002"})
    assert response.status_code == 429
    assert "Too many codes requested from this address" in text(response)


@pytest.mark.parametrize("phone", ["", "abc", "+7", "9" * 40, "<script>"])
def test_junk_phones_are_form_errors(db, phone):
    assert Client().post("/my/signin/", {"phone": phone}).status_code == 422


@pytest.mark.parametrize("code", ["", "abc", "1" * 9, "12 34"])
def test_junk_codes_are_form_errors(two_shops, code):
    assert Client().post("/my/signin/code/", {"phone": PHONE, "code": code}).status_code == 422
    assert Client().post("/my/signin/code/", {"phone": "junk", "code": "1"}).status_code == 422


def test_sign_in_by_link_once(two_shops):
    with time_machine.travel(T0, tick=False):
        token = signin.issue_link(person(PHONE))
    assert len(token) == 10
    client = Client(headers={"Accept-Language": "en"})
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        shown = client.get(f"/m/{token}")
        assert shown.status_code == 200  # a preview fetch uses nothing up
        response = client.post(f"/m/{token}")
        assert response.status_code == 302 and response["Location"] == "/my/"
        assert client.get("/my/shops/").status_code == 200
        again = english().post(f"/m/{token}")
    assert again.status_code == 410
    assert "This link no longer works" in text(again)


def test_an_expired_link_signs_nobody_in(two_shops):
    with time_machine.travel(T0, tick=False):
        token = signin.issue_link(person(PHONE))
    with time_machine.travel(T0 + timedelta(hours=24, seconds=1), tick=False):
        assert Client().post(f"/m/{token}").status_code == 410


@pytest.mark.parametrize("token", ["x", "a" * 10, "a" * 200, "%00", "ab/cd"])
def test_junk_links(db, token):
    assert Client().post(f"/m/{token}").status_code in (404, 410)


def test_sign_out_everywhere_voids_every_device(two_shops):
    phone_a, phone_b = signed_in(person(PHONE)), signed_in(person(PHONE))
    response = phone_a.post("/my/signout/everywhere/")
    assert response.status_code == 302
    assert phone_b.get("/my/shops/").status_code == 302
    assert phone_a.get("/my/shops/").status_code == 302
    fresh = signed_in(person(PHONE))
    assert fresh.get("/my/shops/").status_code == 200


def test_sign_out_forgets_this_device(two_shops):
    client = signed_in(person(PHONE))
    client.post("/my/signout/")
    assert client.get("/my/shops/").status_code == 302


# --- settings ----------------------------------------------------------------------------------


def test_messages_on_and_off(two_shops):
    at_alice, at_bob = two_shops
    client = signed_in(person(PHONE))
    assert client.post(f"/my/shops/{at_alice.pk}/settings/",
                       {"action": "messages_on"}).status_code == 302
    with scopes_disabled():
        live = Consent.objects.filter(member=at_alice, kind="messages", revoked_at=None)
        assert [(c.text_version, c.channel) for c in live] == [("wallet-messages-1", "self")]
        assert not Consent.objects.filter(member=at_bob).exists()  # the other shop untouched
    page = client.get(f"/my/shops/{at_alice.pk}/settings/")
    assert 'data-messages="on"' in page.content.decode()
    client.post(f"/my/shops/{at_alice.pk}/settings/", {"action": "messages_off"})
    with scopes_disabled():
        assert not Consent.objects.filter(member=at_alice, revoked_at=None).exists()
    assert client.post(f"/my/shops/{at_alice.pk}/settings/",
                       {"action": "junk"}).status_code == 422


def test_leaving_one_program_keeps_the_other(two_shops):
    at_alice, at_bob = two_shops
    client = signed_in(person(PHONE))
    response = client.post(f"/my/shops/{at_alice.pk}/settings/", {"action": "leave"})
    assert response.status_code == 302
    with scopes_disabled():
        assert Member.objects.get(pk=at_alice.pk).status == Member.Status.LEFT
    assert client.get(f"/my/cards/{at_alice.pk}/").status_code == 404
    assert client.get("/my/")["Location"] == f"/my/cards/{at_bob.pk}/"


def test_erasing_my_data_is_confirmed_by_code(two_shops, outbox):
    at_alice, at_bob = two_shops
    client = signed_in(person(PHONE))
    asked = client.post(f"/my/shops/{at_alice.pk}/erase/")
    assert asked.status_code == 200 and "We sent a code to +7916***0001." in text(asked)
    code = sms_code(outbox)
    wrong = client.post(f"/my/shops/{at_alice.pk}/erase/", {"code": "000000" if code != "000000"
                                                            else "111111"})
    assert wrong.status_code == 422
    with scopes_disabled():
        assert Member.objects.get(pk=at_alice.pk).status == Member.Status.ACTIVE
    done = client.post(f"/my/shops/{at_alice.pk}/erase/", {"code": code})
    assert done.status_code == 302
    with scopes_disabled():
        erased = Member.objects.get(pk=at_alice.pk)
        assert erased.status == Member.Status.ERASED and erased.person.phone is None
        assert Member.objects.get(pk=at_bob.pk).status == Member.Status.ACTIVE
    assert client.get(f"/my/cards/{at_alice.pk}/").status_code == 404
    assert client.get(f"/my/cards/{at_bob.pk}/").status_code == 200


def test_erasing_the_only_membership_signs_the_person_out(alice, outbox):
    client = signed_in(person(PHONE))
    client.post(f"/my/shops/{alice.member.pk}/erase/")
    response = client.post(f"/my/shops/{alice.member.pk}/erase/", {"code": sms_code(outbox)})
    assert response.status_code == 302
    with scopes_disabled():
        assert not Person.objects.filter(phone=PHONE).exists()
    assert client.get("/my/")["Location"] == "/my/signin/"


def test_pages_in_russian_and_ukrainian(two_shops):
    at_alice, _at_bob = two_shops
    for language, word in (("ru", "Мои магазины"), ("uk", "Мої магазини")):
        client = signed_in(person(PHONE), language)
        assert word in text(client.get("/my/shops/"))
        assert client.get(f"/my/shops/{at_alice.pk}/").status_code == 200


# --- sending points to a friend ----------------------------------------------------------------

FRIEND = "+79160000003"


@pytest.fixture
def friends(two_shops, alice):
    """Transfers on at alice (1.00 to 20.00 at a time); a friend who is alice's member too."""
    at_alice, _at_bob = two_shops
    with scopes_disabled():
        config = programs.load(alice.merchant).config.model_dump(mode="json")
        config["transfers"] = {"enabled": True, "min_points": 100, "max_points": 2000}
        programs.save_program(alice.merchant, config, actor=ACTOR)
        friend = processing.enrol(alice.merchant, phone=FRIEND, actor=ACTOR,
                                  channel=Member.Channel.CASHIER)
    return at_alice, friend


def balance(member) -> int:
    with scope(merchant=member.merchant):
        return processing.member_card(member.merchant, member).available


def test_send_points_to_a_friend_once_per_form(friends):
    at_alice, friend = friends
    client = signed_in(person(PHONE))
    url = f"/my/shops/{at_alice.pk}/send/"
    assert "Send to a friend" in text(client.get(f"/my/shops/{at_alice.pk}/"))
    assert "From 1 bonus to 20 bonuses at a time." in text(client.get(url))
    form = {"phone": "8 916 000-00-03", "points": "12,50", "key": "k1"}
    response = client.post(url, form)
    assert response.status_code == 302
    assert client.post(url, form).status_code == 302  # a double tap: the same transfer
    assert (balance(at_alice), balance(friend)) == (5000 - 1250, 1250)
    toast = text(client.get(response["Location"]))
    assert "12.5 bonuses sent to +7916***0003." in toast


def test_a_transfer_confirmed_by_the_code_sent_to_the_senders_phone(friends, alice, outbox):
    at_alice, friend = friends
    with scopes_disabled():
        config = programs.load(alice.merchant).config.model_dump(mode="json")
        config["transfers"]["confirm_by_code"] = True
        programs.save_program(alice.merchant, config, actor=ACTOR)
    client = signed_in(person(PHONE))
    url = f"/my/shops/{at_alice.pk}/send/"
    form = {"phone": FRIEND, "points": "10", "key": "k2"}
    asked = client.post(url, form)  # step 1: the code goes to the sender's phone
    assert asked.status_code == 200
    assert "We sent a code to +7916***0001: enter it to send the points." in text(asked)
    assert 'name="code"' in asked.content.decode()
    code = sms_code(outbox)
    assert outbox[-1].recipient == PHONE
    assert balance(at_alice) == 5000  # nothing moved yet
    wrong = client.post(url, {**form, "code": "000000" if code != "000000" else "111111"})
    assert wrong.status_code == 422 and "Wrong code" in text(wrong)
    assert client.post(url, {**form, "code": ""}).status_code == 422  # the code is required
    assert client.post(url, {**form, "code": code}).status_code == 302
    assert (balance(at_alice), balance(friend)) == (5000 - 1000, 1000)
    again = client.post(url, {**form, "key": "k3", "code": code})  # a used code moves nothing
    assert again.status_code == 422
    assert (balance(at_alice), balance(friend)) == (4000, 1000)


@pytest.mark.parametrize(("points", "phone", "message"), [
    ("25", FRIEND, "A transfer must be between 100 and 2000 points."),
    ("0.5", FRIEND, "A transfer must be between 100 and 2000 points."),
    ("1.234", FRIEND, "At most 2 digits after the point."),
    ("-3", FRIEND, "Enter a number of points above zero."),
    ("abc", FRIEND, "Enter a number of points above zero."),
    ("1e400", FRIEND, "Enter a number of points above zero."),
    ("5", "+79169999999", "Nobody with this phone number is a member here."),
    ("5", "junk", "'junk' is not a phone number."),
    ("5", PHONE, "Points cannot be sent to oneself."),
])
def test_sending_refusals_are_form_errors(friends, points, phone, message):
    at_alice, friend = friends
    response = signed_in(person(PHONE)).post(f"/my/shops/{at_alice.pk}/send/",
                                             {"phone": phone, "points": points, "key": "k"})
    assert response.status_code == 422
    assert message in text(response)
    assert (balance(at_alice), balance(friend)) == (5000, 0)


def test_no_sending_where_the_program_does_not_allow_it(two_shops):
    _at_alice, at_bob = two_shops
    client = signed_in(person(PHONE))
    assert client.get(f"/my/shops/{at_bob.pk}/send/").status_code == 404
    assert "Send to a friend" not in text(client.get(f"/my/shops/{at_bob.pk}/"))
