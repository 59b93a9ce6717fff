"""Every route of the cabinet's reviews part, read from its URL patterns: another merchant's
review id is a 404 (GET and POST, nothing changes), a cashier gets the 403 page, and odd input
never gives a 500. tests/cabinet/test_access.py leaves these routes to this sweep."""

from django.urls import reverse
from django_scopes import scope, scopes_disabled

from kopilka.feedback.models import Review
from kopilka.tenancy.models import Staff
from tests.cabinet.tools import owner_of, staff_client
from tests.feedback.helpers import member, rate, reviews_on
from tests.shop import Shop


def _module():
    from kopilka.web.cabinet.views import reviews
    return reviews


def swept() -> set[str]:
    """The route names this sweep covers."""
    return {pattern.name for pattern in _module().urlpatterns}


def _ids(tenant) -> dict[str, int]:
    with scope(merchant=tenant.merchant):
        shop = Shop(tenant)
        reviews_on(tenant.merchant)
        return {"review_id": rate(shop, member(shop), 4).pk}


def _urls(ids: dict[str, int]) -> list[tuple[str, str]]:
    return [(pattern.name, reverse(f"cabinet:{pattern.name}",
                                   kwargs={name: ids[name] for name in pattern.pattern.converters}))
            for pattern in _module().urlpatterns]


ODD = {"action": "status", "status": "\x00", "text": "\x00" * 3, "assigned": "1e400",
       "score": "9", "store": "x", "since": "2030-13-45", "delay_minutes": "-1",
       "once_per_days": "1e400", "alert_score": "\x00", "page": "-1"}


def test_another_merchants_review_is_404_on_every_route(alice, bob):
    ids = _ids(alice)
    client = owner_of(bob)
    for name, url in _urls(ids):
        if any(f"/{value}/" in url for value in ids.values()):
            assert client.get(url).status_code == 404, (name, url)
            assert client.post(url, ODD).status_code == 404, (name, url)
        else:
            assert client.get(url).status_code == 200, (name, url)
    with scopes_disabled():
        review = Review.objects.get(pk=ids["review_id"])
        assert (review.status, review.assigned_id) == ("new", None)


def test_a_cashier_gets_403_on_every_route(alice):
    ids = _ids(alice)
    _staff, client = staff_client(alice, Staff.Role.CASHIER)
    for name, url in _urls(ids):
        assert client.get(url).status_code == 403, (name, url)
        assert client.post(url, ODD).status_code in (403, 405), (name, url)


def test_odd_input_never_gives_500(alice):
    ids = _ids(alice)
    client = owner_of(alice)
    for name, url in _urls(ids):
        assert client.get(url, ODD).status_code in (200, 422), (name, url)
        assert client.post(url, ODD).status_code in (302, 405, 409, 422), (name, url)
