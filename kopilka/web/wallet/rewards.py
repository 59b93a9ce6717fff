"""The reward catalogue in the wallet (#18): what the member can get now apart from what needs
more points (and how many), ordering one (its price held), the order's QR for the cashier,
and cancelling it (the points back)."""

import secrets

from django.contrib import messages
from django.http import FileResponse, Http404
from django.shortcuts import redirect
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from kopilka.core.errors import DomainError, NotFound
from kopilka.processing import wallet as cards
from kopilka.rewards import pictures
from kopilka.rewards import services as rewards
from kopilka.rewards.models import Order
from kopilka.web.htmx import render_page
from kopilka.web.wallet.person import as_member, own_member, wallet_view
from kopilka.web.wallet.person import tabs as _tabs

RECENT_ORDERS = 10


@require_safe
@wallet_view
def catalogue(request, member_id: int):
    member = own_member(request, member_id)
    with as_member(request, member):
        merchant = member.merchant
        rewards.expire_lapsed(merchant, member)
        summary = cards.summary(member)
        affordable, later = rewards.catalogue(merchant, summary.available)
        open_orders = list(rewards.orders_of(merchant, member)
                           .filter(status=Order.Status.HELD)[:RECENT_ORDERS])
    return render_page(request, "wallet/rewards.html", {
        "member": member, "summary": summary, "affordable": affordable, "later": later,
        "order_key": secrets.token_urlsafe(16),
        "open_orders": open_orders, "tabs": _tabs(request, "card", member),
    })


@require_POST
@wallet_view
def order(request, member_id: int, item_id: int):
    member = own_member(request, member_id)
    with as_member(request, member) as actor:
        try:
            placed = rewards.place_order(member.merchant, member, item_id, actor=actor,
                                         key=request.POST.get("key", ""))
        except NotFound:
            raise Http404 from None
        except DomainError as error:
            messages.error(request, str(error.detail))
            return redirect("wallet:rewards", member.pk)
    return redirect("wallet:reward-order", member.pk, placed.pk)


def _own_order(member, order_id: int) -> Order:
    found = Order.objects.filter(merchant=member.merchant, member=member,
                                 pk=order_id).select_related("item").first()
    if found is None:
        raise Http404
    return found


@require_safe
@wallet_view
def order_page(request, member_id: int, order_id: int):
    member = own_member(request, member_id)
    with as_member(request, member):
        found = _own_order(member, order_id)
        if rewards.expire_lapsed(member.merchant, member):
            found.refresh_from_db()
        summary = cards.summary(member)
    return render_page(request, "wallet/rewards_order.html", {
        "member": member, "order": found, "summary": summary,
        "tabs": _tabs(request, "card", member),
    })


@require_POST
@wallet_view
def cancel(request, member_id: int, order_id: int):
    member = own_member(request, member_id)
    with as_member(request, member) as actor:
        found = _own_order(member, order_id)
        try:
            rewards.cancel_order(member.merchant, found, actor=actor)
        except DomainError as error:
            messages.error(request, str(error.detail))
            return redirect("wallet:reward-order", member.pk, found.pk)
    messages.success(request, _("The order is cancelled: your points are back."))
    return redirect("wallet:rewards", member.pk)


@require_safe
@wallet_view
def picture(request, member_id: int, item_id: int, size: int):
    member = own_member(request, member_id)
    with as_member(request, member):
        try:
            item = rewards.item_of(member.merchant, item_id)
        except NotFound:
            raise Http404 from None
        found = pictures.open_picture(item.merchant_id, item.picture, size)
    if found is None:
        raise Http404
    response = FileResponse(found, content_type=pictures.CONTENT_TYPE)
    response["Cache-Control"] = "private, max-age=86400"
    return response


urlpatterns = [
    path("shops/<int:member_id>/rewards/", catalogue, name="rewards"),
    path("shops/<int:member_id>/rewards/<int:item_id>/order/", order, name="reward-place"),
    path("shops/<int:member_id>/rewards/<int:item_id>/picture/<int:size>/", picture,
         name="reward-picture"),
    path("shops/<int:member_id>/orders/<int:order_id>/", order_page, name="reward-order"),
    path("shops/<int:member_id>/orders/<int:order_id>/cancel/", cancel,
         name="reward-cancel"),
]
