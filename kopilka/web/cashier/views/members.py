"""The counter's first screen and the member: find by phone, card or QR; register; the card."""

from django.urls import path
from django.views.decorators.http import require_safe

from kopilka.web.cashier.counter import counter_view
from kopilka.web.htmx import render_page


@require_safe
@counter_view("serve_members")
def home(request):
    return render_page(request, "cashier/home.html", {"counter": request.counter})


def find(request):  # GET ?q=: phone in any format, card number, QR token -> the card
    raise NotImplementedError


def member(request, member_id: int):  # the member card
    raise NotImplementedError


def register(request):  # new member: phone, name, birth date, one-time code, card
    raise NotImplementedError


def replace_card(request, member_id: int):  # a lost card replaced, the balance kept
    raise NotImplementedError


urlpatterns = [
    path("", home, name="home"),
    path("find/", find, name="find"),
    path("members/<int:member_id>/", member, name="member"),
    path("register/", register, name="register"),
    path("members/<int:member_id>/card/", replace_card, name="replace-card"),
]
