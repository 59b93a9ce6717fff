"""/my/: the member wallet (included from kopilka/urls.py); each part keeps its own routes."""

from kopilka.web.wallet import activate, brand, invite, push, review, rewards, views

app_name = "wallet"
urlpatterns = [
    *views.urlpatterns,  # sign-in, the card, shops, history, settings, sending, joining, alias
    *review.urlpatterns,  # reviews of purchases and their dialogs
    *activate.urlpatterns,  # secret codes
    *rewards.urlpatterns,  # the reward catalogue and orders
    *invite.urlpatterns,  # referral codes and invitations
    *push.urlpatterns,  # web push subscriptions
    *brand.urlpatterns,  # the merchant's colour and logo
]
