"""Secret-code campaigns: a batch, its one download, activation once, the lock-outs."""

import datetime as dt
import zlib

import pytest
from django.core import mail
from django.db import connection
from django.test import override_settings
from django_scopes import scope, scopes_disabled

from kopilka.campaigns import secret
from kopilka.campaigns import services as campaigns
from kopilka.campaigns.models import Activation, Alphabet, CodeBatch, Guess, SecretCode
from kopilka.core import events
from kopilka.core.actor import Actor
from kopilka.core.errors import Conflict, InvalidInput
from kopilka.ledger.models import Entry
from kopilka.processing import queries

ACTOR = Actor.cli()


def balance(member) -> int:
    return queries.member_card(member.merchant, member).available


@pytest.fixture
def batch(alice):
    with scope(merchant=alice.merchant):
        campaign = campaigns.create_campaign(
            alice.merchant, name="Caps", starts_on=dt.date(2020, 1, 1), points=50, actor=ACTOR,
            text="Thank you!")
        return campaigns.create_batch(campaign, count=100, length=8, prefix="AC",
                                      check_char=True, actor=ACTOR)


def test_a_batch_of_100_codes_is_stored_as_hashes_only_after_the_download(alice, batch):
    with scope(merchant=alice.merchant):
        assert SecretCode.objects.filter(batch=batch).count() == 100
        codes = campaigns.take_sheet(batch, actor=ACTOR)
        assert len(set(codes)) == 100
        for code in codes:
            assert len(code) == 2 + 8 + 1 and code.startswith("AC")
            assert secret.check_ok(code[2:], Alphabet.CLEAR)
            assert set(code[2:]) <= set(Alphabet.CLEAR)
        with pytest.raises(Conflict):
            campaigns.take_sheet(batch, actor=ACTOR)
    # No plain code anywhere in the database: every text and binary column of every table.
    needles = [code.encode() for code in codes]
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
        for table in tables:
            cursor.execute(f'SELECT * FROM "{table}"')
            for row in cursor.fetchall():
                for value in row:
                    blob = (bytes(value) if isinstance(value, (bytes, memoryview))
                            else str(value).encode())
                    assert not any(needle in blob for needle in needles), table
    with scopes_disabled():
        assert CodeBatch.objects.get(pk=batch.pk).sheet is None


def test_one_activation_grants_its_points_and_a_second_use_is_refused(alice, bob, batch):
    heard = []
    hear = heard.append  # one bound method: unsubscribe compares by identity
    events.subscribe(events.CodeActivated)(hear)
    try:
        check_once(alice, bob, batch, heard)
    finally:
        events.unsubscribe(events.CodeActivated, hear)


def check_once(alice, bob, batch, heard):
    with scope(merchant=alice.merchant):
        code = zlib.decompress(bytes(CodeBatch.objects.get(pk=batch.pk).sheet)).decode() \
            .split("\n")[7]
        before = balance(alice.member)
        done = campaigns.activate(alice.merchant, alice.member, code.lower()[:5] + " "
                                  + code[5:], "wallet", actor=ACTOR)
        assert done.points == 50
        assert balance(alice.member) == before + 50
        assert done.available == before + 50
        assert [(e.points, e.available) for e in heard] == [(50, before + 50)]
        entry = Entry.objects.get(cause_type="campaign_code")
        assert (entry.cause_id, entry.available_delta) == (str(done.activation.pk), 50)
        with pytest.raises(Conflict, match="already activated this code"):
            campaigns.activate(alice.merchant, alice.member, code, "wallet", actor=ACTOR)
        assert balance(alice.member) == before + 50
        assert Activation.objects.count() == 1
    # bob's shop does not know alice's code
    with scope(merchant=bob.merchant), pytest.raises(InvalidInput, match="no such code"):
        campaigns.activate(bob.merchant, bob.member, code, "wallet", actor=ACTOR)


def test_ten_wrong_guesses_lock_the_phone(alice, batch):
    with scope(merchant=alice.merchant):
        code = zlib.decompress(bytes(CodeBatch.objects.get(pk=batch.pk).sheet)).decode() \
            .split("\n")[0]
        messages = []
        for n in range(10):
            with pytest.raises((InvalidInput, campaigns.LockedOut)) as refused:
                campaigns.activate(alice.merchant, alice.member, f"AC{n:08d}X", "wallet",
                                   actor=ACTOR)
            messages.append(refused.value.detail)
        assert messages[0] == "There is no such code. Check it and try again."
        assert messages[6] == ("There is no such code. Check it and try again: 3 attempts "
                               "left.")
        assert messages[8] == ("There is no such code. Check it and try again: 1 attempt "
                               "left.")
        assert messages[9] == ("Too many wrong codes. For your safety, codes are not accepted "
                               "for 60 minutes.")
        # Now even the right code is refused, with the same message, and no points move.
        with pytest.raises(campaigns.LockedOut) as locked:
            campaigns.activate(alice.merchant, alice.member, code, "wallet", actor=ACTOR)
        assert 3590 <= locked.value.retry_after <= 3601
        assert Activation.objects.count() == 0
    with scopes_disabled():
        assert Guess.objects.filter(phone="+79160000001").count() == 10


@override_settings(CAMPAIGN_CODE_LIMITS={"STORM": 5, "ADDRESS": 100, "PHONE": 100})
def test_a_guessing_storm_alerts_the_owner_once(alice, batch,
                                                django_capture_on_commit_callbacks):
    with scope(merchant=alice.merchant), django_capture_on_commit_callbacks(execute=True):
        for n in range(8):
            with pytest.raises(InvalidInput):
                campaigns.activate(alice.merchant, alice.member, f"AC{n:08d}", "wallet",
                                   actor=ACTOR, ip="10.0.0.9")
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["alice@example.com"]
    # In the merchant's language, whoever was guessing.
    assert mail.outbox[0].subject == "Alice Coffee: кто-то подбирает коды акции «Caps»"


def test_limits_per_member_and_dates(alice, batch):
    with scope(merchant=alice.merchant):
        campaign = batch.campaign
        campaign.per_day = 2
        campaign.save()
        codes = zlib.decompress(bytes(CodeBatch.objects.get(pk=batch.pk).sheet)).decode() \
            .split("\n")
        for code in codes[:2]:
            campaigns.activate(alice.merchant, alice.member, code, "wallet", actor=ACTOR)
        with pytest.raises(Conflict, match="2 codes of this campaign a day"):
            campaigns.activate(alice.merchant, alice.member, codes[2], "wallet", actor=ACTOR)
        campaign.per_day, campaign.ends_on = None, dt.date(2021, 1, 1)
        campaign.save()
        with pytest.raises(Conflict, match="campaign is over"):
            campaigns.activate(alice.merchant, alice.member, codes[2], "wallet", actor=ACTOR)
        stats = campaigns.batch_stats(campaign)
        assert [(s.printed, s.activated, s.points, s.new_members) for s in stats] == \
            [(100, 2, 100, 2)]


def test_short_codes_for_a_big_batch_are_refused(alice):
    with scope(merchant=alice.merchant):
        campaign = campaigns.create_campaign(alice.merchant, name="X",
                                             starts_on=dt.date(2020, 1, 1), points=1,
                                             actor=ACTOR)
        with pytest.raises(InvalidInput, match="too easy to guess"):
            campaigns.create_batch(campaign, count=1000, length=6,
                                   alphabet=Alphabet.DIGITS, actor=ACTOR)


def test_check_character_catches_one_wrong_character():
    body = "ACDE7FGH"
    code = body + secret.check_char(body, Alphabet.CLEAR)
    assert secret.check_ok(code, Alphabet.CLEAR)
    for i in range(len(body)):
        for ch in Alphabet.CLEAR:
            if ch != code[i]:
                assert not secret.check_ok(code[:i] + ch + code[i + 1:], Alphabet.CLEAR)


@pytest.mark.django_db(transaction=True)
def test_two_devices_racing_for_one_code_grant_it_once(alice):
    """Two requests with the same code at the same moment: one activation, one grant."""
    import threading

    from django.db import connections
    from django.utils import translation

    with scope(merchant=alice.merchant):
        campaign = campaigns.create_campaign(alice.merchant, name="Race",
                                             starts_on=dt.date(2020, 1, 1), points=70,
                                             actor=ACTOR)
        batch = campaigns.create_batch(campaign, count=10, length=8, actor=ACTOR)
        code = campaigns.take_sheet(batch, actor=ACTOR)[0]
        before = balance(alice.member)
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def attempt():
        try:
            start.wait()
            with scope(merchant=alice.merchant), translation.override("en"):
                campaigns.activate(alice.merchant, alice.member, code, "wallet", actor=ACTOR)
            outcomes.append("ok")
        except Conflict as refused:
            outcomes.append(str(refused.detail))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["You have already activated this code.", "ok"]
    with scope(merchant=alice.merchant):
        assert balance(alice.member) == before + 70
        assert Activation.objects.count() == 1
