"""Every route of the cashier workplace that names a member or a purchase answers 404 to
another merchant's id, for GET and POST (the tenant boundary, kopilka/web/cashier/urls.py).

The routes are read from the URLconf, so a new route is swept (or must be listed as naming no
object) without anyone remembering to add it here. A closed shift named by `?closed=<id>` is
swept in test_shift.py."""

import re

import pytest
from django.urls import reverse
from django_scopes import scope

from kopilka.web.cashier import urls
from tests.cashier.tools import at_counter
from tests.rewards.tools import bobs_reward_order
from tests.shop import Shop

pytestmark = pytest.mark.django_db

# Routes that name no member or purchase: nothing of another merchant's to reach by id.
NO_OBJECT = {"home", "find", "register", "device", "switch", "pin", "lock", "device-sign-out",
             "shift", "shift-close", "offline-upload", "reward-missing"}
ROUTES = [(pattern.name, str(pattern.pattern)) for pattern in urls.urlpatterns]
OBJECT_ROUTES = [(name, route) for name, route in ROUTES if name not in NO_OBJECT]


def test_every_route_is_swept_or_names_no_object():
    for name, route in ROUTES:
        names_object = bool(re.search(r"<int:(member|purchase|order|item)_id>", route))
        assert names_object == (name not in NO_OBJECT), (name, route)


@pytest.fixture
def bobs(bob):
    """Bob's member, a purchase of theirs, a reward and its order."""
    with scope(merchant=bob.merchant):
        purchase = Shop(bob).buy(bob.member, 10_000).purchase
        item, order = bobs_reward_order(bob)
    return {"member_id": bob.member.pk, "purchase_id": purchase.pk, "order_id": order.pk,
            "item_id": item.pk, "size": 160}


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("name", [name for name, _route in OBJECT_ROUTES])
def test_another_merchants_ids_are_404(alice, bobs, name, method):
    route = dict(OBJECT_ROUTES)[name]
    kwargs = {key: bobs[key] for key in re.findall(r"<int:(\w+)>", route)}
    at = at_counter(alice)
    url = reverse(f"cashier:{name}", kwargs=kwargs)
    for headers in ({}, {"HX-Request": "true"}):
        response = getattr(at.client, method)(url, {}, headers=headers)
        assert response.status_code in (404, 405), (url, method, response.status_code)
        if response.status_code == 405:  # the route takes no such method: try the other one
            assert method not in response["Allow"].lower()
        else:
            assert b"Bob" not in response.content
