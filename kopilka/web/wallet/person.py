"""`wallet_view`: every wallet page runs for the signed-in person (request.person) or sends
the device to sign in; `as_member` reads one membership inside its own merchant's scope."""

from collections.abc import Iterator
from contextlib import contextmanager
from functools import wraps

from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from kopilka.core.actor import Actor
from kopilka.core.errors import NotFound
from kopilka.members import wallet
from kopilka.members.models import Member
from kopilka.processing import wallet as cards
from kopilka.tenancy import access
from kopilka.tenancy.logins import client_ip
from kopilka.web.wallet import signin


def wallet_view(view):
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        person = signin.person_of(request)
        if person is None:
            url = reverse("wallet:signin")
            if getattr(request, "htmx", False):
                response = HttpResponse(status=204)
                response["HX-Redirect"] = url
                return response
            return redirect(url)
        request.person = person
        return view(request, *args, **kwargs)

    return wrapped


def own_member(request, member_id) -> Member:
    """One of the signed-in person's memberships; 404 for anyone else's."""
    try:
        return wallet.membership(request.person, member_id)
    except NotFound:
        raise Http404 from None


def shown(request) -> list[Member]:
    """The signed-in person's memberships as the card and shop pages show them: each with its
    account and its merchant's program joined, so that `processing.wallet.summaries` reads
    nothing more per membership."""
    return wallet.memberships(request.person, joined=cards.joins())


def pick(memberships: list[Member], member_id: int) -> Member:
    """The membership `member_id` among the person's own; 404 for anyone else's."""
    for member in memberships:
        if member.pk == member_id:
            return member
    raise Http404


@contextmanager
def as_member(request, member: Member) -> Iterator[Actor]:
    """Work as the member at their merchant: that merchant's scope, its time zone; yields the
    member's actor for the audit log."""
    principal = access.Principal.for_member(member, ip=client_ip(request))
    with access.enter(principal):
        timezone.activate(member.merchant.timezone)
        try:
            yield principal.actor
        finally:
            timezone.deactivate()


def tabs(request, current: str, member: Member | None = None) -> list[dict]:
    """The wallet's tabs: the card (of `member`, else the first), the shops, the alias."""
    card_url = (reverse("wallet:card", args=[member.pk]) if member is not None
                else reverse("wallet:home"))
    return [
        {"url": card_url, "label": _("Card"), "current": current == "card"},
        {"url": reverse("wallet:shops"), "label": _("My shops"), "current": current == "shops"},
        {"url": reverse("wallet:alias"), "label": _("Alias"), "current": current == "alias"},
    ]
