"""Staff invitations below the API: the mail through a real SMTP server, a mail server that is
down, and invitations accepted or sent by several people at the same moment."""

import email
import email.policy
import logging
import re

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings
from django_scopes import scope, scopes_disabled

from kopilka.core.actor import Actor
from kopilka.core.errors import Conflict
from kopilka.tenancy import invitations
from kopilka.tenancy.models import Invitation, Staff
from tests.messaging.peers import free_port, smtp_server
from tests.processing.test_concurrency import run_in_threads

KEY = re.compile(r"kp_inv_[0-9a-f]{8}_[A-Za-z0-9_-]{43}")


def smtp(port: int) -> dict:
    return {"default": {"BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                        "OPTIONS": {"host": "127.0.0.1", "port": port, "use_tls": False,
                                    "timeout": 5}}}


def invite(tenant, address="kassa@example.com", role="cashier"):
    with scope(merchant=tenant.merchant):
        return invitations.invite_staff(tenant.merchant, email=address, role=role,
                                        by=tenant.owner, actor=Actor.cli())


@pytest.mark.django_db
def test_the_invitation_reaches_a_real_smtp_server(alice, django_capture_on_commit_callbacks):
    with (smtp_server() as mailbox,
          override_settings(MAILERS=smtp(mailbox.port), DEFAULT_FROM_EMAIL="team@kopilka.example"),
          django_capture_on_commit_callbacks(execute=True)):
        new = invite(alice)
    [envelope] = mailbox.envelopes
    assert (envelope.mail_from, envelope.rcpt_tos) == ("team@kopilka.example",
                                                       ["kassa@example.com"])
    received = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert received["Subject"] == "Приглашение на работу в Alice Coffee"
    assert KEY.findall(received.get_content()) == [new.key]
    # The key that went by mail is the one that works.
    staff = invitations.accept_invitation(new.key, password="kassa-secret-2026")
    assert (staff.role, staff.active, staff.user.email) == ("cashier", True, "kassa@example.com")


@pytest.mark.django_db
def test_a_mail_server_that_is_down_leaves_the_invitation_to_be_sent_again(
        alice, django_capture_on_commit_callbacks, caplog):
    with (override_settings(MAILERS=smtp(free_port())), caplog.at_level(logging.ERROR),
          django_capture_on_commit_callbacks(execute=True)):
        first = invite(alice)  # no exception: the invitation is committed all the same
    assert "ConnectionRefusedError" in caplog.text
    with (smtp_server() as mailbox, override_settings(MAILERS=smtp(mailbox.port)),
          django_capture_on_commit_callbacks(execute=True)):
        second = invite(alice)  # inviting again sends a new key
    assert len(mailbox.envelopes) == 1
    with scopes_disabled():
        assert [(i.pk, i.status) for i in Invitation.objects.order_by("pk")] == [
            (first.invitation.pk, "revoked"), (second.invitation.pk, "pending")]


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_one_key_accepted_eight_times_at_once_makes_one_staff_member(alice):
    new = invite(alice)

    def accept(n):
        return invitations.accept_invitation(new.key, password="kassa-secret-2026")

    outcomes = run_in_threads(8, accept)
    made = [o for o in outcomes if isinstance(o, Staff)]
    refused = [o for o in outcomes if isinstance(o, Conflict)]
    assert (len(made), len(refused)) == (1, 7), outcomes
    assert {o.detail for o in refused} == {"Это приглашение уже принято."}
    assert get_user_model().objects.filter(username="kassa@example.com").count() == 1
    with scopes_disabled():
        assert Staff.objects.filter(merchant=alice.merchant, user__username="kassa@example.com"
                                    ).count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_the_same_address_invited_four_times_at_once_has_one_pending_invitation(alice):
    outcomes = run_in_threads(4, lambda n: invite(alice, role="manager"))
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    with scopes_disabled():
        statuses = sorted(Invitation.objects.values_list("status", flat=True))
    assert statuses == ["pending", "revoked", "revoked", "revoked"]
