"""Selling at the counter: the sale with a live quote and points, refunds, manual grants."""

from django.urls import path


def sale(request, member_id: int):  # GET the form, POST commit (idempotent per action)
    raise NotImplementedError


def quote(request, member_id: int):  # the live quote as the cashier types (htmx, debounced)
    raise NotImplementedError


def refund(request, purchase_id: int):  # whole, by lines or an amount
    raise NotImplementedError


def adjust(request, member_id: int):  # grant or deduct by hand within the allowance
    raise NotImplementedError


urlpatterns = [
    path("members/<int:member_id>/sale/", sale, name="sale"),
    path("members/<int:member_id>/sale/quote/", quote, name="quote"),
    path("purchases/<int:purchase_id>/refund/", refund, name="refund"),
    path("members/<int:member_id>/adjust/", adjust, name="adjust"),
]
