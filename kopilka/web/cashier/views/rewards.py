"""Handing over a reward order (#18): the cashier scans the order's QR (camera or scanner: the
counter's search field sends an order code here) or types its code, sees the item and the
member, and hands it over — the held points are spent then. Refusals say why: expired,
already handed over, cancelled, another store, out of stock."""

from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.views.decorators.http import require_POST, require_safe

from kopilka.core.errors import DomainError, NotFound
from kopilka.core.phones import mask_phone
from kopilka.programs import services as programs
from kopilka.rewards import pictures
from kopilka.rewards import services as rewards
from kopilka.rewards.models import Order
from kopilka.web.cashier.counter import counter_view
from kopilka.web.htmx import render_page


def go_to_order(request, code: str) -> HttpResponse:
    """The counter's search got an order code: open that order (a full page, also for htmx)."""
    try:
        found = rewards.order_of(request.counter.merchant, code=code)
    except NotFound:
        url = reverse("cashier:reward-missing") + "?code=" + rewards.normalise_code(code)[:20]
    else:
        url = reverse("cashier:reward-order", args=[found.pk])
    if getattr(request, "htmx", False):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


def _order_or_404(request, order_id: int) -> Order:
    try:
        return rewards.order_of(request.counter.merchant, pk=order_id)
    except NotFound:
        raise Http404 from None


def _page(request, order: Order, *, problem: str = "", status: int = 200):
    counter = request.counter
    member = order.member
    phone = str(member.person.phone) if member.person.phone else ""
    if member.phone_hidden:
        phone = f"@{member.person.alias}" if member.person.alias else ""
    elif not counter.principal.sees_full_phones:
        phone = mask_phone(phone)
    if not problem:
        problem = rewards.refusal(order, counter.store) or ""
    return render_page(request, "cashier/rewards_order.html", {
        "counter": counter, "order": order, "member": member, "phone": phone,
        "name": " ".join(filter(None, [member.first_name, member.last_name])),
        "program": programs.load(counter.merchant).config, "problem": problem,
    }, status=status)


@require_safe
@counter_view("sell")
def order_page(request, order_id: int):
    order = _order_or_404(request, order_id)
    rewards.expire_lapsed(request.counter.merchant, order.member)
    order.refresh_from_db()
    return _page(request, order)


@require_POST
@counter_view("sell")
def hand_over(request, order_id: int):
    order = _order_or_404(request, order_id)
    counter = request.counter
    try:
        rewards.hand_over(counter.merchant, order, store=counter.store, staff=counter.staff,
                          actor=counter.principal.actor)
    except DomainError as error:
        order.refresh_from_db()
        return _page(request, order, problem=str(error.detail), status=409)
    return redirect("cashier:reward-order", order.pk)


@require_safe
@counter_view("sell")
def missing(request):
    return render_page(request, "cashier/rewards_missing.html", {
        "counter": request.counter, "code": request.GET.get("code", "")[:20]}, status=404)


@require_safe
@counter_view("sell")
def picture(request, item_id: int, size: int):
    try:
        item = rewards.item_of(request.counter.merchant, item_id)
    except NotFound:
        raise Http404 from None
    found = pictures.open_picture(item.merchant_id, item.picture, size)
    if found is None:
        raise Http404
    return FileResponse(found, content_type=pictures.CONTENT_TYPE)


urlpatterns = [
    path("rewards/orders/<int:order_id>/", order_page, name="reward-order"),
    path("rewards/orders/<int:order_id>/hand-over/", hand_over, name="reward-hand-over"),
    path("rewards/orders/missing/", missing, name="reward-missing"),
    path("rewards/items/<int:item_id>/picture/<int:size>/", picture, name="reward-picture"),
]
