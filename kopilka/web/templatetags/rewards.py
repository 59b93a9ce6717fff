"""{% has_rewards merchant as on %}: whether the merchant offers rewards now (one EXISTS
query), so the wallet's card links to the catalogue only where there is one."""

from django import template
from django_scopes import scope

from kopilka.rewards import services as rewards

register = template.Library()


@register.simple_tag
def has_rewards(merchant) -> bool:
    with scope(merchant=merchant):  # pages may render after their view left the scope
        return rewards.on_offer(merchant).exists()
