from django.urls import include, path

from kopilka.web import catalogue, ops, views

urlpatterns = [
    path("", views.home, name="home"),
    path("metrics", ops.metrics_view, name="metrics"),  # Prometheus (docs/operations.md)
    path("i18n/", include("django.conf.urls.i18n")),  # set_language, for the header's switch
    # The few strings our scripts show, from the djangojs catalogues; the stamp makes it
    # cacheable (kopilka/web/catalogue.py).
    path("jsi18n/<str:stamp>/", catalogue.catalogue_view, name="javascript-catalog"),
]
