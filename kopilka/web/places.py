"""The places the root page offers: each browser face registers itself here.

A face (the cashier workplace, the merchant cabinet, the member wallet) calls `register()` from
its AppConfig.ready() with the name of its entry URL and who may see it. The root page lists the
registered places the current visitor may use, in registration order by `order`; nothing is
listed for a place whose URL is not installed, so the page never links to a missing page.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


def everyone(request: HttpRequest) -> bool:
    return True


def superusers(request: HttpRequest) -> bool:
    return request.user.is_authenticated and request.user.is_superuser


@dataclass(frozen=True)
class Place:
    key: str  # unique; a second registration with the same key replaces the first
    url_name: str  # reversed without arguments
    title: str | Promise
    description: str | Promise
    visible: Callable[[HttpRequest], bool] = everyone
    order: int = 100  # lower first: the faces use 10-30, the operator's tools 90+


@dataclass(frozen=True)
class Entry:
    place: Place
    url: str


_places: dict[str, Place] = {}


def register(place: Place) -> None:
    _places[place.key] = place


def for_request(request: HttpRequest) -> list[Entry]:
    """The places this visitor may use, with their URLs."""
    entries = []
    for place in sorted(_places.values(), key=lambda p: (p.order, p.key)):
        try:
            url = reverse(place.url_name)
        except NoReverseMatch:
            continue
        if place.visible(request):
            entries.append(Entry(place=place, url=url))
    return entries


def register_foundation_places() -> None:
    register(Place(
        key="operator-admin", url_name="admin:index", visible=superusers, order=90,
        title=_("Operator admin"),
        description=_("Merchants, staff, programs and the audit log of the whole installation."),
    ))
    register(Place(
        key="api-docs", url_name="api:openapi-view", order=95,
        title=_("API documentation"),
        description=_("The HTTP API for cash registers, online shops and integrations."),
    ))
