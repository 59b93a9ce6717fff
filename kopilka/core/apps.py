from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "kopilka.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self):
        from django.db.backends.signals import connection_created
        from django.db.models.signals import post_migrate

        from kopilka.core import rls

        connection_created.connect(rls.on_connection_created)
        post_migrate.connect(rls.on_post_migrate)
