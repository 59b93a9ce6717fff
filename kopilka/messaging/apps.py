from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MessagingConfig(AppConfig):
    name = "kopilka.messaging"
    label = "messaging"
    verbose_name = _("Messaging")

    def ready(self):
        from kopilka.messaging import notify  # noqa: F401  (subscribes to domain events)
