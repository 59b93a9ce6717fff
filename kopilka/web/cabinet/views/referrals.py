"""Referral settings and figures (#18)."""

urlpatterns = []
