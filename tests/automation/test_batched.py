"""The daily jobs' batched path (issue #19): a chunk's gifts through the ledger together, its
messages in one INSERT (`messaging.queue_many`), the runs claimed and finished once per
merchant — and still nothing doubled or lost when a run dies half-way, the same rows as one
member at a time, the ledger's hash chain intact."""

from datetime import date, time

import pytest
import time_machine
from django.db import transaction

from kopilka.automation.models import Effect, JobRun
from kopilka.core.actor import Actor
from kopilka.ledger import sweep
from kopilka.ledger.models import Entry, Lot
from kopilka.ledger.verify import verify
from kopilka.members import services as members
from kopilka.messaging import services as messaging
from kopilka.messaging.models import Message
from tests.automation.helpers import AGREED, at, balance, receipts_for_everyone, sent, tick_at

pytestmark = pytest.mark.django_db

ALL_JOBS = 8


def birthdays(shop):
    """Anna (agreed to messages) and Boris (did not), both born on 10 April."""
    shop.program(birthday_gift={"points": 30_000, "validity_days": 14})
    anna = shop.join(first_name="Анна", consents=AGREED, birth_date=date(1990, 4, 10))
    boris = shop.join(phone="+79990000002", first_name="Борис", birth_date=date(1985, 4, 10))
    return anna, boris


def test_a_chunk_that_dies_leaves_nothing_and_the_next_run_does_it_once(shop, monkeypatch):
    anna, boris = birthdays(shop)

    def dies(*args, **kwargs):
        raise RuntimeError("killed after granting the chunk's gifts")

    monkeypatch.setattr(messaging, "queue_many", dies)
    assert tick_at(at(2027, 4, 10, 10, 0)) == ALL_JOBS - 1  # birthday_gifts failed
    # Its chunk was one transaction: no gift, no effect, no message survived.
    assert not Lot.objects.filter(kind=Lot.Kind.GIFT).exists()
    assert not Effect.objects.exists()
    assert sent("birthday") == []
    run = JobRun.objects.get(job="birthday_gifts")
    assert run.finished_at is None  # claimed, left for a takeover after the lease

    monkeypatch.undo()
    assert tick_at(at(2027, 4, 10, 10, 30)) == 0  # within the lease: left alone
    assert tick_at(at(2027, 4, 10, 11, 1)) == 1  # taken over and finished
    assert tick_at(at(2027, 4, 10, 11, 2)) == 0
    assert balance(anna) == balance(boris) == 30_000
    assert Entry.objects.filter(cause_type="birthday").count() == 2
    assert sent("birthday") == [  # Boris did not agree to messages
        ("+79990000001", "Анна, с днём рождения! Alice Coffee дарит 300 бонусов до "
                         "24 апреля 2027 г."),
    ]
    assert JobRun.objects.get(job="birthday_gifts").counts == {"gifts": 2, "messages": 1}
    assert verify(shop.merchant.pk)[1] == []  # the hash chains and balances prove out


def test_a_member_with_two_gifts_in_one_chunk_is_told_each_balance(shop):
    shop.program(relative_birthday_gift={"points": 10_000, "validity_days": 7})
    anna = shop.join(first_name="Анна", consents=AGREED)
    for name in ("Мария", "Пётр"):
        members.add_relative(anna, name=name, birth_date=date(2015, 5, 20), actor=Actor.cli())
    messaging.save_template(shop.merchant, event="relative_birthday", language="ru",
                            body="{relative}: +{points}, баланс {balance}", actor=Actor.cli())
    tick_at(at(2027, 5, 20, 10, 30))
    assert [body for _to, body in sent("relative_birthday")] == [
        "Мария: +100 бонусов, баланс 100 бонусов", "Пётр: +100 бонусов, баланс 200 бонусов"]
    gifts = Entry.objects.filter(cause_type="relative_birthday").order_by("seq")
    assert [(entry.seq, entry.available_delta) for entry in gifts] == [(1, 10_000),
                                                                        (2, 10_000)]
    assert verify(shop.merchant.pk)[1] == []


def test_queue_many_writes_what_queue_writes_one_task_callback_after_commit(
        shop, django_capture_on_commit_callbacks):
    """Marketing (consent, quiet hours) and transactional (the merchant's setting) alike."""
    messaging.save_settings(shop.merchant, transactional="consented", quiet_from=time(21),
                            quiet_to=time(9), actor=Actor.cli())
    people = [shop.join(first_name="Анна", consents=AGREED),
              shop.join(phone="+79990000002", first_name="Борис"),
              shop.join(phone="+79990000003", first_name="Вера", consents=AGREED)]
    fields = ("member_id", "event", "channel", "recipient", "language", "subject", "body",
              "parts", "next_attempt_at", "created_at")

    def rows():
        found = list(Message.objects.order_by("member_id").values_list(*fields))
        Message.objects.all().delete()
        return found

    rows()  # the registration messages

    for moment in (at(2027, 4, 10, 12, 0), at(2027, 4, 10, 22, 0)):  # quiet hours at 22:00
        for event in ("birthday", "activation"):
            def context(member):
                return {"name": member.first_name, "points": 500, "balance": 1_500,
                        "date": date(2027, 4, 24)}

            with time_machine.travel(moment, tick=False):
                with django_capture_on_commit_callbacks() as one_each, transaction.atomic():
                    one = [messaging.queue(shop.merchant, event=event, member=member,
                                           context=context(member)) for member in people]
                singly = rows()
                with django_capture_on_commit_callbacks() as together, transaction.atomic():
                    many = messaging.queue_many(shop.merchant, event=event, items=[
                        messaging.ToMember(member, context(member)) for member in people])
                assert rows() == singly
            assert [m is None for m in many] == [m is None for m in one] == [False, True, False]
            assert (len(one_each), len(together)) == (2, 1)


def test_the_member_jobs_are_given_back_when_the_days_materialise_fails(shop, monkeypatch):
    with_points = birthdays(shop)[0]
    receipts_for_everyone(shop.merchant)

    def fails(*args, **kwargs):
        raise RuntimeError("the sweep failed")

    monkeypatch.setattr(sweep, "materialise_due", fails)
    assert tick_at(at(2027, 4, 10, 10, 0)) == 1  # winback_attribution; no member job
    assert sorted(JobRun.objects.values_list("job", "finished_at")) == [
        ("materialise", None), ("winback_attribution", at(2027, 4, 10, 10, 0))]
    assert balance(with_points) == 0

    monkeypatch.undo()
    assert tick_at(at(2027, 4, 10, 10, 30)) == 0  # materialise within its lease: wait
    assert tick_at(at(2027, 4, 10, 11, 1)) == ALL_JOBS - 1  # taken over, then the rest
    assert JobRun.objects.filter(finished_at__isnull=True).count() == 0
    assert balance(with_points) == 30_000
