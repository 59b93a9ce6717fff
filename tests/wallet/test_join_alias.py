"""Joining a shop by its link or QR poster (MEM-5), and the alias (MEM-4): taken once with a
code, unique whatever the case, found at any merchant's counter, the phone hidden from a shop
that knows the member only by it; look-ups rate-limited."""

import pytest
from django.core.cache import cache
from django.test import Client
from django_scopes import scope, scopes_disabled

from kopilka.core.actor import Actor
from kopilka.ledger.models import Entry
from kopilka.members import aliases
from kopilka.members.models import Consent, Member, Person
from kopilka.processing import services as processing
from tests.cashier.tools import at_counter
from tests.shop import Shop
from tests.wallet.test_wallet import text
from tests.wallet.tools import person, signed_in, sms_code

pytestmark = pytest.mark.django_db

NEWCOMER = "+79160000009"
ALICE_MEMBER = "+79160000001"


@pytest.fixture
def gifts(bob):
    """bob gives 25.00 to everyone joining and 15.00 more to who joins by themselves."""
    with scopes_disabled():
        Shop(bob).program(welcome_bonus=2500,
                          self_registration_gift={"points": 1500, "validity_days": 30})
    return bob


@pytest.fixture(autouse=True)
def fresh_counts():
    """Alias look-ups are counted in the cache, per terminal id: ids come again in each test."""
    cache.clear()


def available(member) -> int:
    with scope(merchant=member.merchant):
        return processing.member_card(member.merchant, member).available


def english() -> Client:
    return Client(headers={"Accept-Language": "en"})


def join_by_code(client, slug: str, phone: str, outbox, **extra):
    asked = client.post(f"/my/join/{slug}/", {"phone": phone, "personal_data": "on", **extra})
    assert asked.status_code == 200, text(asked)
    return client.post(f"/my/join/{slug}/", {
        "action": "join", "phone": phone, "personal_data": "on", "code": sms_code(outbox),
        **extra})


# --- joining ---------------------------------------------------------------------------------


def test_a_newcomer_joins_by_the_link_with_the_gift_once(gifts, outbox, settings):
    settings.ONE_TIME_CODES = {**settings.ONE_TIME_CODES, "PHONE_LIMITS": ()}  # codes in a row
    client = english()
    page = client.get("/my/join/bob-bakery/")
    assert page.status_code == 200 and "A card at Bob Bakery" in text(page)
    done = join_by_code(client, "bob-bakery", "8 916 000-00-09", outbox,
                        messages="on", first_name="Dana")
    assert done.status_code == 302
    with scopes_disabled():
        member = Member.objects.get(merchant=gifts.merchant, person__phone=NEWCOMER)
        consents = sorted((c.kind, c.text_version, c.channel, c.evidence)
                          for c in Consent.objects.filter(member=member))
        causes = sorted((e.cause_type, e.available_delta)
                        for e in Entry.objects.filter(account__member=member))
    assert done["Location"] == f"/my/cards/{member.pk}/"
    assert (member.registered_via, member.first_name) == ("self", "Dana")
    assert member.person.verified_at is not None
    assert consents == [("messages", "wallet-join-2026-12", "self", "one_time_code"),
                        ("personal_data", "wallet-join-2026-12", "self", "one_time_code")]
    assert causes == [("self_registration", 1500), ("welcome", 2500)]
    assert available(member) == 4000
    card = client.get(done["Location"])  # signed in by joining
    assert "Welcome to Bob Bakery! 40 bonuses are already yours." in text(card)
    # joining again only signs in: no second member, no second gift
    again = join_by_code(english(), "bob-bakery", NEWCOMER, outbox)
    assert again.status_code == 302 and again["Location"] == f"/my/cards/{member.pk}/"
    assert available(member) == 4000


def test_the_cashier_channel_gets_no_self_registration_gift(gifts):
    with scope(merchant=gifts.merchant):
        member = Shop(gifts).join(NEWCOMER)
    assert available(member) == 2500


def test_a_member_gets_a_wallet_code_and_just_the_card(gifts, outbox):
    """bob's own member asks to join bob: the same answer, a wallet code, the card."""
    client = english()
    done = join_by_code(client, "bob-bakery", "+79160000002", outbox)
    assert done.status_code == 302 and done["Location"] == f"/my/cards/{gifts.member.pk}/"
    assert "You already have a card at Bob Bakery." in text(client.get(done["Location"]))
    with scopes_disabled():
        assert Member.objects.filter(person__phone="+79160000002").count() == 1
    assert available(gifts.member) == 0


def test_a_signed_in_person_joins_in_one_tap(gifts, alice):
    client = signed_in(person(ALICE_MEMBER))
    page = client.get("/my/join/bob-bakery/")
    assert "Phone number" not in text(page) and "Get my card" in text(page)
    done = client.post("/my/join/bob-bakery/", {"personal_data": "on"})
    assert done.status_code == 302
    with scopes_disabled():
        member = Member.objects.get(merchant=gifts.merchant, person__phone=ALICE_MEMBER)
    assert available(member) == 4000 and not member.phone_hidden
    assert client.get("/my/join/bob-bakery/")["Location"] == f"/my/cards/{member.pk}/"


@pytest.mark.parametrize(("data", "message"), [
    ({"phone": NEWCOMER}, "Without this consent the shop cannot give you a card."),
    ({"phone": "junk", "personal_data": "on"}, "'junk' is not a phone number."),
    ({"phone": "", "personal_data": "on"}, "This field is required."),
    ({"phone": NEWCOMER, "personal_data": "on", "birth_date": "soon"}, "Enter a valid date."),
    ({"phone": NEWCOMER, "personal_data": "on", "action": "join", "code": ""},
     "This field is required."),
    ({"phone": NEWCOMER, "personal_data": "on", "action": "join", "code": "123456"},
     "No code is waiting for this phone number"),
])
def test_junk_joins_are_form_errors(gifts, data, message):
    response = english().post("/my/join/bob-bakery/", data)
    assert response.status_code == 422
    assert message in text(response)
    with scopes_disabled():
        assert not Member.objects.filter(person__phone=NEWCOMER).exists()


def test_unknown_or_closed_shops_are_404(gifts):
    assert english().get("/my/join/nobody/").status_code == 404
    assert english().get("/my/join/nobody/poster/").status_code == 404
    with scopes_disabled():
        gifts.merchant.status = gifts.merchant.Status.SUSPENDED
        gifts.merchant.save(update_fields=["status"])
    assert english().get("/my/join/bob-bakery/").status_code == 404


def test_the_poster_carries_the_join_link_as_a_qr(gifts):
    page = english().get("/my/join/bob-bakery/poster/")
    assert page.status_code == 200
    assert "http://testserver/my/join/bob-bakery/" in text(page)
    assert 'class="wallet-qr__svg"' in page.content.decode()


# --- the alias -------------------------------------------------------------------------------


def take_alias(client, alias: str, outbox):
    sent = client.post("/my/alias/", {"action": "send_code", "alias": alias})
    assert sent.status_code == 200, text(sent)
    return client.post("/my/alias/", {"action": "save", "alias": alias,
                                      "code": sms_code(outbox)})


def test_an_alias_is_taken_with_a_code_changed_and_dropped(alice, outbox, settings):
    settings.ONE_TIME_CODES = {**settings.ONE_TIME_CODES, "PHONE_LIMITS": ()}  # codes in a row
    client = signed_in(person(ALICE_MEMBER))
    assert client.get("/my/alias/").status_code == 200
    wrong = client.post("/my/alias/", {"action": "send_code", "alias": "Anna_K"})
    assert "We sent a code to +7916***0001." in text(wrong)
    bad = client.post("/my/alias/", {"action": "save", "alias": "Anna_K", "code": "000000"
                                     if sms_code(outbox) != "000000" else "111111"})
    assert bad.status_code == 422 and person(ALICE_MEMBER).alias is None
    done = take_alias(client, "@Anna_K", outbox)
    assert done.status_code == 302 and person(ALICE_MEMBER).alias == "Anna_K"
    assert "@Anna_K" in text(client.get("/my/alias/"))
    take_alias(client, "anna.k", outbox)
    assert person(ALICE_MEMBER).alias == "anna.k"
    client.post("/my/alias/", {"action": "drop"})
    assert person(ALICE_MEMBER).alias is None


def test_an_alias_is_unique_whatever_the_case(alice, bob, outbox):
    with scopes_disabled():
        aliases.set_alias(person(ALICE_MEMBER), "Anna", actor=Actor.cli())
    response = signed_in(person("+79160000002")).post(
        "/my/alias/", {"action": "send_code", "alias": "aNNa"})
    assert response.status_code == 422
    assert "This alias is taken. Try another one." in text(response)
    with pytest.raises(aliases.Conflict), scopes_disabled():
        aliases.set_alias(person("+79160000002"), "ANNA", actor=Actor.cli())


@pytest.mark.parametrize("alias", ["ab", "1anna", "_anna", "anna k", "a" * 17, "ann@", "",
                                   "+79160000001"])
def test_junk_aliases_are_form_errors(alice, alias):
    response = signed_in(person(ALICE_MEMBER)).post(
        "/my/alias/", {"action": "send_code", "alias": alias})
    assert response.status_code == 422
    assert person(ALICE_MEMBER).alias is None


def test_cyrillic_aliases_work(alice):
    with scopes_disabled():
        aliases.set_alias(person(ALICE_MEMBER), "Анна_К", actor=Actor.cli())
        assert aliases.owner("анна_к").phone == ALICE_MEMBER


# --- the alias at the counter ----------------------------------------------------------------


@pytest.fixture
def anna(alice, gifts):
    """alice's member with the alias "Anna", who joined bob showing only the alias."""
    with scopes_disabled():
        aliases.set_alias(person(ALICE_MEMBER), "Anna", actor=Actor.cli())
    client = signed_in(person(ALICE_MEMBER))
    page = client.get("/my/join/bob-bakery/")
    assert "Show the shop only my alias, not my phone number" in text(page)
    assert client.post("/my/join/bob-bakery/", {"personal_data": "on",
                                                "hide_phone": "on"}).status_code == 302
    with scopes_disabled():
        return Member.objects.get(merchant=gifts.merchant, person__phone=ALICE_MEMBER)


def test_bob_finds_anna_by_alias_without_her_phone(anna, bob):
    counter = at_counter(bob)
    page = counter.client.get("/cashier/find/", {"q": "@anna"})
    words = text(page)
    assert page.status_code == 200 and f'data-member="{anna.pk}"' in page.content.decode()
    assert "@Anna" in words and "0001" not in words and "916" not in words
    assert "Available 40 bonuses" in words  # welcome 25.00 + self-registration 15.00


def test_alice_finds_anna_by_alias_with_the_phone_she_already_knew(anna, alice):
    page = at_counter(alice).client.get("/cashier/find/", {"q": "Anna"})
    assert f'data-member="{alice.member.pk}"' in page.content.decode()
    assert "0001" in text(page)


def test_an_alias_not_member_here_offers_the_poster(alice, bob):
    with scopes_disabled():
        aliases.set_alias(person(ALICE_MEMBER), "Anna", actor=Actor.cli())
    page = at_counter(bob).client.get("/cashier/find/", {"q": "@Anna"})
    words = text(page)
    assert "@Anna is not a member here yet" in words
    assert 'href="/my/join/bob-bakery/poster/"' in page.content.decode()
    assert "0001" not in words
    nobody = at_counter(bob).client.get("/cashier/find/", {"q": "@Nobody"})
    assert "is not a member here yet" not in text(nobody)
    assert "Nothing found" in text(nobody)


def test_alias_look_ups_are_rate_limited(alice, bob, settings):
    settings.ALIAS_LOOKUPS = (3, 60)
    counter = at_counter(bob)
    for _n in range(3):
        assert counter.client.get("/cashier/find/", {"q": "@Nobody"}).status_code == 200
    refused = counter.client.get("/cashier/find/", {"q": "@Nobody"})
    assert refused.status_code == 429
    assert "Too many look-ups by alias" in text(refused)
    assert counter.client.get("/cashier/find/", {"q": "+79160000002"}).status_code == 200


def test_a_dropped_alias_finds_nobody_and_stays_hidden(anna, bob):
    with scopes_disabled():
        aliases.drop_alias(person(ALICE_MEMBER), actor=Actor.cli())
    counter = at_counter(bob)
    assert "Nothing found" in text(counter.client.get("/cashier/find/", {"q": "@Anna"}))
    card = counter.client.get(f"/cashier/members/{anna.pk}/")
    assert "0001" not in text(card)


def test_hiding_the_phone_needs_an_alias(gifts, alice):
    client = signed_in(person(ALICE_MEMBER))
    response = client.post("/my/join/bob-bakery/", {"personal_data": "on", "hide_phone": "on"})
    assert response.status_code == 302  # no alias: the box is not on the form, so ignored
    with scopes_disabled():
        assert not Member.objects.get(merchant=gifts.merchant,
                                      person__phone=ALICE_MEMBER).phone_hidden
        assert Person.objects.filter(alias__isnull=False).count() == 0


# --- the card by SMS -------------------------------------------------------------------------


def test_the_cashier_sends_the_card_link_that_signs_in_once(alice, outbox):
    from kopilka.messaging import tasks

    counter = at_counter(alice)
    member = alice.member
    card = counter.client.get(f"/cashier/members/{member.pk}/")
    assert f'action="/cashier/members/{member.pk}/card-link/"' in card.content.decode()
    response = counter.client.post(f"/cashier/members/{member.pk}/card-link/")
    assert response.status_code == 302
    assert "The card link is on its way by SMS." in text(counter.client.get(response["Location"]))
    with scopes_disabled():
        tasks.deliver_due()
    sms = outbox[-1]
    assert sms.recipient == ALICE_MEMBER
    token = sms.body.rsplit("/m/", 1)[1]
    assert sms.body == f"Alice Coffee: ваша карта и баллы http://localhost:8000/m/{token}"
    client = english()
    assert client.post(f"/m/{token}").status_code == 302
    assert client.get(f"/my/cards/{member.pk}/").status_code == 200


def test_the_card_link_is_limited_per_member(alice, bob, outbox):
    counter = at_counter(alice)
    url = f"/cashier/members/{alice.member.pk}/card-link/"
    for _n in range(3):
        counter.client.post(url)
    refused = counter.client.post(url)
    assert "The card link was sent several times already: try again in 60 minutes." in text(
        counter.client.get(refused["Location"]))
    with scopes_disabled():
        assert outbox_count(alice.member) == 3


def outbox_count(member) -> int:
    from kopilka.messaging.models import Message

    return Message.objects.filter(member=member, event="card_link").count()


def test_another_merchants_member_gets_no_card_link(alice, bob):
    counter = at_counter(bob)
    assert counter.client.post(f"/cashier/members/{alice.member.pk}/card-link/").status_code == 404
    assert counter.client.get(f"/cashier/members/{bob.member.pk}/card-link/").status_code == 405
    with scopes_disabled():
        assert outbox_count(alice.member) == 0


def test_a_member_who_left_is_signed_in_but_not_rejoined(gifts, outbox):
    with scopes_disabled():
        Member.objects.filter(pk=gifts.member.pk).update(status=Member.Status.LEFT)
    client = english()
    done = join_by_code(client, "bob-bakery", "+79160000002", outbox)
    assert done.status_code == 302 and done["Location"] == "/my/"
    with scopes_disabled():
        assert Member.objects.get(pk=gifts.member.pk).status == Member.Status.LEFT
        assert Member.objects.filter(person__phone="+79160000002").count() == 1
