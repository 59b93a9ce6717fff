from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "kopilka.analytics"
    label = "analytics"
    verbose_name = _("Analytics")

    def ready(self):
        from kopilka.analytics import rollup  # noqa: F401  (subscribes to domain events)
