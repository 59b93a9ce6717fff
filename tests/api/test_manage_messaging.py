"""Management API for messaging: templates per event, language and channel, their preview,
the messaging settings and the outbox log."""

from datetime import UTC, datetime, time

import pytest
import time_machine
from django_scopes import scope

from kopilka.core.models import AuditEntry
from kopilka.messaging import services
from kopilka.messaging.defaults import DEFAULTS
from kopilka.messaging.models import Message, Settings
from tests.clients import client_as

pytestmark = pytest.mark.django_db
API = "/api/v1/manage/messages"
TODAY = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def send(client, method, url, body=None):
    return getattr(client, method)(API + url, body, content_type="application/json")


def fields(response):
    return [error["field"] for error in response.json()["errors"]]


def queue_code(tenant, code="1234"):
    """A one-time code to the tenant's member: requested, so it is queued whatever the
    settings say."""
    with scope(merchant=tenant.merchant):
        return services.queue(tenant.merchant, event="one_time_code", member=tenant.member,
                              context={"code": code})


def test_the_list_holds_every_event_language_and_channel_with_its_default(alice):
    response = send(alice.manage(), "get", "/templates")
    assert response.status_code == 200
    rows = response.json()
    assert len(rows) == 18 * 3 * 2  # 18 events (card_link: MSG-2; invitation: referrals;
    #                                 review_answer: the shop answered a review; offer: CMP-4)
    by_key = {(r["event"], r["language"], r["channel"]): r for r in rows}
    assert by_key[("birthday", "ru", "email")] == {
        "event": "birthday", "language": "ru", "channel": "email",
        "subject": "С днём рождения!", "body": DEFAULTS["birthday"]["ru"][1],
        "enabled": True, "custom": False}
    assert by_key[("accrual", "en", "sms")]["subject"] == ""  # SMS has none


def test_a_saved_template_is_the_one_in_force_and_blank_goes_back_to_the_default(alice):
    client = alice.manage()
    saved = send(client, "put", "/templates/accrual/en/email",
                 {"subject": "Points!", "body": "  +{points} at {merchant}  "})
    assert saved.status_code == 200, saved.json()
    assert saved.json() == {"event": "accrual", "language": "en", "channel": "email",
                            "subject": "Points!", "body": "+{points} at {merchant}",
                            "enabled": True, "custom": True}
    with scope(merchant=alice.merchant):
        current = services.effective(alice.merchant, "accrual", "en", "email")
    assert (current.subject, current.body, current.custom) == (
        "Points!", "+{points} at {merchant}", True)
    listed = {(r["event"], r["language"], r["channel"]): r
              for r in send(client, "get", "/templates").json()}
    assert listed[("accrual", "en", "email")] == saved.json()
    assert listed[("accrual", "en", "sms")]["custom"] is False

    # A field left out stays as it was; a blank one is the default again.
    reset = send(client, "put", "/templates/accrual/en/email", {"body": ""})
    assert reset.json() == {"event": "accrual", "language": "en", "channel": "email",
                            "subject": "Points!", "body": DEFAULTS["accrual"]["en"][1],
                            "enabled": True, "custom": False}
    with scope(merchant=alice.merchant):
        entries = list(AuditEntry.objects.filter(
            merchant=alice.merchant, action="messaging.template.saved").order_by("pk"))
    assert [e.data["custom"] for e in entries] == [True, False]
    assert [e.actor_kind for e in entries] == ["token", "token"]


def test_a_switched_off_event_queues_nothing_and_keeps_its_text(alice):
    client = alice.manage()
    send(client, "put", "/templates/one_time_code/ru/sms", {"body": "Код {code}"})
    off = send(client, "put", "/templates/one_time_code/ru/sms", {"enabled": False})
    assert off.status_code == 200
    assert (off.json()["enabled"], off.json()["body"], off.json()["custom"]) == (
        False, "Код {code}", True)
    assert queue_code(alice) is None
    on = send(client, "put", "/templates/one_time_code/ru/sms", {"enabled": True})
    assert on.json()["enabled"] is True
    message = queue_code(alice, "9876")
    assert message.body == "Код 9876"


@pytest.mark.parametrize(("url", "body", "field"), [
    ("/templates/gift/en/sms", {"body": "Hi {nmae}"}, "body"),
    ("/templates/gift/en/email", {"subject": "{points} for {you}"}, "subject"),
    ("/templates/gift/en/sms", {"body": "x" * 1001}, "body"),
    ("/templates/gift/en/sms", {"enabled": "no"}, "enabled"),
    ("/templates/party/en/sms", {"body": "Hi"}, "event"),
    ("/templates/gift/de/sms", {"body": "Hi"}, "language"),
    ("/templates/gift/en/fax", {"body": "Hi"}, "channel"),
])
def test_bad_template_input_is_422_naming_the_field_and_saves_nothing(alice, url, body, field):
    response = send(alice.manage(), "put", url, body)
    assert response.status_code == 422, response.json()
    assert fields(response) == [field]
    with scope(merchant=alice.merchant):
        assert not AuditEntry.objects.filter(action="messaging.template.saved").exists()


def test_unknown_placeholder_names_itself(alice):
    response = send(alice.manage(), "put", "/templates/gift/en/sms", {"body": "Hi {nmae}"})
    assert response.json()["errors"][0]["message"].startswith("Unknown placeholder {nmae}.")


def test_preview_renders_sample_figures_in_each_language(alice):
    client = alice.manage()
    with time_machine.travel(TODAY, tick=False):
        ru = send(client, "post", "/preview", {"event": "birthday", "language": "ru"})
        en = send(client, "post", "/preview",
                  {"event": "birthday", "language": "en", "channel": "email"})
        draft = send(client, "post", "/preview", {"event": "accrual", "language": "ru",
                                                  "body": "+{points} за {amount}"})
    assert ru.status_code == 200, ru.json()
    assert ru.json() == {
        "subject": "",
        "body": "Анна, с днём рождения! Alice Coffee дарит 21 бонус до 23 декабря 2026 г.",
        "parts": 2, "encoding": "ucs2"}
    assert en.json() == {
        "subject": "Happy birthday!",
        "body": "Happy birthday, Anna! Alice Coffee gives you 21 bonuses, valid until "
                "December 23, 2026",
        "parts": 1, "encoding": ""}
    assert draft.json() == {"subject": "", "body": "+21 бонус за 1 500,00 ₽", "parts": 1,
                            "encoding": "ucs2"}
    with scope(merchant=alice.merchant):
        assert not services.effective(alice.merchant, "accrual", "ru", "sms").custom


@pytest.mark.parametrize(("body", "field"), [
    ({"event": "gift", "language": "en", "body": "{oops}"}, "body"),
    ({"event": "gift", "language": "en", "channel": "email", "subject": "{oops}"}, "subject"),
    ({"event": "gift", "language": "xx"}, "language"),
    ({"language": "en"}, "event"),
])
def test_bad_preview_is_422_naming_the_field(alice, body, field):
    response = send(alice.manage(), "post", "/preview", body)
    assert response.status_code == 422, response.json()
    assert fields(response) == [field]


def test_settings_read_and_saved(alice):
    client = alice.manage()
    assert send(client, "get", "/settings").json() == {
        "transactional": "off", "quiet_from": "21:00", "quiet_to": "09:00"}
    saved = send(client, "put", "/settings",
                 {"transactional": "consented", "quiet_from": "22:30", "quiet_to": "08:00"})
    assert saved.status_code == 200, saved.json()
    assert saved.json() == {"transactional": "consented", "quiet_from": "22:30",
                            "quiet_to": "08:00"}
    assert send(client, "get", "/settings").json() == saved.json()
    with scope(merchant=alice.merchant):
        row = Settings.objects.get(merchant=alice.merchant)
    assert (row.transactional, row.quiet_from, row.quiet_to) == (
        "consented", time(22, 30), time(8, 0))


@pytest.mark.parametrize(("body", "field"), [
    ({"transactional": "some", "quiet_from": "21:00", "quiet_to": "09:00"}, "transactional"),
    ({"transactional": "all", "quiet_from": "24:00", "quiet_to": "09:00"}, "quiet_from"),
    ({"transactional": "all", "quiet_from": "21:00", "quiet_to": "9:00"}, "quiet_to"),
    ({"transactional": "all", "quiet_from": "21:00"}, "quiet_to"),
])
def test_bad_settings_are_422_naming_the_field(alice, body, field):
    response = send(alice.manage(), "put", "/settings", body)
    assert response.status_code == 422, response.json()
    assert fields(response) == [field]


@pytest.mark.parametrize("role", ["manager", "cashier"])
def test_only_owners_and_admins_change_templates_and_settings(alice, role):
    _staff, client = client_as(alice, role)
    assert send(client, "put", "/templates/gift/en/sms", {"enabled": False}).status_code == 403
    assert send(client, "put", "/settings", {"transactional": "all", "quiet_from": "21:00",
                                             "quiet_to": "09:00"}).status_code == 403
    # Reading and previewing change nothing: every role may.
    assert send(client, "get", "/settings").status_code == 200
    assert send(client, "post", "/preview",
                {"event": "gift", "language": "en"}).status_code == 200
    with scope(merchant=alice.merchant):
        assert services.effective(alice.merchant, "gift", "en", "sms").enabled
        assert services.settings_for(alice.merchant).transactional == "off"
    _admin, admin = client_as(alice, "admin")
    assert send(admin, "put", "/templates/gift/en/sms", {"enabled": False}).status_code == 200


def test_the_log_shows_the_outbox_with_phones_masked_for_the_counter(alice):
    first, second = queue_code(alice, "1111"), queue_code(alice, "2222")
    with scope(merchant=alice.merchant):
        Message.objects.filter(pk=first.pk).update(
            status="sent", provider="http", provider_id="SM42", attempts=1, cost=350,
            sent_at=TODAY)
        Message.objects.filter(pk=second.pk).update(status="failed", error="timed out",
                                                    attempts=5)
    page = send(alice.manage(), "get", "")
    assert page.status_code == 200
    items = page.json()["items"]
    assert [m["id"] for m in items] == [second.pk, first.pk]
    assert {k: items[1][k] for k in ("member_id", "event", "channel", "language", "recipient",
                                     "status", "attempts", "provider", "provider_id", "parts",
                                     "cost", "error", "sent_at", "delivered_at")} == {
        "member_id": alice.member.pk, "event": "one_time_code", "channel": "sms",
        "language": "ru", "recipient": "+79160000001", "status": "sent", "attempts": 1,
        "provider": "http", "provider_id": "SM42", "parts": 1, "cost": 350, "error": "",
        "sent_at": "2026-11-23T09:00:00Z", "delivered_at": None}
    assert (items[0]["status"], items[0]["error"]) == ("failed", "timed out")
    assert "body" not in items[0]  # one-time codes stay out of the log

    _staff, cashier = client_as(alice, "cashier")
    assert [m["recipient"] for m in send(cashier, "get", "").json()["items"]] == [
        "+7916***0001", "+7916***0001"]


def test_the_log_filters_and_pages(alice):
    messages = [queue_code(alice, str(n)) for n in range(3)]
    with scope(merchant=alice.merchant):
        Message.objects.filter(pk=messages[0].pk).update(status="delivered")
    client = alice.manage()
    first = send(client, "get", "?limit=2").json()
    assert [m["id"] for m in first["items"]] == [messages[2].pk, messages[1].pk]
    rest = send(client, "get", f"?limit=2&cursor={first['next']}").json()
    assert ([m["id"] for m in rest["items"]], rest["next"]) == ([messages[0].pk], None)
    delivered = send(client, "get", "?status=delivered").json()["items"]
    assert [m["id"] for m in delivered] == [messages[0].pk]
    assert send(client, "get", "?event=gift").json()["items"] == []
    assert send(client, "get", f"?member_id={alice.member.pk + 999}").json()["items"] == []
    assert len(send(client, "get", f"?member_id={alice.member.pk}").json()["items"]) == 3
    bad = send(client, "get", "?status=lost")
    assert (bad.status_code, fields(bad)) == (422, ["status"])


def test_each_merchant_sees_only_its_own(alice, bob):
    queue_code(alice)
    send(alice.manage(), "put", "/templates/gift/en/sms", {"body": "Alice's gift: {points}"})
    send(alice.manage(), "put", "/settings",
         {"transactional": "all", "quiet_from": "20:00", "quiet_to": "10:00"})
    bobs = bob.manage()
    assert send(bobs, "get", "").json() == {"items": [], "next": None}
    assert send(bobs, "get", f"?member_id={alice.member.pk}").json()["items"] == []
    gift = [r for r in send(bobs, "get", "/templates").json()
            if (r["event"], r["language"], r["channel"]) == ("gift", "en", "sms")]
    assert gift[0]["custom"] is False
    assert send(bobs, "get", "/settings").json()["transactional"] == "off"


def test_the_template_list_reads_the_merchants_rows_once(alice, django_assert_max_num_queries):
    alice.manage().get("/api/v1/manage/messages/templates")  # warm-up: last_used_at
    with django_assert_max_num_queries(3):  # the token with its merchant, its staff, the rows
        response = alice.manage().get("/api/v1/manage/messages/templates")
    assert response.status_code == 200
    assert len(response.json()) == 108  # 18 events × 3 languages × 2 channels
