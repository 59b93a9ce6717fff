import pytest

from kopilka.core.actor import Actor
from kopilka.programs import services as programs


@pytest.fixture
def points_program(alice):
    """Alice's program with whole points named like a Russian coffee shop names them."""
    config = {
        **programs.DEFAULT_PROGRAM,
        "points_precision": 0,
        "currency_names": {
            "ru": {"one": "балл", "few": "балла", "many": "баллов"},
            "uk": {"one": "бал", "few": "бали", "many": "балів"},
            "en": {"one": "point", "other": "points"},
        },
    }
    programs.save_program(alice.merchant, config, actor=Actor.cli())
    return alice


@pytest.fixture
def sending(alice):
    """Alice sends every message at once: transactional ones to every member, no quiet hours,
    and her member agreed to messages — for tests of the outbox, not of who gets what."""
    from datetime import time

    from kopilka.members import services as members
    from kopilka.messaging import services

    services.save_settings(alice.merchant, transactional="all", quiet_from=time(0),
                           quiet_to=time(0), actor=Actor.cli())
    members.grant_consent(alice.member, members.ConsentGiven(kind="messages",
                                                             text_version="v1"),
                          channel="cashier", actor=Actor.cli())
    return alice
