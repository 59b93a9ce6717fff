import pytest

from kopilka.core.actor import Actor


@pytest.fixture
def sending(alice):
    """Alice sends every message at once, and her member agreed to messages."""
    from datetime import time

    from kopilka.members import services as members
    from kopilka.messaging import services as messaging

    messaging.save_settings(alice.merchant, transactional="all", quiet_from=time(0),
                            quiet_to=time(0), actor=Actor.cli())
    members.grant_consent(alice.member, members.ConsentGiven(kind="messages",
                                                             text_version="v1"),
                          channel="cashier", actor=Actor.cli())
    return alice
