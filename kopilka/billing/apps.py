from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    name = "kopilka.billing"
    label = "billing"
    verbose_name = _("Billing")

    def ready(self):
        # The tick charges the subscriptions that are due (once per merchant and local day).
        from kopilka.automation import tick
        from kopilka.billing import limits, tasks

        tick.register("billing days charged", tasks.run)
        # The plan's limits, checked where stores and members are created (tenancy.limits);
        # the tick's job above also warns the owners of an excess once a day.
        limits.install()
