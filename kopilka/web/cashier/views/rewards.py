"""Handing over a reward order: scan its QR, see the item and the member, hand it over (#18)."""

urlpatterns = []
