"""The shift: this device's and cashier's sales book, and its close; offline sales uploaded
when the network returns (docs/offline.md)."""

import json
from datetime import datetime

from django.contrib import messages
from django.http import Http404, JsonResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from kopilka.core.errors import DomainError, InvalidInput, NotFound
from kopilka.members import services as members
from kopilka.processing import sale as sales
from kopilka.processing import shifts
from kopilka.programs import services as programs
from kopilka.web.cashier.counter import counter_view
from kopilka.web.htmx import render_page

OFFLINE_PREFIX = "OFF-"  # receipt ids the device makes up while offline (offline.js)
MAX_UPLOAD = 200  # sales in one upload; the device sends the rest with the next one
MAX_AMOUNT = 10**12  # minor units: beyond any till


@require_http_methods(["GET", "HEAD", "POST"])
@counter_view("read_records")
def shift(request):
    """GET: the live shift and, after a close (?closed=<id>), its printable summary.
    POST: open the shift now ("Open shift")."""
    counter = request.counter
    actor = counter.principal.actor
    if request.method == "POST":
        shifts.open_shift(counter.terminal, counter.staff, actor)
        return redirect("cashier:shift")
    closed = summary = None
    if request.GET.get("closed"):
        try:
            closed, summary = shifts.closed_shift(counter.terminal, counter.staff,
                                                  int(request.GET["closed"]))
        except (ValueError, NotFound):
            raise Http404 from None
    book = shifts.current(counter.terminal, counter.staff, actor)
    return render_page(request, "cashier/shift.html", {
        "counter": counter, "book": book, "sales": book.purchases()[:500],
        "closed": closed, "closed_summary": summary,
        "program": programs.load(counter.merchant).config,
    })


@require_POST
@counter_view("read_records")
def close_shift(request):
    counter = request.counter
    try:
        closed = shifts.close_shift(counter.terminal, counter.staff, counter.principal.actor)
    except DomainError as error:
        messages.warning(request, error.detail)
        return redirect("cashier:shift")
    return redirect(f"{reverse('cashier:shift')}?closed={closed.pk}")


@require_POST
@counter_view("sell")
def offline_upload(request):
    """POST JSON {"sales": [{receipt_id, occurred_at, member, amount, payment_method}]}: the
    accrual-only sales this device kept while offline. Each is committed on its own with its
    own time (idempotent by its receipt id: a retry never sells twice) and answered
    {"results": [{receipt_id, status: "done"|"refused", reason?, points?}]}."""
    try:
        body = json.loads(request.body)
        sent = body["sales"]
        if not isinstance(sent, list):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        return JsonResponse({"error": _("The upload is not valid.")}, status=400)
    return JsonResponse({"results": [_upload(request.counter, entry)
                                      for entry in sent[:MAX_UPLOAD]]})


def _upload(counter, entry) -> dict:
    receipt_id = entry.get("receipt_id") if isinstance(entry, dict) else None
    if not isinstance(receipt_id, str) or not receipt_id.startswith(OFFLINE_PREFIX) \
            or len(receipt_id) > 100 or not receipt_id.isprintable():
        return {"receipt_id": str(receipt_id)[:100], "status": "refused",
                "reason": _("This is not a sale kept on the device.")}
    try:
        member = _member(counter.merchant, entry.get("member"))
        sale = sales.sale_from(
            [{"line_id": "1", "amount": _amount(entry.get("amount"))}],
            payment_method=_printable(entry.get("payment_method"))[:40],
            occurred_at=_moment(entry.get("occurred_at")),
            store=counter.store, cashier=counter.staff,
        )
        result = sales.commit_purchase(
            counter.merchant, member, sale, receipt_id=receipt_id,
            actor=counter.principal.actor, terminal=counter.terminal, store=counter.store,
            cashier=counter.staff,
        )
    except DomainError as error:
        reason = error.detail
        if error.field == "occurred_at":  # sale_time(): the device's clock was off
            reason = _("The device's clock was wrong when this sale was kept. Check the "
                       "clock, then drop the sale and sell it again.")
        return {"receipt_id": receipt_id, "status": "refused", "reason": reason}
    return {"receipt_id": receipt_id, "status": "done",
            "points": result.purchase.points_accrued}


def _member(merchant, typed):
    """The member a phone or a card number typed on the device names."""
    typed = _printable(typed).strip()[:64]
    if not typed:
        raise InvalidInput(_("Enter the member's phone or card number."), field="member")
    try:
        return members.find_member(merchant, phone=typed)
    except (InvalidInput, NotFound):
        pass
    try:
        return members.find_member(merchant, card=typed)
    except NotFound:
        raise NotFound(_("No member with this phone or card number.")) from None


def _printable(value) -> str:
    """Text from the device without control characters (a NUL would not reach PostgreSQL)."""
    return "".join(char for char in str(value or "") if char.isprintable())


def _amount(value) -> int:
    if type(value) is not int or not 0 < value <= MAX_AMOUNT:
        raise InvalidInput(_("The amount must be more than zero."), field="amount")
    return value


def _moment(value) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise InvalidInput(_("The time of sale is not valid."), field="time") from None


urlpatterns = [
    path("shift/", shift, name="shift"),
    path("shift/close/", close_shift, name="shift-close"),
    path("offline/", offline_upload, name="offline-upload"),
]
