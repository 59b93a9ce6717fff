"""Web push: subscribing the wallet, the VAPID public key (#15)."""

urlpatterns = []
