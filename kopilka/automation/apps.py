from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AutomationConfig(AppConfig):
    name = "kopilka.automation"
    label = "automation"
    verbose_name = _("Automation")

    def ready(self):
        from kopilka.ledger import causes

        # The daily jobs' gifts, and what each cause id names (ledger/causes.py).
        causes.register("birthday", "'<members.Member id>:<year>': the birthday gift")
        causes.register("relative_birthday",
                        "'<members.Relative id>:<year>': a relative's birthday gift")
        causes.register("winback", "automation.WinbackContact id: an inactivity chain's gift")
