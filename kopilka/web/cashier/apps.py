from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CashierConfig(AppConfig):
    name = "kopilka.web.cashier"
    label = "cashier"
    verbose_name = _("Cashier workplace")

    def ready(self):
        from kopilka.web import places

        places.register(places.Place(
            key="cashier", url_name="cashier:home", order=10,
            title=_("Cashier workplace"),
            description=_("Find a member, sell with points, refund, close the shift."),
        ))
