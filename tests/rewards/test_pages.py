"""The reward catalogue on the three faces, through Django's test client: the cabinet's items
(a picture resized and served as WebP), the wallet's catalogue and order, the counter's
hand-over; bad input, another merchant's ids, a lower role."""

import re
from io import BytesIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django_scopes import scope, scopes_disabled
from PIL import Image

from kopilka.core import clock
from kopilka.ledger.models import Account
from kopilka.rewards.models import Item, Order
from kopilka.tenancy.models import Staff, Store
from tests.cabinet.tools import owner_of, staff_client
from tests.cashier.tools import at_counter
from tests.rewards.tools import ACTOR, add_items, bobs_reward_order
from tests.shop import Shop
from tests.wallet.tools import signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def png(width=1200, height=900) -> SimpleUploadedFile:
    out = BytesIO()
    Image.new("RGB", (width, height), (180, 120, 60)).save(out, "PNG")
    return SimpleUploadedFile("coffee.png", out.getvalue(), content_type="image/png")


def test_the_owner_adds_a_reward_with_a_picture(alice):
    client = owner_of(alice)
    response = client.post(reverse("cabinet:reward-new"), {
        "name": "Coffee", "price": "1", "description": "Any size", "stock": "20",
        "valid_hours": "24", "active": "on", "picture": png()})
    assert response.status_code == 302, response.content.decode()[:2000]
    with scopes_disabled():
        item = Item.objects.get()
    assert (item.name, item.price, item.stock, item.merchant_id) == (
        "Coffee", 100, 20, alice.merchant.pk)  # the default program: 2 decimals
    page = client.get(reverse("cabinet:rewards")).content.decode()
    assert "Coffee" in page and "20 in stock" in page
    picture = client.get(reverse("cabinet:reward-picture", args=[item.pk, 480]))
    assert picture["Content-Type"] == "image/webp"
    with Image.open(BytesIO(b"".join(picture.streaming_content))) as image:
        assert (image.format, image.size) == ("WEBP", (480, 360))
    small = client.get(reverse("cabinet:reward-picture", args=[item.pk, 160]))
    with Image.open(BytesIO(b"".join(small.streaming_content))) as image:
        assert image.size == (160, 120)
    assert client.get(reverse("cabinet:reward-picture", args=[item.pk, 999])).status_code == 404


def test_bad_input_is_a_422_in_the_users_language(alice):
    client = owner_of(alice, language="ru")
    response = client.post(reverse("cabinet:reward-new"), {
        "name": "Кофе", "price": "-1", "valid_hours": "24",
        "picture": SimpleUploadedFile("x.png", b"<svg onload=alert(1)>", "image/png")})
    assert response.status_code == 422
    page = response.content.decode()
    assert "Введите число баллов больше нуля." in page
    response = client.post(reverse("cabinet:reward-new"), {
        "name": "Кофе", "price": "1", "valid_hours": "24",
        "picture": SimpleUploadedFile("x.png", b"<svg onload=alert(1)>", "image/png")})
    assert response.status_code == 422
    assert "Этот файл не картинка" in response.content.decode()
    with scopes_disabled():
        assert Item.objects.count() == 0


def test_another_merchants_reward_is_404_and_a_cashier_gets_403(alice, bob):
    with scope(merchant=bob.merchant):
        item, _order = bobs_reward_order(bob)
    client = owner_of(alice)
    for url in (reverse("cabinet:reward-edit", args=[item.pk]),
                reverse("cabinet:reward-picture", args=[item.pk, 160])):
        assert client.get(url).status_code == 404
    assert client.post(reverse("cabinet:reward-edit", args=[item.pk]),
                       {"name": "Mine", "price": "1", "valid_hours": "1"}).status_code == 404
    _staff, cashier = staff_client(alice, Staff.Role.CASHIER)
    for name in ("cabinet:rewards", "cabinet:reward-new", "cabinet:reward-orders"):
        assert cashier.get(reverse(name)).status_code == 403
    assert "Bob" not in client.get(reverse("cabinet:reward-orders")).content.decode()


def test_wallet_order_then_counter_hand_over(alice):
    with scope(merchant=alice.merchant):
        shop = Shop(alice)
        shop.buy(alice.member, 4_000)  # 5 % of 40.00: 2.00 points (200)
        coffee, donut, cake = add_items(alice.merchant, (("Coffee", 100), ("Donut", 200),
                                                         ("Cheesecake", 300)))
        person = alice.member.person
    wallet = signed_in(person)
    card = wallet.get(reverse("wallet:card", args=[alice.member.pk])).content.decode()
    assert reverse("wallet:rewards", args=[alice.member.pk]) in card
    page = wallet.get(reverse("wallet:rewards", args=[alice.member.pk])).content.decode()
    affordable = page.split("data-affordable")[1].split("</ul>")[0]
    later = page.split("data-later")[1].split("</ul>")[0]
    assert "Coffee" in affordable and "Donut" in affordable and "Cheesecake" not in affordable
    assert "Cheesecake" in later and "1\xa0bonus more to go" in later
    key = re.search(r'name="key" value="([^"]+)"', affordable)[1]
    response = wallet.post(reverse("wallet:reward-place", args=[alice.member.pk, coffee.pk]),
                           {"key": key})
    twice = wallet.post(reverse("wallet:reward-place", args=[alice.member.pk, coffee.pk]),
                        {"key": key})  # a double tap
    assert twice["Location"] == response["Location"]
    with scopes_disabled():
        order = Order.objects.get()
        account = Account.objects.get(member=alice.member)
    assert response["Location"] == reverse("wallet:reward-order",
                                           args=[alice.member.pk, order.pk])
    assert (account.available, account.held) == (200, 100)
    qr_page = wallet.get(response["Location"]).content.decode()
    assert order.code in qr_page and "<svg" in qr_page

    at = at_counter(alice)
    found = at.client.get(reverse("cashier:find"), {"q": order.code.lower()},
                          headers={"HX-Request": "true"})
    assert found["HX-Redirect"] == reverse("cashier:reward-order", args=[order.pk])
    shown = at.client.get(found["HX-Redirect"]).content.decode()
    assert "Coffee" in shown and "data-hand-over" in shown
    done = at.client.post(reverse("cashier:reward-hand-over", args=[order.pk]))
    assert done.status_code == 302
    with scopes_disabled():
        order.refresh_from_db()
        account.refresh_from_db()
    assert (order.status, account.available, account.held) == ("handed_over", 100, 0)
    again = at.client.post(reverse("cashier:reward-hand-over", args=[order.pk]))
    assert again.status_code == 409
    assert "This order was already handed over." in again.content.decode()
    missing = at.client.get(reverse("cashier:find"), {"q": "R-2222222222"})
    assert missing.status_code == 302
    assert at.client.get(missing["Location"]).status_code == 404


def test_wallet_cancel_and_another_persons_order(alice, bob):
    with scope(merchant=alice.merchant):
        Shop(alice).buy(alice.member, 4_000)
        (coffee,) = add_items(alice.merchant, (("Coffee", 100),))
    wallet = signed_in(alice.member.person)
    wallet.post(reverse("wallet:reward-place", args=[alice.member.pk, coffee.pk]))
    with scopes_disabled():
        order = Order.objects.get()
    with scope(merchant=bob.merchant):
        bobs_item, bobs_order = bobs_reward_order(bob)
    assert wallet.post(reverse("wallet:reward-place",
                               args=[alice.member.pk, bobs_item.pk])).status_code == 404
    assert wallet.get(reverse("wallet:reward-picture",
                              args=[alice.member.pk, bobs_item.pk, 160])).status_code == 404
    assert wallet.post(reverse("wallet:reward-cancel",
                               args=[alice.member.pk, bobs_order.pk])).status_code == 404
    assert wallet.get(reverse("wallet:reward-order",
                              args=[alice.member.pk, bobs_order.pk])).status_code == 404
    assert wallet.get(reverse("wallet:reward-order",
                              args=[bob.member.pk, bobs_order.pk])).status_code == 404
    response = wallet.post(reverse("wallet:reward-cancel", args=[alice.member.pk, order.pk]))
    assert response.status_code == 302
    with scopes_disabled():
        order.refresh_from_db()
        account = Account.objects.get(member=alice.member)
    assert (order.status, account.available, account.held) == ("cancelled", 200, 0)
    assert ACTOR.kind == "cli"


def test_the_owner_changes_a_reward_and_the_counter_of_another_store_refuses_it(alice):
    with scope(merchant=alice.merchant):
        Shop(alice).buy(alice.member, 4_000)
        (coffee,) = add_items(alice.merchant, (("Coffee", 100),))
        other = Store.objects.create(merchant=alice.merchant, name="Station kiosk",
                                     created_at=clock.now())
    client = owner_of(alice)
    form = client.get(reverse("cabinet:reward-edit", args=[coffee.pk])).content.decode()
    assert 'value="1"' in form  # the price as the owner typed it: 1.00 shown as 1
    response = client.post(reverse("cabinet:reward-edit", args=[coffee.pk]), {
        "name": "Big coffee", "price": "1,5", "stores": [other.pk], "valid_hours": "2",
        "active": "on"})
    assert response.status_code == 302
    with scopes_disabled():
        coffee.refresh_from_db()
        assert (coffee.name, coffee.price, coffee.valid_hours, coffee.stock) == (
            "Big coffee", 150, 2, None)
        assert list(coffee.stores.values_list("name", flat=True)) == ["Station kiosk"]
    wallet = signed_in(alice.member.person)
    wallet.post(reverse("wallet:reward-place", args=[alice.member.pk, coffee.pk]))
    with scopes_disabled():
        order = Order.objects.get()
    at = at_counter(alice)  # a counter of the store "Main"
    page = at.client.get(reverse("cashier:reward-order", args=[order.pk])).content.decode()
    assert "Big coffee is handed over only at: Station kiosk." in page
    assert "data-hand-over" not in page
    refused = at.client.post(reverse("cashier:reward-hand-over", args=[order.pk]))
    assert refused.status_code == 409
    with scopes_disabled():
        order.refresh_from_db()
        assert order.status == "held"


def test_every_cabinet_reward_route_is_swept(alice, bob):
    """Each route of the cabinet's rewards (read from its URLconf): another merchant's item is
    a 404, a manager and a cashier get the 403 page, odd input is never a 500."""
    from kopilka.web.cabinet.views import rewards as views

    with scope(merchant=bob.merchant):
        bobs_item, _order = bobs_reward_order(bob)
    with scope(merchant=alice.merchant):
        (mine,) = add_items(alice.merchant, (("Coffee", 100),))
    owner = owner_of(alice)
    odd = {"name": "\x00" * 3, "price": "1e400", "stock": "-1", "valid_hours": "0",
           "stores": ["x"], "starts_on": "2026-13-45", "picture": "not a file"}
    lower = [staff_client(alice, role)[1] for role in (Staff.Role.MANAGER, Staff.Role.CASHIER)]
    for pattern in views.urlpatterns:
        route = str(pattern.pattern)
        kwargs = {"item_id": bobs_item.pk} if "item_id" in route else {}
        if "size" in route:
            kwargs["size"] = 160
        url = reverse(f"cabinet:{pattern.name}", kwargs=kwargs)
        expected = 404 if kwargs else 200
        assert owner.get(url).status_code == expected, url
        assert owner.post(url, odd).status_code in (404, 405) if kwargs else True
        for client in lower:
            assert client.get(url).status_code == 403, url
        if kwargs:
            kwargs["item_id"] = mine.pk
            url = reverse(f"cabinet:{pattern.name}", kwargs=kwargs)
        assert owner.post(url, odd).status_code in (302, 404, 405, 422), url
    with scopes_disabled():
        assert Item.objects.filter(merchant=alice.merchant).count() == 1
        bobs_item.refresh_from_db()
        assert bobs_item.name == "Bob's secret coffee"
