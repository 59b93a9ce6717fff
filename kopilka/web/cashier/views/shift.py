"""The shift: this device's and cashier's sales book for today, and its close; offline sales
uploaded when the network returns."""

from django.urls import path
from django.views.decorators.http import require_safe

from kopilka.web.cashier.counter import counter_view
from kopilka.web.htmx import render_page


@require_safe
@counter_view("read_records")
def shift(request):
    return render_page(request, "cashier/shift.html", {"counter": request.counter})


def close_shift(request):
    raise NotImplementedError


def offline_upload(request):  # POST JSON: accrual-only sales kept on the device while offline
    raise NotImplementedError


urlpatterns = [
    path("shift/", shift, name="shift"),
    path("shift/close/", close_shift, name="shift-close"),
    path("offline/", offline_upload, name="offline-upload"),
]
