from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CabinetConfig(AppConfig):
    name = "kopilka.web.cabinet"
    label = "cabinet"
    verbose_name = _("Merchant cabinet")

    def ready(self):
        from kopilka.web import places

        places.register(places.Place(
            key="cabinet-signup", url_name="cabinet:signup", order=5,
            title=_("Start a loyalty program"),
            description=_("Sign up your business: a program from a template, a store, a "
                          "cashier and a first sale in a few minutes."),
            visible=lambda request: not request.user.is_authenticated,
        ))
        places.register(places.Place(
            key="cabinet", url_name="cabinet:home", order=15,
            title=_("Merchant cabinet"),
            description=_("Your program, stores and staff."),
        ))
