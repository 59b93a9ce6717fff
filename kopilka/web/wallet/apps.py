from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WalletConfig(AppConfig):
    name = "kopilka.web.wallet"
    label = "wallet"
    verbose_name = _("Member wallet")

    def ready(self):
        from kopilka.messaging import links
        from kopilka.web import places
        from kopilka.web.wallet import signin

        # {link} in a member's message: a sign-in link to their wallet (docs/wallet.md).
        links.register(signin.wallet_link)

        places.register(places.Place(
            key="wallet", url_name="wallet:home", order=20,
            title=_("My cards"),
            description=_("Your loyalty cards at every shop, your points and their history."),
        ))
