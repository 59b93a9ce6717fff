from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CodesConfig(AppConfig):
    name = "kopilka.codes"
    label = "codes"
    verbose_name = _("One-time codes")
