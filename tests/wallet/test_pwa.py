"""The wallet as an installable app: the manifest's media type and contents, the service
worker served from /my/ (its scope) and never cached for long, the offline note on the card."""

import json

import pytest
from django.test import Client

from tests.wallet.tools import person, signed_in

pytestmark = pytest.mark.django_db


def test_the_manifest_is_served_with_its_media_type_and_translated():
    response = Client(headers={"Accept-Language": "ru"}).get("/my/manifest.webmanifest")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/manifest+json; charset=utf-8"
    manifest = json.loads(response.content)
    assert (manifest["start_url"], manifest["scope"], manifest["display"]) == (
        "/my/", "/my/", "standalone")
    assert manifest["short_name"] == "Мои карты"
    assert [icon["sizes"] for icon in manifest["icons"]] == ["192x192", "512x512"]


def test_the_service_worker_is_served_from_the_wallets_folder():
    response = Client().get("/my/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/javascript; charset=utf-8"
    assert response["Cache-Control"] == "no-cache"
    assert b'addEventListener("fetch"' in response.content


def test_the_card_links_the_manifest_and_has_a_hidden_offline_note(alice):
    page = signed_in(person("+79160000001")).get(f"/my/cards/{alice.member.pk}/")
    html = page.content.decode()
    assert '<link rel="manifest" href="/my/manifest.webmanifest">' in html
    assert "data-offline hidden>" in html and "<time data-offline-time></time>" in html
