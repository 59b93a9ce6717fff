"""Campaign codes in the browser: the owner makes a campaign and a batch in the cabinet and
downloads it once; a member activates a code in the wallet on a phone."""

import datetime as dt
import io
import subprocess
import zipfile
from pathlib import Path

import pytest
import segno
from django_scopes import scope, scopes_disabled
from playwright.sync_api import expect

from kopilka.campaigns import services as campaigns
from kopilka.campaigns.models import CodeBatch
from kopilka.core.actor import Actor
from kopilka.processing import queries
from kopilka.web.wallet import signin
from tests.browser.conftest import CHROMIUM, FLAGS, new_screen
from tests.wallet.tools import person, wallet_cookie


@pytest.fixture
def codes(alice):
    with scope(merchant=alice.merchant):
        campaign = campaigns.create_campaign(
            alice.merchant, name="Lemonade caps", starts_on=dt.date(2020, 1, 1), points=3000,
            actor=Actor.cli(), text="Thank you for choosing our lemonade!")
        batch = campaigns.create_batch(campaign, count=100, length=8, prefix="LM",
                                       actor=Actor.cli())
    with scopes_disabled():
        return zlib_codes(batch)


def zlib_codes(batch) -> list[str]:
    import zlib

    return zlib.decompress(bytes(CodeBatch.objects.get(pk=batch.pk).sheet)).decode().split("\n")


def test_a_member_activates_a_code_in_the_wallet(screen, alice, codes, viewport):
    if viewport == "ipad-mini":
        pytest.skip("the phone and the desktop are enough here")
    page = screen.page
    with scopes_disabled():
        cookie = wallet_cookie(person("+79160000001"))
    screen.context.add_cookies([{"name": signin.COOKIE, "value": cookie, "url": screen.url}])
    screen.go(f"/my/shops/{alice.member.pk}/")
    page.get_by_role("link", name="Enter a code").click()
    expect(page.get_by_role("heading", name="Enter a code")).to_be_visible()
    field = page.get_by_label("Code")
    expect(field).to_be_focused()
    field.fill("ZZZZZZZZ")
    screen.expect_console(r"422")
    page.get_by_role("button", name="Get the points").click()
    expect(page.locator(".field__error, .errorlist").first).to_contain_text(
        "There is no such code. Check it and try again.")
    screen.shot("campaigns-wallet-wrong")
    page.get_by_label("Code").fill(codes[0][:5].lower() + " " + codes[0][5:])
    page.get_by_role("button", name="Get the points").click()
    done = page.locator("[data-activated]")
    expect(done.locator("h1")).to_have_text("+30\xa0bonuses")
    expect(done).to_contain_text("Thank you for choosing our lemonade!")
    expect(done.locator("[data-balance]")).to_have_text("Your balance: 30\xa0bonuses.")
    screen.shot("campaigns-wallet-done")
    with scope(merchant=alice.merchant):
        assert queries.member_card(alice.merchant, alice.member).available == 3000


def test_the_owner_makes_a_batch_and_downloads_it_once(screen, alice, viewport):
    if viewport == "ipad-mini":
        pytest.skip("the phone and the desktop are enough here")
    page = screen.page
    screen.go("/cabinet/")
    page.get_by_label("E-mail").fill("alice@example.com")
    page.get_by_label("Password").fill(alice.owner_password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Campaigns").first.click()
    expect(page.get_by_role("heading", name="Campaigns")).to_be_visible()
    page.get_by_role("link", name="New campaign").first.click()
    page.get_by_label("Name").fill("Lemonade caps")
    page.get_by_label("Points per code", exact=True).fill("30")
    page.get_by_label("Codes per member a day").fill("3")
    page.get_by_label("Text the member sees after activating").fill("Thank you!")
    screen.shot("campaigns-new")
    page.get_by_role("button", name="Create the campaign").click()
    expect(page.get_by_role("heading", name="Lemonade caps")).to_be_visible()
    page.get_by_label("Number of codes").fill("40")
    page.get_by_label("Prefix").fill("LM")
    page.get_by_label("Add a check character").check()
    page.get_by_role("button", name="Make the codes").click()
    row = page.locator("[data-batches] tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator("td.num").first).to_have_text("40")
    screen.shot("campaigns-batch")
    with page.expect_download() as waiting:
        page.locator("[data-download]").click()
    archive = zipfile.ZipFile(io.BytesIO(Path(waiting.value.path()).read_bytes()))
    assert sorted(archive.namelist()) == ["codes.csv", "codes.xlsx", "qr/sheet-001.svg"]
    screen.go(page.url.replace(screen.url, ""))
    expect(page.locator("[data-download]")).to_have_count(0)
    expect(row.locator("[data-downloaded]")).to_contain_text("downloaded")
    with scopes_disabled():
        assert CodeBatch.objects.get().sheet is None


@pytest.fixture
def camera(browser, web_server, tmp_path):
    """A Chromium whose camera plays a video of a QR code (as in test_cashier_members.py)."""
    playwright, _chromium = browser
    launched = []

    def open_with(text: str, viewport: str):
        png, video = tmp_path / "qr.png", tmp_path / "qr.y4m"
        segno.make_qr(text, error="m").save(png, scale=8, border=4)
        subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-loop", "1", "-i", str(png),
                        "-vf", "scale=360:360,pad=640:480:140:60:white,format=yuv420p",
                        "-r", "15", "-t", "3", str(video)], check=True)
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            *FLAGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={video}"])
        launched.append(chromium)
        made = new_screen(playwright, chromium, web_server.url, viewport, "en")
        made.context.grant_permissions(["camera"], origin=web_server.url)
        return made

    yield open_with
    for chromium in launched:
        chromium.close()


@pytest.mark.parametrize("viewport", ["pixel-7"])
def test_a_member_scans_the_qr_under_the_cap(screen_in, camera, alice, codes, viewport):
    screen_in("en")  # the CSP and the URLconf of the browser tests
    # The QR printed under the cap holds the link (docs/campaigns.md); the field takes its end.
    screen = camera(f"http://localhost:8000/my/c/{codes[9]}/", viewport)
    try:
        with scopes_disabled():
            cookie = wallet_cookie(person("+79160000001"))
        screen.context.add_cookies([{"name": signin.COOKIE, "value": cookie,
                                     "url": screen.url}])
        page = screen.page
        screen.go(f"/my/shops/{alice.member.pk}/code/")
        page.get_by_role("button", name="Scan with camera").click()
        done = page.locator("[data-activated]")
        expect(done.locator("h1")).to_have_text("+30\xa0bonuses", timeout=15_000)
        expect(page.locator("[data-camera]")).to_have_count(0)  # a new page: the camera is off
        assert screen.outside == []
        assert screen.unexpected_console() == []
        assert screen.violations() == []
    finally:
        screen.context.close()
