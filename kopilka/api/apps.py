from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApiConfig(AppConfig):
    name = "kopilka.api"
    label = "api"
    verbose_name = _("API")

    def ready(self):
        # The tick purges old idempotency records; the API registers the job because
        # automation sits below the API and must not import it (docs/architecture.md).
        from kopilka.api import idempotency
        from kopilka.automation import tick

        tick.register("idempotency records purged", lambda at: idempotency.purge(now=at))
