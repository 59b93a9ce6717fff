"""/my/: the member wallet (included from kopilka/urls.py)."""

from kopilka.web.wallet import views

app_name = "wallet"
urlpatterns = views.urlpatterns
