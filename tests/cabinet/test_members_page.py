"""A member's page in the cabinet (#16): what it shows, exactly, and its actions by role, each
through the service the API calls; bad input is a form error in the user's language."""

import re

import pytest
from django.urls import reverse
from django_scopes import scope, scopes_disabled

from kopilka.core.actor import Actor
from kopilka.ledger.models import Account
from kopilka.members import services as members
from kopilka.members.models import Card, Member
from kopilka.processing import manual
from kopilka.tenancy.models import Staff
from tests.cabinet.tools import owner_of, staff_client
from tests.shop import Shop


def _anna(alice):
    """Anna: 50 welcome points, then 1 000.00 and 300.00 bought (5 %: 50.00 and 15.00)."""
    with scope(merchant=alice.merchant):
        shop = Shop(alice).program(welcome_bonus=5000,
                                   expiry={"mode": "after_accrual", "days": 365})
        anna = shop.join("+79990000031", first_name="Anna", last_name="Petrova")
        shop.buy(anna, 100000, receipt="R-100")
        shop.buy(anna, 30000, receipt="R-101")
    return anna


def _balance(member) -> int:
    with scopes_disabled():
        return Account.objects.get(member=member).available


def _url(name, member):
    return reverse(f"cabinet:{name}", args=[member.pk])


def test_the_page_shows_balance_lots_history_and_purchases(alice):
    anna = _anna(alice)
    page = owner_of(alice).get(_url("member", anna)).content.decode()
    assert "Anna Petrova" in page and "+79990000031" in page
    balance = re.search(r'data-balance>.*?figure__value">([^<]+)<', page, re.S).group(1)
    assert balance == "115\xa0bonuses"
    lots = re.findall(r'<span class="row__value">([^<]+)</span></li>',
                      page.split("data-lots")[1].split("</ul>")[0])
    assert lots == ["50\xa0bonuses", "50\xa0bonuses", "15\xa0bonuses"]
    history = page.split("data-history")[1].split("</table>")[0]
    assert history.count("<tr>") == 4  # the header and three entries
    assert "Welcome bonus" in history and history.count("Purchase") == 2
    assert "+50" in history and "+15" in history
    purchases = page.split("data-purchases")[1].split("</ul>")[0]
    assert "R-101" in purchases and "R-100" in purchases
    assert "RUB1,000.00" in purchases and "+50" in purchases


def test_the_owner_grants_and_deducts(alice):
    anna = _anna(alice)
    client = owner_of(alice)
    form = client.get(_url("member", anna)).content.decode()
    key = re.search(r'name="key" value="([0-9a-f]+)"', form).group(1)
    answer = client.post(_url("member-adjust", anna), {
        "direction": "grant", "points": "10.5", "reason": "Sorry for the wait", "key": key})
    assert answer.status_code == 302
    assert _balance(anna) == 11500 + 1050
    # The same form sent again (a double click) changes nothing.
    client.post(_url("member-adjust", anna), {
        "direction": "grant", "points": "10.5", "reason": "Sorry for the wait", "key": key})
    assert _balance(anna) == 12550
    client.post(_url("member-adjust", anna), {
        "direction": "deduct", "points": "0.5", "reason": "Typo", "key": "k2"})
    assert _balance(anna) == 12500
    page = client.get(_url("member", anna)).content.decode()
    assert "Granted by the shop" in page and "+10.5" in page and "-0.5" in page


def test_a_manager_grants_within_the_allowance(alice):
    anna = _anna(alice)
    manager, client = staff_client(alice, Staff.Role.MANAGER, language="ru")
    refused = client.post(_url("member-adjust", anna), {
        "direction": "grant", "points": "5", "reason": "Подарок", "key": "m1"})
    assert refused.status_code == 422
    assert "В вашем лимите осталось 0\xa0бонусов. Попросите менеджера увеличить его." in \
        refused.content.decode()
    with scope(merchant=alice.merchant):
        manual.set_allowance(alice.merchant, staff=manager, points=700, by=alice.owner,
                             actor=Actor.cli())
    assert client.post(_url("member-adjust", anna), {
        "direction": "grant", "points": "5", "reason": "Подарок", "key": "m2"}).status_code == 302
    assert _balance(anna) == 11500 + 500
    over = client.post(_url("member-adjust", anna), {
        "direction": "grant", "points": "3", "reason": "Ещё", "key": "m3"})
    assert over.status_code == 422 and "В вашем лимите осталось 2\xa0бонуса." in \
        over.content.decode()
    # A manager changes no tier, blocks and erases nobody.
    for name in ("member-tier", "member-block", "member-erase"):
        assert client.post(_url(name, anna), {"tier": "", "blocked": "1"}).status_code == 403


def test_bad_adjustments_are_form_errors(alice):
    anna = _anna(alice)
    client = owner_of(alice, language="ru")
    for data, message in [
        ({"direction": "grant", "points": "abc", "reason": "x", "key": "a"}, "Введите число."),
        ({"direction": "grant", "points": "0", "reason": "x", "key": "a"},
         "Введите число больше 0."),
        ({"direction": "grant", "points": "1.555", "reason": "x", "key": "a"},
         "Убедитесь, что вы ввели не более 2 цифр после запятой."),
        ({"direction": "grant", "points": "1", "reason": " ", "key": "a"},
         "Обязательное поле."),
        ({"direction": "deduct", "points": "1000", "reason": "x", "key": "a"},
         "Можно списать не более 115\xa0бонусов."),
    ]:
        response = client.post(_url("member-adjust", anna), data)
        assert response.status_code == 422, data
        if message:
            assert message in response.content.decode(), (data, message)
    assert _balance(anna) == 11500


def test_tier_card_tags_block_and_erase(alice):
    anna = _anna(alice)
    with scope(merchant=alice.merchant):
        Shop(alice).program(tiers=[
            {"code": "base", "name": "Base", "accrual": {"kind": "percent", "percent": "5"}},
            {"code": "gold", "name": "Gold", "accrual": {"kind": "percent", "percent": "10"},
             "threshold": 10000000}])
        members.issue_card(anna, number="C-1001".replace("-", ""), actor=Actor.cli())
    client = owner_of(alice)
    assert client.post(_url("member-tier", anna), {"tier": "gold"}).status_code == 302
    with scopes_disabled():
        account = Account.objects.get(member=anna)
        assert (account.tier_code, account.tier_manual) == ("gold", True)
    assert client.post(_url("member-tier", anna), {"tier": "nope"}).status_code == 422
    client.post(_url("member-tier", anna), {"tier": ""})
    with scopes_disabled():
        account = Account.objects.get(member=anna)
        assert (account.tier_code, account.tier_manual) == ("base", False)
    with scopes_disabled():
        card = Card.objects.get(member=anna, number="C1001")
    taken = client.post(_url("member-card", anna), {"card": card.pk, "number": "79990000031"})
    assert taken.status_code == 422 and "Card 79990000031 is already in use." in \
        taken.content.decode()
    assert client.post(_url("member-card", anna), {"card": card.pk, "number": "C1002",
                                                   "lost": "on"}).status_code == 302
    with scopes_disabled():
        assert Card.objects.get(pk=card.pk).status == "lost"
        assert Card.objects.get(number="C1002").member_id == anna.pk
    assert client.post(_url("member-tags", anna), {"tags": "VIP, morning ,VIP"}
                       ).status_code == 302
    assert client.post(_url("member-tags", anna), {"tags": "x" * 41}).status_code == 422
    client.post(_url("member-block", anna), {"blocked": "1"})
    with scopes_disabled():
        assert Member.objects.get(pk=anna.pk).status == "blocked"
        assert Member.objects.get(pk=anna.pk).tags == ["VIP", "morning"]
    refused = client.post(_url("member-adjust", anna), {
        "direction": "grant", "points": "1", "reason": "x", "key": "b1"})
    assert refused.status_code == 422 and "blocked" in refused.content.decode()
    client.post(_url("member-block", anna), {"blocked": "0"})
    client.post(_url("member-erase", anna))
    with scopes_disabled():
        erased = Member.objects.select_related("person").get(pk=anna.pk)
        assert (erased.status, erased.first_name, erased.person.phone) == ("erased", "", None)
    page = client.get(_url("member", anna)).content.decode()
    assert "Erased" in page or "erased" in page
    assert f'action="/cabinet/members/{anna.pk}/adjust/"' not in page


@pytest.mark.parametrize("member_id", [0, 2**63, 99999999])
def test_unknown_members_are_404(alice, member_id):
    assert owner_of(alice).get(f"/cabinet/members/{member_id}/").status_code == 404
