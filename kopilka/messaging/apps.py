from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MessagingConfig(AppConfig):
    name = "kopilka.messaging"
    label = "messaging"
    verbose_name = _("Messaging")

    def ready(self):
        from kopilka.messaging import notify  # noqa: F401  (subscribes to domain events)
        from kopilka.messaging.models import Settings
        from kopilka.tenancy import access

        # Every write asks whether the member gets a message (services.may_send): joined
        # where tenancy authenticates.
        access.provide(
            "messaging_settings", relation="messaging_settings",
            load=lambda merchant: Settings.objects.filter(merchant=merchant).first())
