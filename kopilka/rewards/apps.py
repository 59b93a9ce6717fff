from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RewardsConfig(AppConfig):
    name = "kopilka.rewards"
    label = "rewards"
    verbose_name = _("Reward catalogue")

    def ready(self):
        from kopilka.ledger import causes

        causes.register("reward_order", "rewards.Order id: the points a reward order held "
                                        "and then spent")
