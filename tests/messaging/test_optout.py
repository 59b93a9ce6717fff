"""Opt-out (MSG-3): the unsubscribe link and the gateway's STOP revoke the member's consent to
messages; after it no marketing message is queued."""

from datetime import UTC, datetime

import pytest
from django.test import Client, override_settings
from django_scopes import scope, scopes_disabled

from kopilka.core.actor import Actor
from kopilka.core.audit import AuditEntry
from kopilka.members import services as members
from kopilka.members.models import Consent
from kopilka.messaging import optout, services
from kopilka.messaging.models import Event

pytestmark = pytest.mark.django_db

SECRET = "gw-secret-0123456789"
GIFT = {"points": 300, "date": datetime(2026, 12, 31, 12, tzinfo=UTC)}


def consent(tenant, member=None):
    member = member or tenant.member
    with scope(merchant=tenant.merchant):
        members.grant_consent(member, members.ConsentGiven(kind=Consent.Kind.MESSAGES,
                                                           text_version="v1"),
                              channel="cashier", actor=Actor.cli())


def consents(tenant) -> bool:
    with scope(merchant=tenant.merchant):
        return members.has_consent(tenant.member, Consent.Kind.MESSAGES)


def revocations(tenant) -> list[dict]:
    with scopes_disabled():
        return list(AuditEntry.objects.filter(merchant=tenant.merchant,
                                              action="members.consent.revoked")
                    .values("actor_kind", "actor_label", "data"))


@override_settings(PUBLIC_URL="https://kopilka.example")
def test_the_link_unsubscribes_and_says_so_in_the_readers_language(alice):
    consent(alice)
    url = optout.unsubscribe_url(alice.member)
    token = optout.token_for(alice.member)
    assert url == f"https://kopilka.example/u/{token}"
    response = Client().get(f"/u/{token}", headers={"Accept-Language": "en"})
    assert response.status_code == 200
    assert response["Content-Language"] == "en"
    assert "Alice Coffee will no longer send you news and offers." in response.text
    assert not consents(alice)
    assert revocations(alice) == [{
        "actor_kind": "member", "actor_label": f"member:{alice.member.pk} via unsubscribe link",
        "data": {"kind": "messages", "rows": 1}}]
    with scope(merchant=alice.merchant):
        assert services.queue(alice.merchant, event=Event.GIFT, member=alice.member,
                              context=GIFT) is None
    # Clicked again, or posted by a mail client's one-click unsubscribe: still fine.
    again = Client(enforce_csrf_checks=True).post(f"/u/{token}",
                                                  headers={"Accept-Language": "ru"})
    assert again.status_code == 200
    assert again["Content-Language"] == "ru"


@pytest.mark.parametrize("mangle", [
    lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),  # the signature
    lambda token: "9" + token,  # the member id
    lambda token: token.split(":")[0],  # no signature at all
])
def test_a_tampered_link_is_404_and_changes_nothing(alice, mangle):
    consent(alice)
    response = Client().get(f"/u/{mangle(optout.token_for(alice.member))}")
    assert response.status_code == 404
    assert consents(alice)


def test_a_link_to_a_member_that_is_gone_is_404(alice):
    token = optout.signing.Signer(salt=optout.SALT).sign("999999")
    assert Client().get(f"/u/{token}").status_code == 404


def stop(text, secret=SECRET, phone="+79160000007"):
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    return Client(headers={"Accept-Language": "en", **headers}).post(
        "/api/v1/inbound/sms", {"from": phone, "text": text}, content_type="application/json")


@pytest.fixture
def both(alice, bob):
    """One person, a member at alice's and at bob's, with consent to messages at both."""
    shared = []
    for tenant in (alice, bob):
        from kopilka.processing import services as processing
        tenant.member = processing.enrol(tenant.merchant, phone="+79160000007",
                                         channel="cashier", actor=Actor.cli())
        consent(tenant)
        shared.append(tenant)
    return shared


@override_settings(INBOUND_SMS_SECRET=SECRET)
@pytest.mark.parametrize("text", ["STOP", " стоп\n", "Отписка", "sToP"])
def test_stop_from_the_gateway_unsubscribes_at_every_merchant(both, text):
    alice, bob = both
    response = stop(text, phone="8 916 000-00-07")  # the gateway's own way to write it
    assert response.status_code == 200, response.json()
    assert response.json() == {"unsubscribed": 2}
    assert not consents(alice) and not consents(bob)
    for tenant in both:
        assert revocations(tenant) == [{"actor_kind": "system", "actor_label": "sms gateway",
                                        "data": {"kind": "messages", "rows": 1}}]
    assert stop(text).json() == {"unsubscribed": 0}  # nothing left to revoke


@override_settings(INBOUND_SMS_SECRET=SECRET)
def test_any_other_reply_changes_nothing(both):
    assert stop("STOP please").json() == {"unsubscribed": 0}
    assert all(consents(tenant) for tenant in both)


@override_settings(INBOUND_SMS_SECRET=SECRET)
def test_a_reply_from_no_phone_number_is_422(both):
    response = stop("STOP", phone="hello")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "from"


@pytest.mark.parametrize(("configured", "sent"), [
    (SECRET, None), (SECRET, "wrong"), ("", ""), ("", "anything"),
])
def test_inbound_needs_the_shared_secret(both, configured, sent):
    with override_settings(INBOUND_SMS_SECRET=configured):
        response = stop("STOP", secret=sent)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert all(consents(tenant) for tenant in both)
