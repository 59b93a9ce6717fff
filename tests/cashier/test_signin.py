"""Signing a counter device in for a store, cashiers switching in on it with their PIN, the
lock, the idle lock, setting a PIN and signing the device out (kopilka/web/cashier/views/
signin.py over kopilka/tenancy/counter.py)."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth.hashers import check_password
from django.test import Client
from django_scopes import scope, scopes_disabled

from kopilka.core.actor import Actor
from kopilka.core.errors import InvalidInput
from kopilka.core.models import AuditEntry
from kopilka.tenancy import counter as counters
from kopilka.tenancy import services as tenancy
from kopilka.tenancy.models import Staff, Terminal
from kopilka.web.cashier import counter
from tests.cashier.tools import at_counter, device_cookie, new_device
from tests.tenancy.tools import PASSWORD, make_staff

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def browser(language: str = "en") -> Client:
    return Client(headers={"Accept-Language": language})


def at_device(tenant, **kwargs) -> tuple[Client, Terminal]:
    """A browser whose device is already a counter of `tenant`'s store Main."""
    terminal, key = new_device(tenant, **kwargs)
    client = browser()
    client.cookies[counter.DEVICE_COOKIE] = device_cookie(key)
    return client, terminal


def with_pin(tenant, email: str, role: str, pin: str, first_name: str = "") -> Staff:
    staff = make_staff(tenant.merchant, email, role)
    if first_name:
        staff.user.first_name = first_name
        staff.user.save(update_fields=["first_name"])
    with scope(merchant=tenant.merchant):
        counters.set_pin(staff, pin, actor=Actor.cli())
        staff.refresh_from_db()
    return staff


def text(response) -> str:
    return response.content.decode()


def sign_in(client, email, password):
    return client.post("/cashier/device/", {"step": "credentials", "email": email,
                                            "password": password})


def browser_terminals(tenant) -> list[Terminal]:
    with scopes_disabled():
        return list(Terminal.objects.filter(merchant=tenant.merchant,
                                            kind=Terminal.Kind.BROWSER).select_related("store"))


# --- the device ---------------------------------------------------------------------------------


def test_a_manager_signs_the_device_in_for_the_only_store(alice):
    manager = make_staff(alice.merchant, "manager@alice.test", Staff.Role.MANAGER)
    client = browser()
    first = client.get("/cashier/device/")
    assert first.status_code == 200
    assert "This device is not a counter yet" in text(first)

    answer = sign_in(client, " Manager@Alice.test ", PASSWORD)
    assert (answer.status_code, answer["Location"]) == (302, "/cashier/device/")
    second = client.get("/cashier/device/")
    assert "Which counter is this?" in text(second)
    assert second.context["form"]["name"].value() == "Counter 1"
    assert second.context["store"].name == "Main"  # one store: nothing to choose
    assert 'type="hidden" name="store"' in text(second)

    done = client.post("/cashier/device/", {"step": "device", "store": second.context["store"].pk,
                                            "name": " Counter 1 "})
    assert (done.status_code, done["Location"]) == (302, "/cashier/switch/")
    [terminal] = browser_terminals(alice)
    assert (terminal.name, terminal.store.name, terminal.revoked_at) == ("Counter 1", "Main", None)
    assert counter.DEVICE_COOKIE in done.cookies
    assert done.cookies[counter.DEVICE_COOKIE]["httponly"]
    with scopes_disabled():
        entry = AuditEntry.objects.get(action="tenancy.terminal.created",
                                       object_id=str(terminal.pk))
    assert (entry.actor_label, entry.actor_user_id) == ("manager@alice.test", manager.user_id)
    assert entry.data["kind"] == "browser"
    # The manager is not logged in on the device; the device now asks who is at the counter.
    assert "_auth_user_id" not in client.session
    assert "Nobody has a PIN here yet" in text(client.get("/cashier/switch/"))
    assert client.get("/cashier/device/")["Location"] == "/cashier/switch/"


def test_the_next_device_of_a_store_is_counter_2_and_several_stores_are_a_choice(alice):
    new_device(alice)  # Counter 1 of Main
    second = tenancy.create_store(alice.merchant, "Second", actor=Actor.cli())
    client = browser()
    sign_in(client, "alice@example.com", alice.owner_password)
    page = client.get("/cashier/device/")
    assert page.context["form"]["name"].value() == "Counter 2"
    assert [label for _value, label in page.context["form"].fields["store"].choices] == [
        "Main", "Second"]
    assert 'type="radio" name="store"' in text(page)
    client.post("/cashier/device/", {"step": "device", "store": second.pk, "name": "Till"})
    assert ("Till", "Second") in [(t.name, t.store.name) for t in browser_terminals(alice)]


def test_a_cashier_cannot_sign_a_device_in(alice, charlie):
    client = browser()
    answer = sign_in(client, "charlie@example.com", PASSWORD)
    assert answer.status_code == 422
    assert ("Only a manager can set up this device as a counter. Ask a manager to sign it in."
            in text(answer))
    assert client.get("/cashier/device/").context["step"] == "credentials"
    assert browser_terminals(alice) == []


def test_another_merchants_store_cannot_be_chosen(alice, bob):
    client = browser()
    sign_in(client, "alice@example.com", alice.owner_password)
    with scopes_disabled():
        bobs_store = bob.terminal.store
    answer = client.post("/cashier/device/", {"step": "device", "store": bobs_store.pk,
                                              "name": "Counter 1"})
    assert answer.status_code == 422
    assert "Select a valid choice" in text(answer)
    assert browser_terminals(alice) == browser_terminals(bob) == []


def test_the_store_step_expires_and_can_be_cancelled(alice):
    with time_machine.travel(NOW, tick=False) as traveller:
        client = browser()
        sign_in(client, "alice@example.com", alice.owner_password)
        traveller.shift(timedelta(minutes=11))
        late = client.post("/cashier/device/", {"step": "device", "store": 1, "name": "Late"})
        assert late["Location"] == "/cashier/device/"
        assert client.get("/cashier/device/").context["step"] == "credentials"
        sign_in(client, "alice@example.com", alice.owner_password)
        client.post("/cashier/device/", {"step": "cancel"})
        assert client.get("/cashier/device/").context["step"] == "credentials"
    assert browser_terminals(alice) == []


def test_password_logins_on_the_device_are_throttled(alice):
    client = browser()
    for attempt in range(9):
        wrong = sign_in(client, "alice@example.com", f"wrong-{attempt}")
        assert wrong.status_code == 422
        assert "Wrong e-mail or password." in text(wrong)
    assert sign_in(client, "alice@example.com", "wrong-10").status_code == 429
    locked = sign_in(client, "alice@example.com", alice.owner_password)
    assert locked.status_code == 429
    assert "Try again in 15 min." in text(locked)
    assert "kopilka_counter_setup" not in client.session
    with scopes_disabled():
        assert AuditEntry.objects.filter(action="auth.login_locked_out").count() == 2


def test_a_revoked_terminals_cookie_is_no_device(alice):
    client, terminal = at_device(alice)
    with_pin(alice, "dana@alice.test", Staff.Role.CASHIER, "2580")
    assert client.get("/cashier/switch/").status_code == 200
    tenancy.revoke_terminal(terminal, actor=Actor.cli())
    assert client.get("/cashier/switch/")["Location"] == "/cashier/device/"
    assert client.get("/cashier/")["Location"] == "/cashier/device/"
    assert client.get("/cashier/pin/")["Location"] == "/cashier/device/"
    assert client.get("/cashier/device/").status_code == 200  # may be signed in anew


# --- the switch ---------------------------------------------------------------------------------


def test_the_staff_with_a_pin_are_listed_and_one_switches_in(alice, bob):
    client, terminal = at_device(alice)
    dana = with_pin(alice, "dana@alice.test", Staff.Role.CASHIER, "2580", first_name="Dana")
    with_pin(alice, "boss@alice.test", Staff.Role.MANAGER, "1397", first_name="Boris")
    make_staff(alice.merchant, "nopin@alice.test", Staff.Role.CASHIER)
    with_pin(bob, "bobs@bob.test", Staff.Role.CASHIER, "2580", first_name="Bobby")

    names = client.get("/cashier/switch/")
    assert [person["name"] for person in names.context["people"]] == ["Boris", "Dana"]
    assert "Who is at the counter?" in text(names)
    pad = client.get(f"/cashier/switch/?staff={dana.pk}")
    assert pad.context["chosen"] == dana
    assert 'inputmode="numeric"' in text(pad)

    answer = client.post("/cashier/switch/", {"staff": dana.pk, "pin": "2580"})
    assert (answer.status_code, answer["Location"]) == (302, "/cashier/")
    at = client.get("/cashier/")
    assert at.status_code == 200
    assert at.context["counter"].staff == dana  # each sale records this cashier
    assert at.context["counter"].terminal == terminal


def test_one_person_with_a_pin_gets_the_pad_at_once(alice):
    client, _terminal = at_device(alice)
    dana = with_pin(alice, "dana@alice.test", Staff.Role.CASHIER, "2580")
    page = client.get("/cashier/switch/")
    assert page.context["chosen"] == dana and page.context["alone"]


def test_another_merchants_staff_cannot_switch_in_here(alice, bob):
    client, _terminal = at_device(alice)
    with_pin(alice, "dana@alice.test", Staff.Role.CASHIER, "2580")
    bobs = with_pin(bob, "bobs@bob.test", Staff.Role.CASHIER, "2580")
    assert client.get(f"/cashier/switch/?staff={bobs.pk}").status_code == 404
    assert client.post("/cashier/switch/", {"staff": bobs.pk, "pin": "2580"}).status_code == 404
    assert client.post("/cashier/switch/", {"staff": "x", "pin": "2580"}).status_code == 404
    assert client.get("/cashier/")["Location"] == "/cashier/switch/"


def test_wrong_pins_are_counted_and_lock_the_pin_for_15_minutes(alice):
    client, terminal = at_device(alice)
    dana = with_pin(alice, "dana@alice.test", Staff.Role.CASHIER, "2580")
    with time_machine.travel(NOW, tick=False) as traveller:
        for left in (4, 3, 2, 1):
            wrong = client.post("/cashier/switch/", {"staff": dana.pk, "pin": "0852"})
            assert wrong.status_code == 422
            expected = f"Wrong PIN. {left} attempt{'s' if left > 1 else ''} left."
            assert expected in text(wrong)
        locked = client.post("/cashier/switch/", {"staff": dana.pk, "pin": "0852"})
        assert ("Too many wrong PINs. Try again in 15 minutes, or set a new PIN with your "
                "password.") in text(locked)
        traveller.shift(timedelta(minutes=10))
        right = client.post("/cashier/switch/", {"staff": dana.pk, "pin": "2580"})
        assert right.status_code == 422
        assert "Try again in 5 minutes" in text(right)
        traveller.shift(timedelta(minutes=5, seconds=1))
        assert client.post("/cashier/switch/", {"staff": dana.pk, "pin": "2580"}
                           ).status_code == 302
    with scope(merchant=alice.merchant):
        dana.refresh_from_db()
        entries = list(AuditEntry.objects.filter(action="tenancy.staff.pin_locked"))
    assert (dana.pin_failures, dana.pin_locked_until) == (0, None)
    assert len(entries) == 1
    assert entries[0].actor_label == f"terminal:{terminal.key_prefix}"
    assert entries[0].data["failures"] == 5


def test_a_right_pin_resets_the_count(alice):
    client, _terminal = at_device(alice)
    dana = with_pin(alice, "dana@alice.test", Staff.Role.CASHIER, "2580")
    for _attempt in range(4):
        client.post("/cashier/switch/", {"staff": dana.pk, "pin": "1111"})
    client.post("/cashier/switch/", {"staff": dana.pk, "pin": "2580"})
    client.post("/cashier/lock/")
    wrong = client.post("/cashier/switch/", {"staff": dana.pk, "pin": "1111"})
    assert "Wrong PIN. 4 attempts left." in text(wrong)


def test_the_lock_switches_out_and_keeps_the_device(alice):
    at = at_counter(alice)
    assert at.client.get("/cashier/lock/").status_code == 405
    answer = at.client.post("/cashier/lock/")
    assert (answer.status_code, answer["Location"]) == (302, "/cashier/switch/")
    assert at.client.get("/cashier/")["Location"] == "/cashier/switch/"
    htmx = at_counter(alice).client.post("/cashier/lock/", headers={"HX-Request": "true"})
    assert (htmx.status_code, htmx["HX-Redirect"]) == (204, "/cashier/switch/")


def test_an_idle_counter_locks_after_15_minutes(alice):
    with time_machine.travel(NOW, tick=False) as traveller:
        at = at_counter(alice)
        assert at.client.get("/cashier/").status_code == 200
        page = at.client.get("/cashier/")
        assert 'data-idle-lock="900"' in text(page)  # the page locks itself too (signin.js)
        traveller.shift(timedelta(minutes=14))
        assert at.client.get("/cashier/").status_code == 200  # a request keeps it awake
        traveller.shift(timedelta(minutes=14))
        assert at.client.get("/cashier/").status_code == 200
        traveller.shift(timedelta(minutes=15, seconds=61))
        assert at.client.get("/cashier/")["Location"] == "/cashier/switch/"
        assert counter.SESSION_KEY not in at.client.session


def test_the_idle_lock_can_be_turned_off(alice, settings):
    settings.COUNTER_IDLE_LOCK = 0  # KOPILKA_COUNTER_IDLE_LOCK=0: a personal tablet
    with time_machine.travel(NOW, tick=False) as traveller:
        at = at_counter(alice)
        assert at.client.get("/cashier/").status_code == 200
        traveller.shift(timedelta(hours=9))
        assert at.client.get("/cashier/").status_code == 200
        assert 'data-idle-lock="0"' in text(at.client.get("/cashier/"))


# --- setting a PIN ------------------------------------------------------------------------------


def set_pin(client, email, password, pin, again=None):
    return client.post("/cashier/pin/", {"email": email, "password": password, "pin": pin,
                                         "pin_again": pin if again is None else again})


def test_a_cashier_sets_a_pin_with_the_password_and_is_switched_in(alice, charlie):
    client, _terminal = at_device(alice)
    assert client.get("/cashier/pin/").status_code == 200
    answer = set_pin(client, "charlie@example.com", PASSWORD, "2580")
    assert (answer.status_code, answer["Location"]) == (302, "/cashier/")
    assert client.get("/cashier/").context["counter"].staff == charlie.staff
    with scope(merchant=alice.merchant):
        charlie.staff.refresh_from_db()
        assert AuditEntry.objects.filter(action="tenancy.staff.pin_set").count() == 1
    assert "2580" not in charlie.staff.pin_hash
    assert check_password("2580", charlie.staff.pin_hash)


@pytest.mark.parametrize(("pin", "again", "error"), [
    ("1234", None, "This PIN is the first one anyone would try. Choose another."),
    ("777777", None, "This PIN is the first one anyone would try. Choose another."),
    ("12a4", None, "A PIN is 4 to 6 digits."),
    ("258", None, "A PIN is 4 to 6 digits."),
    ("2580", "2581", "The two PINs differ. Type the same PIN twice."),
])
def test_a_bad_new_pin_is_refused(alice, charlie, pin, again, error):
    client, _terminal = at_device(alice)
    answer = set_pin(client, "charlie@example.com", PASSWORD, pin, again)
    assert answer.status_code == 422
    assert error in text(answer)
    with scope(merchant=alice.merchant):
        charlie.staff.refresh_from_db()
    assert charlie.staff.pin_hash == ""


def test_setting_a_pin_needs_the_right_password_and_this_merchant(alice, bob):
    client, _terminal = at_device(alice)
    wrong = set_pin(client, "alice@example.com", "nope", "2580")
    assert "Wrong e-mail or password." in text(wrong)
    stranger = set_pin(client, "bob@example.com", bob.owner_password, "2580")
    assert stranger.status_code == 422
    assert "You are not on the staff of Alice Coffee." in text(stranger)
    assert client.get("/cashier/")["Location"] == "/cashier/switch/"


def test_a_new_pin_lifts_the_lock(alice, charlie):
    client, _terminal = at_device(alice)
    set_pin(client, "charlie@example.com", PASSWORD, "2580")
    client.post("/cashier/lock/")
    for _attempt in range(5):
        client.post("/cashier/switch/", {"staff": charlie.staff.pk, "pin": "0000"})
    set_pin(client, "charlie@example.com", PASSWORD, "3691")
    client.post("/cashier/lock/")
    assert client.post("/cashier/switch/", {"staff": charlie.staff.pk, "pin": "3691"}
                       ).status_code == 302


@pytest.mark.parametrize("pin", ["0000", "1234", "4321", "0123", "123456", "987654", "111111",
                                 "", "123", "1234567", "１２３４５"])
def test_pins_anyone_would_try_or_not_4_to_6_digits_are_refused(pin):
    with pytest.raises(InvalidInput):
        counters.check_new_pin(pin)


@pytest.mark.parametrize("pin", ["2580", "1357", "902468", "12349"])
def test_other_pins_are_fine(pin):
    assert counters.check_new_pin(pin) == pin


# --- signing the device out ---------------------------------------------------------------------


def test_a_manager_switched_in_signs_the_device_out_with_a_confirmation(alice):
    at = at_counter(alice, Staff.Role.MANAGER)
    page = at.client.get("/cashier/device/sign-out/")
    assert "You are switched in as" in text(page)
    assert 'name="password"' not in text(page)
    answer = at.client.post("/cashier/device/sign-out/")
    assert (answer.status_code, answer["Location"]) == (302, "/cashier/device/")
    assert answer.cookies[counter.DEVICE_COOKIE].value == ""
    with scopes_disabled():
        at.terminal.refresh_from_db()
    assert at.terminal.revoked_at is not None
    assert at.client.get("/cashier/")["Location"] == "/cashier/device/"


def test_signing_out_otherwise_takes_a_managers_password(alice, charlie):
    at = at_counter(alice)  # a cashier is switched in
    page = at.client.get("/cashier/device/sign-out/")
    assert 'name="password"' in text(page)
    refused = at.client.post("/cashier/device/sign-out/", {"email": "charlie@example.com",
                                                           "password": PASSWORD})
    assert refused.status_code == 422
    assert "Only a manager can sign a counter device in or out." in text(refused)
    with scopes_disabled():
        at.terminal.refresh_from_db()
    assert at.terminal.revoked_at is None
    done = at.client.post("/cashier/device/sign-out/", {"email": "alice@example.com",
                                                        "password": alice.owner_password})
    assert done["Location"] == "/cashier/device/"
    with scopes_disabled():
        at.terminal.refresh_from_db()
        entry = AuditEntry.objects.get(action="tenancy.terminal.revoked")
    assert at.terminal.revoked_at is not None
    assert entry.actor_label == "alice@example.com"


def test_another_merchants_manager_cannot_sign_this_device_out(alice, bob):
    client, terminal = at_device(alice)
    refused = client.post("/cashier/device/sign-out/", {"email": "bob@example.com",
                                                        "password": bob.owner_password})
    assert refused.status_code == 422
    assert "You are not on the staff of Alice Coffee." in text(refused)
    with scopes_disabled():
        terminal.refresh_from_db()
    assert terminal.revoked_at is None


# --- the demo -----------------------------------------------------------------------------------


def test_the_demo_prints_a_counter_sign_in_that_works(db, settings, tmp_path):
    from kopilka import demo

    settings.DATA_DIR = tmp_path
    printed = demo.ensure_demo("http://127.0.0.1:8000")
    assert "  Cashier workplace: http://127.0.0.1:8000/cashier/" in printed
    manager_line = next(line for line in printed.splitlines() if "as the manager:" in line)
    password = manager_line.split("password ")[1].split()[0]
    assert ("    then switch in with a PIN:  Мария Иванова 4826   Дарья Петренко 2580   "
            "Олег Сидоров 1397") in printed

    client = browser()
    sign_in(client, "maria@demo.kopilka.local", password)
    page = client.get("/cashier/device/")
    client.post("/cashier/device/", {"step": "device", "store": page.context["store"].pk,
                                     "name": page.context["form"]["name"].value()})
    names = client.get("/cashier/switch/")
    people = {person["name"]: person["staff"] for person in names.context["people"]}
    assert sorted(people) == ["Дарья Петренко", "Мария Иванова", "Олег Сидоров"]
    client.post("/cashier/switch/", {"staff": people["Дарья Петренко"].pk, "pin": "2580"})
    assert client.get("/cashier/").context["counter"].staff == people["Дарья Петренко"]


@pytest.mark.parametrize(("language", "expected"), [
    ("ru", ["Неверный ПИН-код. Осталось 4 попытки.", "Неверный ПИН-код. Осталась 1 попытка."]),
    ("uk", ["Неправильний PIN-код. Залишилося 4 спроби.",
            "Неправильний PIN-код. Залишилася 1 спроба."]),
])
def test_pin_errors_in_the_cashiers_language(alice, language, expected):
    _terminal, key = new_device(alice)
    client = browser(language)
    client.cookies[counter.DEVICE_COOKIE] = device_cookie(key)
    dana = with_pin(alice, "dana@alice.test", Staff.Role.CASHIER, "2580")
    said = [text(client.post("/cashier/switch/", {"staff": dana.pk, "pin": "0852"}))
            for _attempt in range(4)]
    assert expected[0] in said[0] and expected[1] in said[3]
    pad = text(client.get("/cashier/switch/"))
    assert ("Введите ПИН-код" if language == "ru" else "Введіть PIN-код") in pad
