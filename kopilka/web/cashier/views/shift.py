"""The shift: this device's and cashier's sales book for today, and its close."""

from django.urls import path
from django.views.decorators.http import require_safe

from kopilka.web.cashier.counter import counter_view
from kopilka.web.htmx import render_page


@require_safe
@counter_view("read_records")
def shift(request):
    return render_page(request, "cashier/shift.html", {"counter": request.counter})


urlpatterns = [
    path("shift/", shift, name="shift"),
]
