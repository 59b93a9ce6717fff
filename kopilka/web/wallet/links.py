"""/m/<token>: the sign-in link an SMS carries, kept short at the site root (an SMS part is
70 Cyrillic characters; every one counts)."""

from django.urls import path

from kopilka.web.wallet import views

app_name = "wallet-link"
urlpatterns = [path("<str:token>", views.link, name="link")]
