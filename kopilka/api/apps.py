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
        from kopilka.members import services as members

        tick.register("idempotency records purged", lambda at: idempotency.purge(now=at))
        # The counter look-ups join the member's points account: the POS answers with the
        # balance, and processing (`_account`) uses the joined row instead of another query.
        # Registered by its reader, not named by members (members sits below the ledger).
        members.join_at_the_counter("account")
