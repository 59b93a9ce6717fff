"""Templates: the figures written per language, plural forms of the program's currency name,
the shipped defaults, a merchant's own text, switching an event off, refusing unknown
placeholders, and the preview."""

from datetime import UTC, date, datetime

import pytest
import time_machine
from django.utils import translation
from django_scopes import scope

from kopilka.core.actor import Actor
from kopilka.core.errors import InvalidInput
from kopilka.messaging import render, services
from kopilka.messaging.defaults import DEFAULTS
from kopilka.messaging.models import Event, Message, Template

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("sending")]


@pytest.mark.parametrize(("language", "expected"), [
    ("ru", ["1 балл", "2 балла", "5 баллов", "11 баллов", "21 балл", "1 000 баллов"]),
    ("uk", ["1 бал", "2 бали", "5 балів", "11 балів", "21 бал", "1 000 балів"]),
    ("en", ["1 point", "2 points", "5 points", "11 points", "21 points", "1,000 points"]),
])
def test_points_take_the_plural_form_their_number_needs(points_program, language, expected):
    with scope(merchant=points_program.merchant):
        fmt = render.formats(points_program.merchant, language)
    assert [fmt.points(n) for n in (1, 2, 5, 11, 21, 1000)] == expected


def test_fractional_points_follow_the_program_precision(alice):
    # The default program counts points in hundredths and calls them bonuses.
    with scope(merchant=alice.merchant):
        ru, uk, en = (render.formats(alice.merchant, lang) for lang in ("ru", "uk", "en"))
    assert [ru.points(2997), ru.points(100), ru.points(500), ru.points(150)] == [
        "29,97 бонуса", "1 бонус", "5 бонусов", "1,5 бонуса"]
    assert [uk.points(2997), uk.points(2100)] == ["29,97 бонуси", "21 бонус"]
    assert [en.points(2997), en.points(100)] == ["29.97 bonuses", "1 bonus"]


def test_money_and_dates_are_written_the_languages_way(alice):
    with scope(merchant=alice.merchant):
        ru, uk, en = (render.formats(alice.merchant, lang) for lang in ("ru", "uk", "en"))
    assert (ru.money(150_000), uk.money(150_000), en.money(150_050)) == (
        "1 500,00 ₽", "1 500,00 RUB", "RUB1,500.50")
    day = date(2026, 12, 31)
    assert (ru.date(day), uk.date(day), en.date(day)) == (
        "31 декабря 2026 г.", "31 грудня 2026 р.", "December 31, 2026")
    # A moment is shown as the merchant's local date: 22:30 UTC is already the next day in
    # Moscow (UTC+3).
    assert ru.date(datetime(2026, 12, 30, 22, 30, tzinfo=UTC)) == "31 декабря 2026 г."


def test_every_event_has_a_default_in_every_language_using_known_placeholders():
    assert set(DEFAULTS) == set(Event.values)
    for event, texts in DEFAULTS.items():
        assert set(texts) == {"ru", "uk", "en"}, event
        for subject, body in texts.values():
            render.check(subject, "subject")
            render.check(body, "body")


@pytest.mark.parametrize(("language", "expected"), [
    ("ru", "Alice Coffee: +21 балл за покупку на 1 500,00 ₽. Баланс: 105 баллов"),
    ("uk", "Alice Coffee: +21 бал за покупку на 1 500,00 RUB. Баланс: 105 балів"),
    ("en", "Alice Coffee: +21 points for your RUB1,500.00 purchase. Balance: 105 points"),
])
def test_queue_renders_the_default_text_in_the_members_language(points_program, outbox,
                                                                 language, expected):
    alice = points_program
    with scope(merchant=alice.merchant):
        message = services.queue(alice.merchant, event="accrual", member=alice.member,
                                 language=language,
                                 context={"points": 21, "amount": 150_000, "balance": 105})
        stored = Message.objects.get(pk=message.pk)
    assert stored.body == expected
    assert (stored.recipient, stored.channel, stored.language, stored.status) == (
        "+79160000001", "sms", language, "queued")
    assert stored.parts == 1


def test_the_merchants_text_replaces_the_default_and_a_blank_one_restores_it(points_program,
                                                                            outbox):
    alice = points_program
    with scope(merchant=alice.merchant):
        services.save_template(alice.merchant, event="gift", language="ru",
                               body="  {name}, лови {points}! Действует до {date}.  ",
                               actor=Actor.cli())
        context = {"name": "Анна", "points": 300, "date": date(2027, 1, 15)}
        custom = services.queue(alice.merchant, event="gift", member=alice.member,
                                context=context)
        services.save_template(alice.merchant, event="gift", language="ru", body="",
                               actor=Actor.cli())
        default = services.queue(alice.merchant, event="gift", member=alice.member,
                                 context=context)
    assert custom.body == "Анна, лови 300 баллов! Действует до 15 января 2027 г."
    assert default.body == "Анна, Alice Coffee дарит вам 300 баллов до 15 января 2027 г."


def test_a_switched_off_event_queues_nothing(alice, outbox):
    with scope(merchant=alice.merchant):
        services.save_template(alice.merchant, event="accrual", language="ru", enabled=False,
                               actor=Actor.cli())
        assert services.queue(alice.merchant, event="accrual", member=alice.member,
                              context={"points": 100}) is None
        # Only that language is off.
        assert services.queue(alice.merchant, event="accrual", member=alice.member,
                              language="en", context={"points": 100}) is not None
        assert Message.objects.filter(merchant=alice.merchant).count() == 1


@pytest.mark.parametrize(("field", "text", "placeholder"), [
    ("body", "Привет, {firstname}! У вас {points}.", "{firstname}"),
    ("body", "{name}: {balance.__class__}", "{balance.__class__}"),
    ("body", "Code {code!r}", "{code!r}"),
    ("subject", "Hello {Name}", "{Name}"),
])
def test_an_unknown_placeholder_is_refused_naming_it(alice, field, text, placeholder):
    with (scope(merchant=alice.merchant), translation.override("en"),
          pytest.raises(InvalidInput) as error):
        services.save_template(alice.merchant, event="registration", language="en",
                               channel="email", actor=Actor.cli(), **{field: text})
    assert error.value.field == field
    assert error.value.detail.startswith(f"Unknown placeholder {placeholder}. ")
    with scope(merchant=alice.merchant):
        assert not Template.objects.filter(merchant=alice.merchant).exists()


def test_template_keys_are_checked(alice):
    with scope(merchant=alice.merchant):
        for key, value in (("event", "purchase"), ("language", "de"), ("channel", "fax")):
            arguments = {"event": "gift", "language": "ru", "channel": "sms", key: value}
            with pytest.raises(InvalidInput) as error:
                services.save_template(alice.merchant, body="x", actor=Actor.cli(), **arguments)
            assert error.value.field == key


def test_saving_a_template_is_audited(alice):
    from kopilka.core.models import AuditEntry

    with scope(merchant=alice.merchant):
        template = services.save_template(alice.merchant, event="birthday", language="uk",
                                          body="{name}, вітаємо!", actor=Actor.cli())
        entry = AuditEntry.objects.get(merchant=alice.merchant,
                                       action="messaging.template.saved")
    assert entry.object_id == str(template.pk)
    assert entry.data == {"event": "birthday", "language": "uk", "channel": "sms",
                          "enabled": True, "custom": True}


def test_preview_fills_sample_figures(points_program):
    alice = points_program
    with time_machine.travel(datetime(2026, 11, 23, 9, 0, tzinfo=UTC), tick=False), \
            scope(merchant=alice.merchant):
        ru = services.preview(alice.merchant, event="birthday", language="ru")
        en = services.preview(alice.merchant, event="birthday", language="en", channel="email")
        draft = services.preview(alice.merchant, event="one_time_code", language="ru",
                                 body="Ваш код: {code}")
    assert ru.body == "Анна, с днём рождения! Alice Coffee дарит 2 100 баллов до 23 декабря 2026 г."
    assert (ru.parts, ru.encoding) == (2, "ucs2")  # 76 Cyrillic characters: two parts
    assert (en.subject, en.body, en.parts, en.encoding) == (
        "Happy birthday!",
        "Happy birthday, Anna! Alice Coffee gives you 2,100 points, valid until "
        "December 23, 2026", 1, "")
    assert (draft.body, draft.parts, draft.encoding) == ("Ваш код: 4821", 1, "ucs2")


def test_templates_read_once_answers_from_one_query_as_they_were_on_entry(
        points_program, django_assert_num_queries):
    alice = points_program
    with scope(merchant=alice.merchant):
        services.save_template(alice.merchant, event="gift", language="ru",
                               body="{name}, лови {points}!", actor=Actor.cli())
        with django_assert_num_queries(1), services.templates_read_once(alice.merchant):
            gift = services.effective(alice.merchant, "gift", "ru", "sms")
            accrual = services.effective(alice.merchant, "accrual", "en", "sms")
        assert (gift.body, gift.custom) == ("{name}, лови {points}!", True)
        assert (accrual.body, accrual.custom) == (DEFAULTS["accrual"]["en"][1], False)
        # Outside the block every call reads the table again.
        services.save_template(alice.merchant, event="gift", language="ru", body="",
                               actor=Actor.cli())
        assert services.effective(alice.merchant, "gift", "ru", "sms").custom is False
