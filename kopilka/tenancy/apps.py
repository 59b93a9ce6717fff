from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TenancyConfig(AppConfig):
    name = "kopilka.tenancy"
    label = "tenancy"
    verbose_name = _("Merchants")

    def ready(self):
        from kopilka.tenancy import logins  # noqa: F401 (connects the lockout audit receiver)
