from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "kopilka.campaigns"
    label = "campaigns"
    verbose_name = _("Campaigns")

    def ready(self):
        from kopilka.ledger import causes

        causes.register("campaign_code", "campaigns.Activation id: a secret code's points")
        causes.register("offer", "campaigns.OfferRecipient id: a targeted offer's gift")
