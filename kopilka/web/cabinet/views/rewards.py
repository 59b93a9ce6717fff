"""The reward catalogue's items and orders (#18)."""

urlpatterns = []
