"""/cashier/: each part of the workplace keeps its own routes next to its views."""

from kopilka.web.cashier.views import members, rewards, sales, shift, signin
from kopilka.web.wallet import cardlink

app_name = "cashier"
urlpatterns = [
    *members.urlpatterns,  # "" (the counter: search), member cards, registration, cards
    *signin.urlpatterns,  # the device sign-in, the cashier switch with a PIN
    *sales.urlpatterns,  # sale with a live quote, refunds, manual grants
    *shift.urlpatterns,  # the shift's sales book and its close; offline uploads
    *rewards.urlpatterns,  # reward orders handed over at the counter
    *cardlink.urlpatterns,  # the member's wallet link by SMS (the wallet's, MSG-2)
]
