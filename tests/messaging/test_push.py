"""Web push instead of SMS (MSG-2), the server half, exactly: a subscribed person's messages
go to a real loopback push service, signed with the server's VAPID key and encrypted for the
browser (which the test plays, decrypting what arrived); a gone subscription falls back to the
SMS it replaced; one-time codes never go by push; subscriptions are checked and end."""

import json

import pytest
from django.db import transaction
from django_scopes import scope, scopes_disabled

from kopilka.core.actor import Actor
from kopilka.core.errors import InvalidInput
from kopilka.messaging import push, services
from kopilka.messaging.models import Message, PushSubscription, SmsEntry
from tests.loopback import http_server
from tests.messaging.pushservice import Browser, PushService, check_vapid
from tests.wallet.tools import signed_in
from tests.webhooks.tools import run_worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow,
              pytest.mark.usefixtures("sending")]

ACTOR = Actor.cli()


@pytest.fixture
def service(settings, tmp_path):
    """The loopback push service, allowed as a push host; a fresh VAPID key per test."""
    settings.PUSH_HOSTS = ["127.0.0.1"]
    settings.PUSH_ALLOW_HTTP = True
    settings.PUSH_VAPID_KEY_FILE = str(tmp_path / "vapid.pem")
    push.private_key.cache_clear()
    PushService.received, PushService.answers = [], {}
    with http_server(PushService) as server:
        yield f"http://127.0.0.1:{server.server_port}"
    push.private_key.cache_clear()


def subscribe(person, endpoint: str, browser: Browser) -> PushSubscription:
    info = browser.subscription(endpoint)
    return push.subscribe(person, endpoint=endpoint, p256dh=info["keys"]["p256dh"],
                          auth=info["keys"]["auth"], actor=ACTOR)


def accrual(alice) -> Message:
    with scope(merchant=alice.merchant), transaction.atomic():
        return services.queue(alice.merchant, event="accrual", member=alice.member, context={
            "points": 2_100, "amount": 150_000, "balance": 10_500})


def stored(message_id) -> Message:
    with scopes_disabled():
        return Message.objects.get(pk=message_id)


TEXT = "Alice Coffee: +21 бонус за покупку на 1 500,00 ₽. Баланс: 105 бонусов"


def test_a_subscribed_members_message_goes_by_push_encrypted_and_signed(alice, service,
                                                                         outbox):
    browser = Browser()
    subscription = subscribe(alice.member.person, f"{service}/push/phone", browser)
    message = accrual(alice)
    assert (message.channel, message.recipient, message.subject, message.parts) == (
        "push", f"push:{subscription.pk}", "Alice Coffee", 0)
    run_worker()
    [arrived] = PushService.received
    assert browser.read(arrived["body"]) == {"title": "Alice Coffee", "body": TEXT,
                                             "url": "/my/"}
    claims = check_vapid(arrived["headers"]["authorization"], service)
    assert claims["sub"] == "mailto:push@kopilka.invalid"
    assert claims["k"] == push.public_key()  # the key the wallet subscribes with
    assert arrived["headers"]["content-encoding"] == "aes128gcm"
    assert arrived["headers"]["ttl"] == "86400"
    row = stored(message.pk)
    assert (row.status, row.provider, row.provider_id, row.parts, row.cost) == (
        "sent", "webpush", "/messages/phone-1", 0, 0)
    assert outbox == []  # no SMS went, none was paid for
    with scopes_disabled():
        assert not SmsEntry.objects.filter(merchant=alice.merchant, kind="charge").exists()
        assert PushSubscription.objects.get().last_sent_at is not None


def test_a_gone_subscription_falls_back_to_the_sms_it_replaced(alice, service, outbox):
    subscribe(alice.member.person, f"{service}/push/dropped", Browser())
    PushService.answers["dropped"] = 410
    message = accrual(alice)
    run_worker()
    assert [hit["status"] for hit in PushService.received] == [410]
    [sms] = outbox
    assert (sms.channel, sms.recipient, sms.body) == ("sms", "+79160000001", TEXT)
    row = stored(message.pk)
    assert (row.channel, row.recipient, row.status, row.parts, row.subject) == (
        "sms", "+79160000001", "sent", 1, "")
    with scopes_disabled():
        assert PushSubscription.objects.get().gone_at is not None
        [charge] = SmsEntry.objects.filter(merchant=alice.merchant, kind="charge")
        assert charge.parts == 1  # paid as the SMS it became
    assert accrual(alice).channel == "sms"  # the next one is an SMS from the start


def test_a_push_service_error_is_retried_not_dropped(alice, service, outbox):
    subscribe(alice.member.person, f"{service}/push/busy", Browser())
    PushService.answers["busy"] = 503
    message = accrual(alice)
    run_worker()
    row = stored(message.pk)
    assert (row.channel, row.status, row.attempts, row.error) == (
        "push", "queued", 1, "DeliveryError: push service: 503")
    assert outbox == []


def test_one_time_codes_and_typed_numbers_still_go_by_sms(alice, service):
    subscribe(alice.member.person, f"{service}/push/phone", Browser())
    with scope(merchant=alice.merchant):
        code = services.queue(alice.merchant, event="one_time_code", member=alice.member,
                              context={"code": "4821"})
        typed = services.queue(alice.merchant, event="card_link", recipient="+79160000001",
                               context={"link": "https://example.com/m/x"})
    assert (code.channel, typed.channel) == ("sms", "sms")


def test_push_off_for_the_deployment_sends_sms(alice, service, settings):
    subscribe(alice.member.person, f"{service}/push/phone", Browser())
    settings.PUSH_ENABLED = False
    assert accrual(alice).channel == "sms"


def test_subscriptions_are_checked(alice, service, settings):
    person, info = alice.member.person, Browser().subscription(f"{service}/push/x")
    keys = info["keys"]
    with pytest.raises(InvalidInput) as host:
        push.subscribe(person, endpoint="https://evil.example/push/x", p256dh=keys["p256dh"],
                       auth=keys["auth"], actor=ACTOR)
    assert host.value.field == "endpoint"
    settings.PUSH_ALLOW_HTTP = False
    with pytest.raises(InvalidInput):  # the right host, but not over https
        push.subscribe(person, endpoint=info["endpoint"], p256dh=keys["p256dh"],
                       auth=keys["auth"], actor=ACTOR)
    settings.PUSH_ALLOW_HTTP = True
    with pytest.raises(InvalidInput) as key:
        push.subscribe(person, endpoint=info["endpoint"], p256dh="AAAA", auth=keys["auth"],
                       actor=ACTOR)
    assert key.value.field == "p256dh"
    with pytest.raises(InvalidInput) as secret:
        push.subscribe(person, endpoint=info["endpoint"], p256dh=keys["p256dh"],
                       auth="not base64!", actor=ACTOR)
    assert secret.value.field == "auth"
    assert not PushSubscription.objects.exists()


def test_the_vapid_key_is_made_once_and_kept(service, settings, tmp_path):
    first = push.public_key()
    push.private_key.cache_clear()
    assert push.public_key() == first
    assert (tmp_path / "vapid.pem").stat().st_mode & 0o777 == 0o600


def test_the_wallet_subscribes_and_unsubscribes_this_phone(alice, service):
    person, info = alice.member.person, Browser().subscription(f"{service}/push/phone")
    client = signed_in(person)
    answer = client.post("/my/push/subscribe/", json.dumps(info),
                         content_type="application/json")
    assert (answer.status_code, answer.json()) == (201, {"subscribed": True})
    subscription = PushSubscription.objects.get()
    assert (subscription.person, subscription.endpoint) == (person, info["endpoint"])
    assert accrual(alice).channel == "push"
    answer = client.post("/my/push/unsubscribe/", json.dumps({"endpoint": info["endpoint"]}),
                         content_type="application/json")
    assert answer.json() == {"subscribed": False, "ended": True}
    assert accrual(alice).channel == "sms"


def test_the_wallet_refuses_a_bad_subscription_by_field(alice, service):
    client = signed_in(alice.member.person)
    answer = client.post("/my/push/subscribe/", json.dumps({"endpoint": "https://evil.example/"}),
                         content_type="application/json")
    assert answer.status_code == 422
    assert answer["Content-Type"] == "application/problem+json"
    assert answer.json()["errors"][0]["field"] == "endpoint"
    junk = client.post("/my/push/subscribe/", "[1, 2]", content_type="application/json")
    assert (junk.status_code, junk.json()["errors"][0]["field"]) == (422, "body")
    assert not PushSubscription.objects.exists()


def test_signing_out_everywhere_ends_push_to_every_phone(alice, service):
    person = alice.member.person
    subscribe(person, f"{service}/push/one", Browser())
    subscribe(person, f"{service}/push/two", Browser())
    signed_in(person).post("/my/signout/everywhere/")
    assert not PushSubscription.objects.filter(gone_at=None).exists()
    assert accrual(alice).channel == "sms"


def test_the_shops_page_offers_push_with_the_servers_key(alice, service):
    page = signed_in(alice.member.person).get("/my/shops/").content.decode()
    assert f'data-key="{push.public_key()}"' in page
    assert 'data-subscribe-url="/my/push/subscribe/"' in page


# --- {link}: the wallet in any message (MSG-2) ------------------------------------------------


def test_link_in_a_template_carries_a_working_wallet_link(alice, settings):
    settings.PUBLIC_URL = "https://kopilka.example"
    with scope(merchant=alice.merchant):
        services.save_template(alice.merchant, event="accrual", language="ru",
                               body="+{points}. Ваша карта: {link}", actor=ACTOR)
    message = accrual(alice)
    prefix = "+21 бонус. Ваша карта: https://kopilka.example/m/"
    assert message.body.startswith(prefix) and len(message.body) == len(prefix) + 10
    token = message.body.removeprefix(prefix)
    from django.test import Client

    client = Client()
    assert client.post(f"/m/{token}")["Location"] == "/my/"  # signs the member in, once
    assert client.get("/my/shops/").status_code == 200


def test_no_link_is_made_where_the_text_has_none(alice):
    from kopilka.web.wallet.models import SignInLink

    accrual(alice)
    assert not SignInLink.objects.exists()
