"""The start wizard's "café with a reward catalogue" (#16, Minter's): whole points, one for
every 300.00, and coffee 1 / donut 2 / cheesecake 3 in the catalogue, named in the merchant's
language."""

import pytest
from django_scopes import scopes_disabled

from kopilka.rewards.models import Item
from tests.cabinet.test_start import answers, saved_config, sign_up

pytestmark = pytest.mark.django_db


def test_the_reward_catalogue_cafe_sets_up_its_program_and_three_rewards():
    client, _response = sign_up()  # a Russian café
    data = answers(client, "rewards_cafe")
    summary = client.post("/cabinet/program/rewards_cafe/", {**data, "step": "summary"})
    assert summary.status_code == 200
    saved = client.post("/cabinet/program/rewards_cafe/", {**data, "step": "save"})
    assert saved.status_code == 302
    config = saved_config()
    tier = config.tiers[0]
    assert (config.points_precision, config.max_redeem_percent, config.welcome_bonus) == (0, 0, 1)
    assert (tier.accrual.kind, tier.accrual.points, tier.accrual.per) == ("per_amount", 1, 30000)
    assert (config.point_value.money, config.point_value.points) == (15000, 1)
    with scopes_disabled():
        assert list(Item.objects.order_by("price").values_list("name", "price")) == [
            ("Кофе", 1), ("Пончик", 2), ("Чизкейк", 3)]
    # Saving the template again leaves the catalogue the owner may have changed as it is.
    client.post("/cabinet/program/rewards_cafe/", {**data, "coffee": "5", "step": "save"})
    with scopes_disabled():
        assert Item.objects.count() == 3 and Item.objects.get(price=1).name == "Кофе"
