import pytest
from django.test import override_settings
from django_scopes import scope

from kopilka.core.actor import Actor
from kopilka.messaging.backends import locmem
from kopilka.programs import services as programs

LOCMEM = {"BACKEND": "kopilka.messaging.backends.locmem.LocmemBackend"}


@pytest.fixture
def outbox():
    """Both channels go to the in-memory backend; yields its list of sent messages."""
    locmem.outbox.clear()
    with override_settings(MESSAGING={"sms": LOCMEM, "email": LOCMEM}):
        yield locmem.outbox
    locmem.outbox.clear()


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
    with scope(merchant=alice.merchant):
        programs.save_program(alice.merchant, config, actor=Actor.cli())
    return alice
