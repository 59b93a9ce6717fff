from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ProgramsConfig(AppConfig):
    name = "kopilka.programs"
    label = "programs"
    verbose_name = _("Loyalty programs")

    def ready(self):
        from kopilka.programs.models import Program
        from kopilka.tenancy import access

        # Nearly every request needs the program: joined where tenancy authenticates.
        access.provide("program", relation="program",
                       load=lambda merchant: Program.objects.filter(merchant=merchant).first())
