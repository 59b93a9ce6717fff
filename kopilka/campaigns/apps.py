from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "kopilka.campaigns"
    label = "campaigns"
    verbose_name = _("Campaigns")

    def ready(self):
        from kopilka.automation import tick
        from kopilka.campaigns import offers, promo  # noqa: F401  (promo subscribes to sales)
        from kopilka.ledger import causes

        # The safety net of an offer whose sending task was lost: one batch of each stalled one.
        tick.register("offers resumed", lambda at: offers.resume_due(at))

        causes.register("campaign_code", "campaigns.Activation id: a secret code's points")
        causes.register("offer", "campaigns.OfferRecipient id: a targeted offer's gift")
