from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebhooksConfig(AppConfig):
    name = "kopilka.webhooks"
    label = "webhooks"
    verbose_name = _("Webhooks")

    def ready(self):
        from kopilka.webhooks import subscribers  # noqa: F401  (subscribes to domain events)
