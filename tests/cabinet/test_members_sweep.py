"""Every route of the cabinet's members and sales parts, read from their URL patterns: another
merchant's member, segment or purchase id is a 404 (GET and POST, nothing changes), a cashier
gets the 403 page, and odd input never gives a 500."""

import pytest
from django.urls import reverse
from django_scopes import scope, scopes_disabled

from kopilka.core.actor import Actor
from kopilka.members import segments
from kopilka.members.models import Member, Segment
from kopilka.tenancy.models import Staff
from tests.cabinet.tools import owner_of, staff_client
from tests.shop import Shop


def _modules():
    from kopilka.web.cabinet.views import billing, members, members_page, sales
    return (members, members_page, sales, billing)


def swept() -> set[str]:
    """The route names this sweep covers (tests/cabinet/test_access.py leaves them to it)."""
    return {pattern.name for module in _modules() for pattern in module.urlpatterns}


def _ids(tenant) -> dict[str, int]:
    with scope(merchant=tenant.merchant):
        shop = Shop(tenant)
        purchase = shop.buy(tenant.member, 10000).purchase
        segment = segments.save_segment(tenant.merchant, name="All", filters={"find": "a"},
                                        by=tenant.owner, actor=Actor.cli())
    return {"member_id": tenant.member.pk, "segment_id": segment.pk,
            "purchase_id": purchase.pk}


def _urls(ids: dict[str, int]) -> list[tuple[str, str]]:
    urls = []
    for module in _modules():
        for pattern in module.urlpatterns:
            args = {name: ids[name] for name in pattern.pattern.converters}
            urls.append((pattern.name, reverse(f"cabinet:{pattern.name}", kwargs=args)))
    return urls


ODD = {"name": "\x00", "query": "spend_min=1e400&before=-1", "member": ["-1", "x"],
       "tag": "x" * 500, "action": "add", "points": "1e400", "direction": "grant",
       "reason": "\x00", "key": "k", "tier": "nope", "card": "0", "number": "\x00",
       "tags": "x" * 900, "blocked": "1"}


def test_another_merchants_ids_are_404_on_every_route(alice, bob):
    ids = _ids(alice)
    client = owner_of(bob)
    for name, url in _urls(ids):
        if any(str(value) in url for value in ids.values()):
            assert client.get(url).status_code in (404, 405), (name, url)
            assert client.post(url, ODD).status_code in (404, 405), (name, url)
        else:
            assert client.get(url).status_code in (200, 405), (name, url)
    with scopes_disabled():
        member = Member.objects.get(pk=alice.member.pk)
        assert (member.status, member.tags, member.first_name) == ("active", [], "Alice Coffee")
        assert Segment.objects.filter(merchant=alice.merchant).count() == 1


@pytest.mark.parametrize("role", [Staff.Role.CASHIER])
def test_a_cashier_gets_403_on_every_route(alice, role):
    ids = _ids(alice)
    _staff, client = staff_client(alice, role)
    for name, url in _urls(ids):
        response = client.get(url)
        assert response.status_code in (403, 405), (name, url)
        assert client.post(url, ODD).status_code in (403, 405), (name, url)


def test_odd_input_never_gives_500(alice):
    ids = _ids(alice)
    client = owner_of(alice)
    for name, url in _urls(ids):
        assert client.get(url, {k: v for k, v in ODD.items() if k != "member"}
                          ).status_code in (200, 302, 404, 405, 422), (name, url)
        assert client.post(url, ODD).status_code in (200, 302, 404, 405, 422), (name, url)
