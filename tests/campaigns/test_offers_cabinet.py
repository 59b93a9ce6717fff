"""The cabinet's targeted offers: a new offer, its estimate, the refusal when the SMS balance
cannot pay, sending, progress and results; another merchant's offer is not found and a lower
role is refused."""

from datetime import time

import pytest
from django.test import override_settings
from django_scopes import scope, scopes_disabled

from kopilka.campaigns import offers
from kopilka.campaigns.models import Offer
from kopilka.core.actor import Actor
from kopilka.members import segments
from kopilka.members.services import ConsentGiven
from kopilka.messaging import billing
from kopilka.messaging import services as messaging
from kopilka.tenancy.models import Staff
from tests.conftest import Clerk
from tests.shop import Shop
from tests.tenancy.tools import PASSWORD as STAFF_PASSWORD
from tests.tenancy.tools import make_staff

ACTOR = Actor.cli()
AGREED = [ConsentGiven("messages", "v1")]


SWEPT = {"offers", "offer-new", "offer", "offer-progress", "offer-send"}


def test_the_sweep_covers_every_offer_url():
    from kopilka.web.cabinet.views import offers as views

    assert {pattern.name for pattern in views.urlpatterns} == SWEPT


@pytest.fixture
def owner(alice):
    return Clerk(staff=alice.owner, password=alice.owner_password, token=alice.token) \
        .session()


@pytest.fixture
def segment(alice):
    with scope(merchant=alice.merchant):
        shop = Shop(alice)
        messaging.save_settings(alice.merchant, transactional="off", quiet_from=time(0),
                                quiet_to=time(0), actor=ACTOR)
        for n, name in enumerate(("Ann", "Ben", "Cat")):
            shop.join(f"+7999000002{n}", first_name=name, tags=["vip"], consents=AGREED)
        shop.join("+79990000029", first_name="Dan", tags=["vip"])  # no consent
        return segments.save_segment(alice.merchant, name="VIP", filters={"tag": "vip"},
                                     by=None, actor=ACTOR)


@override_settings(SMS_FREE_PARTS=0)
def test_the_owner_checks_the_cost_and_sends_an_offer(alice, owner, segment,
                                                      django_capture_on_commit_callbacks):
    assert 'href="/cabinet/offers/"' in owner.get("/cabinet/campaigns/").text
    assert 'href="/cabinet/offers/new/"' in owner.get("/cabinet/members/").text
    assert owner.get("/cabinet/offers/").status_code == 200
    form = owner.get(f"/cabinet/offers/new/?segment={segment.pk}")
    assert form.status_code == 200 and "VIP" in form.text
    bad = owner.post("/cabinet/offers/new/", {"segment": segment.pk, "name": "Spring",
                                              "text": "Hi {balance}", "points": "50",
                                              "window_days": "30"})
    assert bad.status_code == 422
    assert "An offer&#x27;s text may use only {name}, {points}, {date}, {merchant}" in bad.text
    made = owner.post("/cabinet/offers/new/", {
        "segment": segment.pk, "name": "Spring", "text": "{name}: +{points} до {date}",
        "points": "50", "validity_days": "14", "window_days": "30"})
    assert made.status_code == 302
    with scopes_disabled():
        offer = Offer.objects.get()
    assert (offer.points, offer.validity_days, offer.status) == (5000, 14, "draft")
    url = f"/cabinet/offers/{offer.pk}/"
    page = owner.get(url)
    assert '<dd data-recipients>3</dd>' in page.text
    assert "<span data-preview>Ann: +50 бонусов до " in page.text
    assert '<dd data-parts>3</dd>' in page.text
    assert '<dd data-cost>RUB7.50</dd>' in page.text
    assert '<dd data-balance>RUB0.00</dd>' in page.text
    assert "data-unaffordable" in page.text
    refused = owner.post(url + "send/")
    assert refused.status_code == 409
    assert ("The SMS balance cannot pay for this offer: it costs RUB7.50 and the balance is "
            "RUB0.00.") in refused.text
    with scope(merchant=alice.merchant):
        billing.top_up(alice.merchant, 750, actor=ACTOR)
    with django_capture_on_commit_callbacks() as callbacks:
        sent = owner.post(url + "send/")
    assert sent.status_code == 302
    assert len(callbacks) == 1
    progress = owner.get(url + "progress/", headers={"HX-Request": "true"})
    assert "0 of 3 handled" in progress.text and 'hx-trigger="every 2s"' in progress.text
    with scope(merchant=alice.merchant):
        assert offers.run_batch(offer.pk) == "done"
    done = owner.get(url)
    assert "<dd data-reached>3</dd>" in done.text
    assert "every 2s" not in done.text


def test_another_merchants_offer_is_not_found_and_a_cashier_is_refused(alice, bob, segment):
    with scope(merchant=alice.merchant):
        offer = offers.create_offer(alice.merchant, segment=segment, name="S", text="Hi {name}",
                                    actor=ACTOR)
    bob_owner = Clerk(staff=bob.owner, password=bob.owner_password, token=bob.token).session()
    for url in (f"/cabinet/offers/{offer.pk}/", f"/cabinet/offers/{offer.pk}/progress/"):
        assert bob_owner.get(url).status_code == 404
    assert bob_owner.post(f"/cabinet/offers/{offer.pk}/send/").status_code == 404
    staff = make_staff(alice.merchant, "cashier@example.com", Staff.Role.CASHIER)
    cashier = Clerk(staff=staff, password=STAFF_PASSWORD, token="").session()
    assert cashier.get("/cabinet/offers/").status_code == 403
    assert cashier.get("/cabinet/offers/new/").status_code == 403
    assert cashier.get(f"/cabinet/offers/{offer.pk}/progress/").status_code == 403
    assert cashier.get(f"/cabinet/offers/{offer.pk}/").status_code == 403
    assert cashier.post(f"/cabinet/offers/{offer.pk}/send/").status_code == 403
