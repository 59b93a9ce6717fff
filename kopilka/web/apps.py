from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebConfig(AppConfig):
    name = "kopilka.web"
    label = "web"
    verbose_name = _("Web")

    def ready(self):
        from kopilka.web import ops, places

        places.register_foundation_places()
        ops.subscribe()
