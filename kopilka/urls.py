from django.contrib import admin
from django.urls import include, path

from kopilka.api.urls import api
from kopilka.core.views import health

admin.site.site_header = "Kopilka"
admin.site.site_title = "Kopilka"

urlpatterns = [
    path("health", health, name="health"),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("", include("kopilka.messaging.urls")),
    path("cashier/", include("kopilka.web.cashier.urls")),
    path("cabinet/", include("kopilka.web.cabinet.urls")),
    path("my/", include("kopilka.web.wallet.urls")),
    path("m/", include("kopilka.web.wallet.links")),  # short sign-in links sent by SMS
    path("", include("kopilka.web.urls")),  # the root page, language switch, JS strings
]
