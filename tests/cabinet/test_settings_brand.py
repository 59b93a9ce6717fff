"""The merchant's brand (#15): a colour and a logo set in the cabinet, shown on the wallet's card,
shop and joining pages through a stylesheet of one rule (no inline style under the CSP) and a
re-encoded logo; refusals in the user's language; only owners and admins set it."""

from io import BytesIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django_scopes import scopes_disabled
from PIL import Image

from kopilka.core.actor import Actor
from kopilka.core.errors import InvalidInput
from kopilka.tenancy import branding
from kopilka.tenancy.models import Merchant, Staff
from tests.cabinet.tools import owner_of, staff_client
from tests.wallet.tools import signed_in

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def png(width: int, height: int) -> SimpleUploadedFile:
    out = BytesIO()
    Image.new("RGBA", (width, height), (200, 30, 30, 128)).save(out, "PNG")
    return SimpleUploadedFile("logo.png", out.getvalue(), content_type="image/png")


def test_the_text_on_the_band_is_black_or_white_whichever_reads_better():
    assert branding.text_colour("#0b6b4e") == "#ffffff"
    assert branding.text_colour("#ffd400") == "#000000"
    assert branding.text_colour("#ffffff") == "#000000"
    assert branding.text_colour("#000000") == "#ffffff"


def test_a_colour_must_be_rrggbb(alice):
    with pytest.raises(InvalidInput) as refused:
        branding.save_branding(alice.merchant, colour="green", actor=Actor.cli())
    assert refused.value.field == "brand_colour"
    merchant = branding.save_branding(alice.merchant, colour=" #0B6B4E ", actor=Actor.cli())
    assert merchant.brand_colour == "#0b6b4e"


def test_the_owner_sets_colour_and_logo_and_the_wallet_shows_them(alice):
    response = owner_of(alice).post("/cabinet/settings/brand/", {
        "brand_colour": "#FFD400", "use_colour": "on", "logo": png(600, 300)})
    assert response.status_code == 302
    with scopes_disabled():
        merchant = Merchant.objects.get(pk=alice.merchant.pk)
    assert merchant.brand_colour == "#ffd400" and len(merchant.logo) == 32

    wallet = signed_in(alice.member.person)
    css = wallet.get(f"/my/brand/{merchant.pk}.css")
    assert css["Content-Type"] == "text/css; charset=utf-8"
    assert css.content.decode() == (f".brand--{merchant.pk} {{ --brand-bg: #ffd400; "
                                    "--brand-fg: #000000; }\n")
    logo = wallet.get(f"/my/brand/{merchant.pk}/logo/96/")
    assert logo["Content-Type"] == "image/webp"
    assert Image.open(BytesIO(b"".join(logo.streaming_content))).size == (96, 48)
    assert wallet.get(f"/my/brand/{merchant.pk}/logo/97/").status_code == 404

    card = wallet.get(f"/my/cards/{alice.member.pk}/").content.decode()
    assert f'href="/my/brand/{merchant.pk}.css?v=ffd400"' in card
    assert f'src="/my/brand/{merchant.pk}/logo/96/?v={merchant.logo[:8]}"' in card
    assert "wallet-brand--coloured" in card
    join = Client().get(f"/my/join/{merchant.slug}/")  # the joining page: nobody signed in
    assert f"/my/brand/{merchant.pk}.css" in join.content.decode()


def test_dropping_the_colour_and_the_logo(alice):
    owner = owner_of(alice)
    owner.post("/cabinet/settings/brand/", {"brand_colour": "#0b6b4e", "use_colour": "on",
                                            "logo": png(100, 100)})
    owner.post("/cabinet/settings/brand/", {"brand_colour": "#0b6b4e", "drop_logo": "on"})
    with scopes_disabled():
        merchant = Merchant.objects.get(pk=alice.merchant.pk)
    assert (merchant.brand_colour, merchant.logo) == ("", "")
    assert signed_in(alice.member.person).get(f"/my/brand/{merchant.pk}.css").status_code == 404
    card = signed_in(alice.member.person).get(f"/my/cards/{alice.member.pk}/").content.decode()
    assert "/my/brand/" not in card


def test_bad_input_is_a_form_error_in_the_users_language(alice):
    owner = owner_of(alice, language="ru")
    junk = SimpleUploadedFile("logo.png", b"<svg onload=alert(1)>", content_type="image/png")
    response = owner.post("/cabinet/settings/brand/", {"brand_colour": "#0b6b4e",
                                                       "use_colour": "on", "logo": junk})
    assert response.status_code == 422
    page = response.content.decode()
    assert "Загрузите правильное изображение" in page  # Django's own check, in Russian
    bad = owner.post("/cabinet/settings/brand/", {"brand_colour": "зелёный", "use_colour": "on"})
    assert bad.status_code == 422
    assert "#RRGGBB" in bad.content.decode()
    with scopes_disabled():
        assert Merchant.objects.get(pk=alice.merchant.pk).brand_colour == ""


def test_a_manager_cannot_change_the_brand_and_another_merchant_is_not_served(alice, bob):
    _manager, client = staff_client(alice, Staff.Role.MANAGER)
    assert client.get("/cabinet/settings/brand/").status_code == 403
    assert client.post("/cabinet/settings/brand/", {"brand_colour": "#000000",
                                                    "use_colour": "on"}).status_code == 403
    with scopes_disabled():
        Merchant.objects.filter(pk=bob.merchant.pk).update(
            status=Merchant.Status.SUSPENDED, brand_colour="#123456")
    assert signed_in(alice.member.person).get(
        f"/my/brand/{bob.merchant.pk}.css").status_code == 404
