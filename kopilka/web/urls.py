from django.urls import include, path
from django.views.i18n import JavaScriptCatalog

from kopilka.web import ops, views

urlpatterns = [
    path("", views.home, name="home"),
    path("metrics", ops.metrics_view, name="metrics"),  # Prometheus (docs/operations.md)
    path("i18n/", include("django.conf.urls.i18n")),  # set_language, for the header's switch
    # The few strings static/web/app.js shows, from the djangojs catalogues.
    path("jsi18n/", JavaScriptCatalog.as_view(domain="djangojs"), name="javascript-catalog"),
]
