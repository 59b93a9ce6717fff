"""Targeted offers in the browser: the owner writes an offer to a saved segment, sees the
recipients and the cost before sending, sends, and watches the progress turn into results."""

from datetime import time

import pytest
from django.test import override_settings
from django_scopes import scope, scopes_disabled
from playwright.sync_api import expect

from kopilka.campaigns import offers
from kopilka.campaigns.models import Offer
from kopilka.core.actor import Actor
from kopilka.members import segments
from kopilka.members.services import ConsentGiven
from kopilka.messaging import billing
from kopilka.messaging import services as messaging
from tests.cabinet.tools import owner_of
from tests.shop import Shop

ACTOR = Actor.cli()


@pytest.fixture
def vip(alice):
    with scope(merchant=alice.merchant):
        shop = Shop(alice)
        messaging.save_settings(alice.merchant, transactional="off", quiet_from=time(0),
                                quiet_to=time(0), actor=ACTOR)
        for n, name in enumerate(("Anna", "Boris", "Vera")):
            shop.join(f"+7999000003{n}", first_name=name, tags=["vip"],
                      consents=[ConsentGiven("messages", "v1")])
        billing.top_up(alice.merchant, 10_000, actor=ACTOR)
        return segments.save_segment(alice.merchant, name="VIP", filters={"tag": "vip"},
                                     by=None, actor=ACTOR)


@pytest.mark.parametrize("viewport", ["pixel-7", "desktop"])
@override_settings(SMS_FREE_PARTS=0)
def test_the_owner_sends_an_offer_and_sees_the_results(screen, alice, vip, viewport):
    client = owner_of(alice)
    screen.context.add_cookies([{"name": name, "value": morsel.value, "url": screen.url}
                                for name, morsel in client.cookies.items()])
    page = screen.page
    screen.go("/cabinet/members/")
    page.locator("[data-offer-link]").click()
    expect(page.get_by_role("heading", name="New offer")).to_be_visible()
    page.get_by_label("Name", exact=True).fill("Spring gift")
    page.get_by_label("SMS text").fill("{name}, {merchant}: +{points} до {date}")
    page.get_by_label("Gift points", exact=True).fill("50")
    page.get_by_label("Gift valid for, days").fill("14")
    screen.shot("offers-new")
    page.get_by_role("button", name="Check the cost").click()
    expect(page.locator("[data-recipients]")).to_have_text("3")
    expect(page.locator("[data-cost]")).to_have_text("RUB7.50")
    expect(page.locator("[data-balance]")).to_have_text("RUB100.00")
    screen.shot("offers-estimate")
    page.get_by_role("button", name="Send to 3 members").click()
    expect(page.locator("[data-progress]")).to_have_text("0 of 3 handled")
    with scopes_disabled():
        offer = Offer.objects.get()
    with scope(merchant=alice.merchant):
        assert offers.run_batch(offer.pk) == "done"
    expect(page.locator("[data-reached]")).to_have_text("3", timeout=10_000)  # htmx polling
    expect(page.locator("[data-progress]")).to_have_count(0)
    screen.shot("offers-results")
