"""The reward catalogue end to end in Chromium: a member orders a coffee in the wallet on a
phone (the points are held, the order's QR is shown), the cashier scans the order's QR — by a
USB scanner typing it into the counter's search field, and by the camera (a fake video of the
QR) — sees the coffee and the member, and hands it over: the points are spent."""

import re
from io import BytesIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_scopes import scope, scopes_disabled
from PIL import Image, ImageDraw
from playwright.sync_api import expect

from kopilka.core.actor import Actor
from kopilka.ledger.models import Account
from kopilka.programs import services as programs
from kopilka.rewards import services as rewards
from kopilka.rewards.models import Item, Order
from kopilka.web.wallet import signin
from tests.browser.test_cashier_members import sign_in_counter
from tests.shop import Shop
from tests.wallet.tools import wallet_cookie

ACTOR = Actor.cli()
CATALOGUE_CAFE = {  # the start wizard's "café with a reward catalogue", as it saves it
    "type": "bonus", "points_precision": 0, "point_value": "15000", "max_redeem_percent": 0,
    "welcome_bonus": 1,
    "tiers": [{"code": "guest", "name": "Guest",
               "accrual": {"kind": "per_amount", "points": 1, "per": 30000}}],
}


def picture(colour) -> SimpleUploadedFile:
    image = Image.new("RGB", (800, 800), (250, 240, 225))
    ImageDraw.Draw(image).ellipse((150, 150, 650, 650), fill=colour)
    out = BytesIO()
    image.save(out, "JPEG")
    return SimpleUploadedFile("item.jpg", out.getvalue(), content_type="image/jpeg")


@pytest.fixture
def cafe(alice, settings, tmp_path):
    """Alice's café with coffee 1 / donut 2 / cheesecake 3; her member has 2 points."""
    settings.MEDIA_ROOT = tmp_path / "media"
    with scope(merchant=alice.merchant):
        programs.save_program(alice.merchant, CATALOGUE_CAFE, actor=ACTOR)
        shop = Shop(alice)
        shop.buy(alice.member, 60_000)  # 600.00: 2 points (one for every 300.00)
        for name, price, colour in (("Coffee", 1, (111, 78, 55)), ("Donut", 2, (232, 120, 160)),
                                    ("Cheesecake", 3, (245, 215, 140))):
            rewards.create_item(alice.merchant, rewards.ItemInput(name=name, price=price,
                                                                  stock=10),
                                actor=ACTOR, picture=picture(colour))
    return alice.member


def wallet_signed_in(screen, member):
    with scopes_disabled():
        person = member.person
    screen.context.add_cookies([{"name": signin.COOKIE, "value": wallet_cookie(person),
                                 "url": f"{screen.url}/my/", "httpOnly": True}])


def order_coffee(screen, member, shots: bool) -> Order:
    page = screen.page
    wallet_signed_in(screen, member)
    screen.go(f"/my/cards/{member.pk}/")
    if shots:
        screen.shot("rewards-wallet-card")
    page.get_by_role("link", name="Rewards for points").click()
    expect(page.locator("[data-available]")).to_have_text("You have 2 bonuses at Alice Coffee.")
    expect(page.locator("[data-affordable] .reward-card__name")).to_have_text(["Coffee",
                                                                             "Donut"])
    expect(page.locator("[data-later] .reward-card__name")).to_have_text(["Cheesecake"])
    expect(page.locator("[data-later] .reward-card__missing")).to_have_text("1 bonus more to go")
    if shots:
        screen.shot("rewards-wallet-catalogue")
    page.locator("[data-affordable] .reward-card").filter(has_text="Coffee") \
        .get_by_role("button", name="Order").click()
    expect(page.locator("[data-order]")).to_have_attribute("data-order", "held")
    expect(page.locator(".reward-order svg.wallet-qr__svg")).to_be_visible()
    with scopes_disabled():
        order = Order.objects.get()
        account = Account.objects.get(member=member)
    expect(page.locator("[data-order-code]")).to_have_text(order.code)
    assert (account.available, account.held) == (2, 1)  # held, not spent
    if shots:
        screen.shot("rewards-wallet-order")
    page.get_by_role("link", name="Rewards").last.click()
    expect(page.locator("[data-available]")).to_have_text("You have 1 bonus at Alice Coffee.")
    expect(page.locator("[data-open-orders] .row__title")).to_have_text(["Coffee"])
    return order


def hand_over_at_the_counter(screen, order, shots: bool):
    page = screen.page
    expect(page).to_have_url(re.compile(rf"/cashier/rewards/orders/{order.pk}/$"))
    expect(page.locator("#order-title")).to_have_text("Coffee")
    expect(page.get_by_role("link", name="Alice")).to_be_visible()  # the member, to the card
    if shots:
        screen.shot("rewards-cashier-order")
    page.get_by_role("button", name="Hand over").click()
    expect(page.locator("[data-handed-over]")).to_contain_text("the points are spent")
    if shots:
        screen.shot("rewards-cashier-handed-over")
    with scopes_disabled():
        order.refresh_from_db()
        account = Account.objects.get(member=order.member_id)
        coffee = Item.objects.get(name="Coffee")
    assert (order.status, account.available, account.held, coffee.stock) == (
        "handed_over", 1, 0, 9)


@pytest.mark.parametrize("viewport", ["pixel-7", "desktop"])
def test_order_a_coffee_in_the_wallet_and_the_scanner_hands_it_over(screen_in, cafe, alice,
                                                                     viewport):
    member_screen = screen_in("en")
    order = order_coffee(member_screen, cafe, shots=True)

    cashier = screen_in("en")
    sign_in_counter(cashier, alice)
    page = cashier.page
    cashier.go("/cashier/")
    field = page.get_by_label("Phone, card or QR")
    expect(field).to_be_focused()
    field.press_sequentially(order.code.lower())  # a USB scanner "types" the QR's text
    field.press("Enter")
    hand_over_at_the_counter(cashier, order, shots=True)

    # The member's page says so; a second hand-over of the same QR is refused.
    member_screen.go(f"/my/shops/{cafe.pk}/orders/{order.pk}/")
    expect(member_screen.page.locator("[data-order]")).to_have_attribute("data-order",
                                                                         "handed_over")
    cashier.go("/cashier/")
    page.get_by_label("Phone, card or QR").press_sequentially(order.code)
    page.get_by_label("Phone, card or QR").press("Enter")
    expect(page.locator("[data-refusal]")).to_have_text("This order was already handed over.")
    expect(page.get_by_role("button", name="Hand over")).to_have_count(0)


@pytest.mark.parametrize("viewport", ["pixel-7"])
def test_the_cashier_scans_the_order_qr_with_the_camera(screen_in, camera, cafe,
                                                        alice):
    order = order_coffee(screen_in("en"), cafe, shots=False)
    screen = camera(order.code)
    try:
        sign_in_counter(screen, alice)
        screen.go("/cashier/")
        screen.page.get_by_role("button", name="Scan with camera").click()
        expect(screen.page.locator("#order-title")).to_have_text("Coffee", timeout=15_000)
        hand_over_at_the_counter(screen, order, shots=False)
        assert screen.outside == []
        assert screen.unexpected_console() == []
        assert screen.violations() == []
    finally:
        screen.context.close()


@pytest.mark.parametrize("viewport", ["pixel-7", "desktop"])
def test_the_owner_adds_a_reward_with_a_picture_and_sees_the_orders(screen, cafe, alice,
                                                                    tmp_path):
    with scope(merchant=alice.merchant):
        order = rewards.place_order(alice.merchant, cafe, Item.objects.get(name="Donut").pk,
                                    actor=ACTOR)
    page = screen.page
    screen.go("/cabinet/")
    page.get_by_label("E-mail").fill(alice.owner.user.email)
    page.get_by_label("Password").fill(alice.owner_password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Rewards", exact=True).click()
    expect(page.locator("[data-rewards] .row__title")).to_have_text(
        ["Coffee", "Donut", "Cheesecake"])
    page.get_by_role("link", name="Add a reward").first.click()
    page.get_by_label("Name").fill("Croissant")
    page.get_by_label("Price in points").fill("2")
    page.get_by_label("In stock").fill("12")
    upload = tmp_path / "croissant.png"
    image = Image.new("RGB", (1600, 1200), (250, 240, 225))
    ImageDraw.Draw(image).ellipse((400, 300, 1200, 900), fill=(214, 160, 70))
    image.save(upload)
    page.get_by_label("Picture").set_input_files(str(upload))
    screen.shot("rewards-cabinet-form")
    page.get_by_role("button", name="Add the reward").click()
    expect(page.locator("#toasts .toast__text")).to_have_text("Croissant is in the catalogue.")
    expect(page.locator("[data-rewards] .row__title")).to_have_text(
        ["Coffee", "Donut", "Croissant", "Cheesecake"])
    expect(page.locator("[data-rewards] .row__meta").nth(1)).to_have_text(
        "10 in stock · 1 ordered")
    croissant = page.locator("[data-rewards] .row").nth(2).locator("img")
    expect(croissant).to_have_js_property("naturalWidth", 160)  # resized, served as WebP
    screen.shot("rewards-cabinet-list")
    page.get_by_role("link", name="Orders", exact=True).click()
    expect(page.locator("[data-orders] tbody tr")).to_have_count(1)
    expect(page.locator("[data-orders] tbody td").first).to_have_text(order.code)
    screen.shot("rewards-cabinet-orders")
