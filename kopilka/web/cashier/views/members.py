"""The counter's first screen and the member: find by phone, card or QR; register; the card."""

from django.urls import path
from django.views.decorators.http import require_safe

from kopilka.web.cashier.counter import counter_view
from kopilka.web.htmx import render_page


@require_safe
@counter_view("serve_members")
def home(request):
    return render_page(request, "cashier/home.html", {"counter": request.counter})


urlpatterns = [
    path("", home, name="home"),
]
