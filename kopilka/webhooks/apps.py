from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebhooksConfig(AppConfig):
    name = "kopilka.webhooks"
    label = "webhooks"
    verbose_name = _("Webhooks")

    def ready(self):
        from kopilka.tenancy import access
        from kopilka.webhooks import subscribers  # noqa: F401  (subscribes to domain events)
        from kopilka.webhooks.models import Subscription

        # Every write asks whether anyone listens (services.emit): joined where tenancy
        # authenticates, so a merchant without webhooks finds out without a query.
        access.provide(
            "webhook_subscription", relation="webhook_subscription",
            load=lambda merchant: Subscription.objects.filter(merchant=merchant).first())
