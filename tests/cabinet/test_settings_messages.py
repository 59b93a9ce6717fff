"""Message templates, quiet hours and the SMS balance in the cabinet: stored values exactly,
the preview with sample figures, bad input a form error in the user's language, the costs by
topic and the statement as billing keeps them; a manager reads the balance, not the texts."""

from datetime import time, timedelta

from django.conf import settings
from django_scopes import scopes_disabled

from kopilka.core import clock
from kopilka.core.actor import Actor
from kopilka.messaging import billing
from kopilka.messaging.models import Settings, SmsEntry, Template
from kopilka.tenancy.models import Staff
from tests.cabinet.tools import owner_of, staff_client

URL = "/cabinet/settings/messages/accrual/en/sms/"


def test_the_list_shows_every_event_and_language(alice):
    page = owner_of(alice).get("/cabinet/settings/messages/").content.decode()
    for key in ("accrual/ru/sms", "accrual/uk/email", "birthday/en/sms"):
        assert f'data-template="{key}"' in page


def test_save_a_template_and_switch_one_off(alice):
    client = owner_of(alice)
    body = "{merchant}: +{points}, now {balance}."
    assert client.post(URL, {"body": body, "enabled": "on"}).status_code == 302
    client.post("/cabinet/settings/messages/birthday/ru/sms/", {"body": ""})
    with scopes_disabled():
        saved = {(row.event, row.language, row.channel): (row.body, row.enabled)
                 for row in Template.objects.filter(merchant=alice.merchant)}
    assert saved == {("accrual", "en", "sms"): (body, True),
                     ("birthday", "ru", "sms"): ("", False)}
    listing = owner_of(alice).get("/cabinet/settings/messages/").content.decode()
    assert listing.count(">off<") == 1 and listing.count(">yours<") == 1


def test_the_preview_fills_sample_figures(alice):
    client = owner_of(alice)
    shown = client.get(URL).content.decode()
    assert "Alice Coffee: +21 bonuses for your RUB1,500.00 purchase. Balance: 125.5 bonuses" \
        in shown
    typed = client.post(URL + "preview/", {"body": "Hi {name}, +{points}"},
                        headers={"HX-Request": "true"})
    html = typed.content.decode()
    assert typed.status_code == 200 and html.lstrip().startswith('<div id="preview"')
    assert '<p class="settings-preview" data-preview>Hi Anna, +21 bonuses</p>' in html
    assert "1 SMS part" in html
    wrong = client.post(URL + "preview/", {"body": "Hi {nmae}"}, headers={"HX-Request": "true"})
    assert "data-preview-error" in wrong.content.decode() and "{nmae}" in wrong.content.decode()


def test_bad_input_is_a_form_error_in_the_users_language(alice):
    client = owner_of(alice, language="ru")
    response = client.post(URL, {"body": "Привет {имя}", "enabled": "on"})
    assert response.status_code == 422
    assert "{имя}" in response.content.decode()
    quiet = client.post("/cabinet/settings/messages/", {
        "action": "quiet", "transactional": "all", "quiet_from": "25:00", "quiet_to": "09:00"})
    assert quiet.status_code == 422 and "Введите правильное время." in quiet.content.decode()
    with scopes_disabled():
        assert not Template.objects.filter(merchant=alice.merchant).exists()
        assert not Settings.objects.filter(merchant=alice.merchant).exists()
    assert client.get("/cabinet/settings/messages/nope/en/sms/").status_code == 404


def test_quiet_hours_and_receipts(alice):
    client = owner_of(alice)
    assert client.post("/cabinet/settings/messages/", {
        "action": "quiet", "transactional": "consented", "quiet_from": "22:30",
        "quiet_to": "08:00"}).status_code == 302
    with scopes_disabled():
        row = Settings.objects.get(merchant=alice.merchant)
    assert (row.transactional, row.quiet_from, row.quiet_to) == (
        "consented", time(22, 30), time(8, 0))


def test_the_sms_balance_statement_and_costs(alice):
    with scopes_disabled():
        billing.top_up(alice.merchant, 50_000, note="invoice 7", actor=Actor.cli())
        now = clock.now()
        account = billing.account(alice.merchant)
        for event, amount, parts in (("accrual", -450, 1), ("accrual", -900, 2),
                                     ("birthday", -450, 1)):
            account.balance += amount
            SmsEntry.objects.create(merchant=alice.merchant, kind=SmsEntry.Kind.CHARGE,
                                    amount=amount, parts=parts, balance_after=account.balance,
                                    free_parts_after=account.free_parts, event=event,
                                    actor="system", created_at=now)
    _manager, client = staff_client(alice, Staff.Role.MANAGER)
    page = client.get("/cabinet/settings/sms/").content.decode()
    assert "invoice 7" in page
    assert page.count('data-entry="') == 4
    costs = page[page.index("data-costs"):]
    assert "Points accrued</th><td class=\"num\">2</td><td class=\"num\">3</td>" in costs
    assert "Birthday</th><td class=\"num\">1</td><td class=\"num\">1</td>" in costs
    assert f'data-total>{billing.money(1800, "en")}<' in costs
    tomorrow = (now + timedelta(days=2)).date().isoformat()
    later = client.get(f"/cabinet/settings/sms/?start={tomorrow}").content.decode()
    assert "No SMS in this period." in later
    bad = client.get(f"/cabinet/settings/sms/?start={tomorrow}&end=2000-01-01")
    assert bad.status_code == 422 and "Must not be before the start." in bad.content.decode()
    assert settings.SMS_CURRENCY


def test_a_manager_may_not_edit_the_texts(alice):
    _manager, client = staff_client(alice, Staff.Role.MANAGER)
    assert client.get("/cabinet/settings/messages/").status_code == 403
    assert client.post(URL, {"body": "x", "enabled": "on"}).status_code == 403
    assert client.post(URL + "preview/", {"body": "x"}).status_code == 403
    _cashier, cashier = staff_client(alice, Staff.Role.CASHIER)
    assert cashier.get("/cabinet/settings/sms/").status_code == 403


def test_the_owner_chooses_what_happens_when_the_money_is_out(alice):
    client = owner_of(alice)
    assert 'name="transactional_when_empty"' in client.get("/cabinet/settings/sms/"
                                                          ).content.decode()
    assert client.post("/cabinet/settings/sms/policy/",
                       {"transactional_when_empty": "send"}).status_code == 302
    with scopes_disabled():
        assert billing.account(alice.merchant).transactional_when_empty == "send"
    client.post("/cabinet/settings/sms/policy/", {"transactional_when_empty": "never"})
    with scopes_disabled():
        assert billing.account(alice.merchant).transactional_when_empty == "send"
    _manager, manager = staff_client(alice, Staff.Role.MANAGER)
    assert 'name="transactional_when_empty"' not in manager.get("/cabinet/settings/sms/"
                                                                ).content.decode()
    assert manager.post("/cabinet/settings/sms/policy/",
                        {"transactional_when_empty": "hold"}).status_code == 403
