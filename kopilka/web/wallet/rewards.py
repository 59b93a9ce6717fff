"""The reward catalogue in the wallet: affordable items apart, orders with their QR (#18)."""

urlpatterns = []
