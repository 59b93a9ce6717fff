"""Activating a secret code: typed, scanned, or from the QR link under the cap (#18)."""

urlpatterns = []
