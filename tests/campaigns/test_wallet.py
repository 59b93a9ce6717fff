"""The wallet's code page and the QR link under the cap."""

import datetime as dt
import zlib

import pytest
from django.test import Client
from django_scopes import scope, scopes_disabled

from kopilka.campaigns import services as campaigns
from kopilka.campaigns.models import Activation, CodeBatch
from kopilka.core.actor import Actor
from kopilka.processing import queries
from kopilka.web.wallet.activate import PENDING_COOKIE
from tests.wallet.tools import person, signed_in


@pytest.fixture
def codes(alice):
    with scope(merchant=alice.merchant):
        campaign = campaigns.create_campaign(
            alice.merchant, name="Caps", starts_on=dt.date(2020, 1, 1), points=3000,
            actor=Actor.cli(), text="Enjoy!")
        batch = campaigns.create_batch(campaign, count=100, length=8, actor=Actor.cli())
    with scopes_disabled():
        return zlib.decompress(bytes(CodeBatch.objects.get(pk=batch.pk).sheet)).decode() \
            .split("\n")


def available(alice) -> int:
    with scope(merchant=alice.merchant):
        return queries.member_card(alice.merchant, alice.member).available


def test_a_member_types_a_code_in_the_wallet(alice, codes):
    before = available(alice)
    client = signed_in(person("+79160000001"))
    url = f"/my/shops/{alice.member.pk}/code/"
    page = client.get(url)
    assert page.status_code == 200
    assert "wasm-unsafe-eval" in page["Content-Security-Policy"]
    done = client.post(url, {"code": codes[1][:4].lower() + "-" + codes[1][4:]})
    assert done.status_code == 200
    assert "+30\xa0bonuses" in done.text and "Enjoy!" in done.text
    assert available(alice) == before + 3000
    again = client.post(url, {"code": codes[1]})
    assert again.status_code == 422
    assert "You have already activated this code." in again.text
    wrong = client.post(url, {"code": "ZZZZ"})
    assert wrong.status_code == 422 and "There is no such code." in wrong.text
    assert client.post(url, {"code": ""}).status_code == 422


def test_another_persons_card_is_404(alice, bob, codes):
    client = signed_in(person("+79160000002"))
    assert client.get(f"/my/shops/{alice.member.pk}/code/").status_code == 404
    assert client.post(f"/my/shops/{alice.member.pk}/code/",
                       {"code": codes[0]}).status_code == 404


def test_the_qr_link_signs_in_then_activates_on_post(alice, codes):
    anonymous = Client()
    first = anonymous.get(f"/my/c/{codes[5]}/")
    assert first.status_code == 302 and first["Location"] == "/my/signin/"
    assert first.cookies[PENDING_COOKIE].value == codes[5]
    client = signed_in(person("+79160000001"))
    page = client.get(f"/my/c/{codes[5]}/")
    assert page.status_code == 200 and codes[5] in page.text
    with scopes_disabled():
        assert not Activation.objects.exists()  # a GET uses nothing up
    before = available(alice)
    done = client.post(f"/my/c/{codes[5]}/")
    assert done.status_code == 200 and "+30\xa0bonuses" in done.text
    assert available(alice) == before + 3000
    with scopes_disabled():
        assert Activation.objects.get().channel == "link"


def test_the_link_of_a_shop_without_my_card_offers_to_join(alice, bob, codes):
    client = signed_in(person("+79160000002"))
    page = client.post(f"/my/c/{codes[2]}/")
    assert page.status_code == 409
    assert "This code is from Alice Coffee, where you have no card yet" in page.text
    assert f"/my/join/{alice.merchant.slug}/" in page.text
