"""Referrals (CMP-3): personal codes and links, the newcomer's gift, the referrer's reward
(one level or several) written in the sale's own transaction, reversed by refunds;
invite-only programs."""
from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReferralsConfig(AppConfig):
    name = "kopilka.referrals"
    label = "referrals"
    verbose_name = _("Referrals")

    def ready(self):
        from kopilka.ledger import causes
        from kopilka.referrals import subscribers  # noqa: F401  (subscribes to domain events)

        causes.register("referral", "referrals.Reward id: a referral reward or the newcomer's "
                                    "gift, and its reversal by a refund")
