"""Inactivity chains (AUT-2): steps after N days without a purchase, per segment, each step
once per absence (AUT-4), started over by a new purchase."""

import pytest
import time_machine

from kopilka.automation.models import JobRun, WinbackContact
from kopilka.core.errors import InvalidInput
from kopilka.ledger.models import Entry, Lot
from kopilka.members.models import Member
from tests.automation.helpers import AGREED, at, balance, sent, tick_at

pytestmark = pytest.mark.django_db

START = at(2027, 1, 1, 12, 0)  # joined and (mostly) bought then: day 20 is 21 January

COMEBACK = {
    "code": "comeback", "name": "Come back", "segment": {"kind": "all"},
    "steps": [
        {"after_days": 20, "message": {"ru": "{name}, давно вас не было! Ждём в {merchant}",
                                       "en": "{name}, we miss you at {merchant}"}},
        {"after_days": 40, "gift": {"points": 20_000, "validity_days": 10}},
    ],
}


def chain_shop(shop, *chains, **config):
    # alice's own member (tests/conftest.py) joined "now", long before START: out of the way.
    Member.objects.filter(pk=shop.tenant.member.pk).update(status=Member.Status.LEFT)
    with time_machine.travel(START, tick=False):
        shop.program(chains=list(chains), **config)
        anna = shop.join(first_name="Анна", consents=AGREED)
        shop.buy(anna, 100_000)  # 50.00 points
    return anna


def test_steps_on_day_20_and_40_each_once(shop):
    anna = chain_shop(shop, COMEBACK)
    assert tick_at(at(2027, 1, 20, 10, 30)) == 8  # day 19: nothing yet
    assert sent("gift") == []

    tick_at(at(2027, 1, 21, 10, 30))  # day 20: the step's own text, merchant's language
    assert sent("gift") == [("+79990000001", "Анна, давно вас не было! Ждём в Alice Coffee")]
    for day in range(22, 32):
        tick_at(at(2027, 1, day, 10, 30))
    assert len(sent("gift")) == 1
    assert balance(anna) == 5_000

    tick_at(at(2027, 2, 9, 10, 30))  # day 39
    assert len(sent("gift")) == 1
    tick_at(at(2027, 2, 10, 10, 30))  # day 40: the gift, told with the `gift` template
    assert sent("gift")[1] == ("+79990000001",
                               "Анна, Alice Coffee дарит вам 200 бонусов до 20 февраля 2027 г.")
    gift = Lot.objects.get(account__member=anna, kind=Lot.Kind.GIFT)
    assert (gift.amount, gift.expires_at) == (20_000, at(2027, 2, 21))
    contact = WinbackContact.objects.get(step=1)
    granted = Entry.objects.get(lot=gift)
    assert (granted.kind, granted.cause_type, granted.cause_id, granted.available_delta) == (
        Entry.Kind.GRANT, "winback", str(contact.pk), 20_000)
    assert balance(anna) == 25_000

    tick_at(at(2027, 2, 10, 18, 0))  # the same day again,
    JobRun.objects.all().delete()  # even with the day's run records lost,
    tick_at(at(2027, 2, 10, 18, 5))
    for day in range(11, 28):  # and the days after: the chain has no third step
        tick_at(at(2027, 2, day, 10, 30))
    assert len(sent("gift")) == 2
    assert Lot.objects.filter(kind=Lot.Kind.GIFT).count() == 1
    assert list(WinbackContact.objects.order_by("pk").values_list(
        "member", "chain", "step", "absence_started_at", "sent", "points")) == [
        (anna.pk, "comeback", 0, START, True, 0),
        (anna.pk, "comeback", 1, START, True, 20_000),
    ]


def test_a_new_purchase_starts_the_chain_over(shop):
    anna = chain_shop(shop, COMEBACK)
    tick_at(at(2027, 1, 21, 10, 30))  # step 1 of the first absence
    with time_machine.travel(at(2027, 1, 26, 12, 0), tick=False):
        shop.buy(anna, 20_000)
    tick_at(at(2027, 2, 10, 10, 30))  # 40 days after the first purchase, 15 after the last
    assert len(sent("gift")) == 1
    assert not Lot.objects.filter(kind=Lot.Kind.GIFT).exists()
    tick_at(at(2027, 2, 14, 10, 30))  # day 19 of the new absence
    assert len(sent("gift")) == 1
    tick_at(at(2027, 2, 15, 10, 30))  # day 20 of the new absence: the chain again
    assert [body for _to, body in sent("gift")] == [
        "Анна, давно вас не было! Ждём в Alice Coffee"] * 2
    assert list(WinbackContact.objects.order_by("pk").values_list(
        "step", "absence_started_at")) == [(0, START), (0, at(2027, 1, 26, 12, 0))]


def test_a_member_long_gone_gets_the_step_that_fits_not_every_step(shop):
    anna = chain_shop(shop, COMEBACK)
    tick_at(at(2027, 3, 1, 10, 30))  # the first tick in two months: day 59
    assert sent("gift") == [("+79990000001",
                             "Анна, Alice Coffee дарит вам 200 бонусов до 11 марта 2027 г.")]
    assert list(WinbackContact.objects.values_list("step", flat=True)) == [1]
    assert balance(anna) == 25_000


def test_the_gift_goes_without_consent_the_message_does_not(shop):
    chain_shop(shop, COMEBACK)
    with time_machine.travel(START, tick=False):
        boris = shop.join(phone="+79990000002", first_name="Борис")  # no consent
        shop.buy(boris, 100_000)
    tick_at(at(2027, 1, 21, 10, 30))
    tick_at(at(2027, 2, 10, 10, 30))
    assert [to for to, _body in sent("gift")] == ["+79990000001"] * 2
    assert balance(boris) == 25_000
    assert list(WinbackContact.objects.filter(member=boris).order_by("step")
                .values_list("step", "sent", "points", "message")) == [
        (0, False, 0, None), (1, False, 20_000, None)]


def test_the_first_chain_whose_segment_holds_the_member_wins(shop):
    def chain(code, segment):
        return {"code": code, "name": code, "segment": segment,
                "steps": [{"after_days": 20, "message": {"ru": f"{{name}}: {code}"}}]}

    chains = [
        chain("vip", {"kind": "vip", "min_spend": 1_500_000, "tag": "vip"}),
        chain("gold", {"kind": "tier", "tier": "gold"}),
        chain("stop", {"kind": "tag", "tag": "стоп-лист"}),
        chain("once", {"kind": "one_time"}),
        chain("regular", {"kind": "regular"}),
        chain("new", {"kind": "new"}),
    ]
    tiers = [{"code": "base", "name": "Base", "accrual": {"kind": "percent", "percent": "5"}},
             {"code": "gold", "name": "Gold", "threshold": 1_000_000,
              "accrual": {"kind": "percent", "percent": "7"}}]
    Member.objects.filter(pk=shop.tenant.member.pk).update(status=Member.Status.LEFT)
    with time_machine.travel(START, tick=False):
        shop.program(chains=chains, tiers=tiers)
        people = {}
        for n, (name, tags, checks) in enumerate([
            ("Анна", [], [10_000]),  # one purchase
            ("Борис", [], [10_000, 10_000]),  # two
            ("Вера", ["vip"], [10_000]),  # one purchase, but tagged vip
            ("Глеб", [], []),  # never bought: absent since registration
            ("Дарья", [], [1_200_000]),  # gold tier by spend, below the vip spend
            ("Егор", [], [1_600_000]),  # vip by spend (and gold, and one purchase)
            ("Жанна", ["стоп-лист"], [10_000, 10_000]),  # a tag, before "regular"
        ], start=1):
            member = shop.join(phone=f"+7999000000{n}", first_name=name, consents=AGREED,
                               tags=tags)
            for check in checks:
                shop.buy(member, check)
            people[name] = member
    tick_at(at(2027, 1, 21, 10, 30))
    assert sorted(body for _to, body in sent("gift")) == [
        "Анна: once", "Борис: regular", "Вера: vip", "Глеб: new", "Дарья: gold",
        "Егор: vip", "Жанна: stop"]
    assert dict(WinbackContact.objects.values_list("member", "chain")) == {
        people["Анна"].pk: "once", people["Борис"].pk: "regular", people["Вера"].pk: "vip",
        people["Глеб"].pk: "new", people["Дарья"].pk: "gold", people["Егор"].pk: "vip",
        people["Жанна"].pk: "stop"}
    assert (WinbackContact.objects.get(member=people["Глеб"]).absence_started_at
            == people["Глеб"].registered_at)


def test_blocked_members_and_members_of_no_segment_are_left_alone(shop):
    once = {"code": "once", "name": "once", "segment": {"kind": "one_time"},
            "steps": [{"after_days": 20, "gift": {"points": 1_000, "validity_days": 5}}]}
    anna = chain_shop(shop, once)
    with time_machine.travel(START, tick=False):
        boris = shop.join(phone="+79990000002", first_name="Борис", consents=AGREED)
        shop.buy(boris, 10_000)
        shop.buy(boris, 10_000)  # regular: no chain for him
    Member.objects.filter(pk=anna.pk).update(status=Member.Status.BLOCKED)
    tick_at(at(2027, 1, 21, 10, 30))
    assert not WinbackContact.objects.exists()
    assert sent("gift") == []


def test_the_merchants_language_or_else_the_first_text_the_step_has(shop):
    shop.merchant.language = "en"
    shop.merchant.save(update_fields=["language"])
    only_uk = {"code": "uk", "name": "uk", "segment": {"kind": "regular"},
               "steps": [{"after_days": 20, "message": {"uk": "{name}, чекаємо на {points}"},
                          "gift": {"points": 1_500, "validity_days": 5}}]}
    chain_shop(shop, only_uk, COMEBACK)
    with time_machine.travel(START, tick=False):
        bohdan = shop.join(phone="+79990000002", first_name="Bohdan", consents=AGREED)
        shop.buy(bohdan, 10_000)
        shop.buy(bohdan, 10_000)
    tick_at(at(2027, 1, 21, 10, 30))
    # Figures are written in the language of the text: 15 бонусів, not 15 bonuses.
    assert sorted(sent("gift")) == [("+79990000001", "Анна, we miss you at Alice Coffee"),
                                    ("+79990000002", "Bohdan, чекаємо на 15 бонусів")]


def test_a_chain_for_all_members_leaves_none_for_the_chains_after_it(shop):
    once = {"code": "once", "name": "once", "segment": {"kind": "one_time"},
            "steps": [{"after_days": 20, "message": {"ru": "once"}}]}
    chain_shop(shop, COMEBACK, once)
    tick_at(at(2027, 1, 21, 10, 30))
    assert list(WinbackContact.objects.values_list("chain", flat=True)) == ["comeback"]
    assert [body for _to, body in sent("gift")] == ["Анна, давно вас не было! Ждём в Alice Coffee"]


@pytest.mark.parametrize(("chains", "field", "message"), [
    ([{**COMEBACK, "steps": [{"after_days": 20, "message": {"ru": "{name} {nme}"}}]}],
     "chains.0.steps.0.message.ru", "{nme}"),
    ([{**COMEBACK, "steps": [{"after_days": 20}]}], "chains.0.steps.0",
     "a step needs a message, a gift or both"),
    ([{**COMEBACK, "steps": [{"after_days": 40, "message": {"en": "a"}},
                             {"after_days": 20, "message": {"en": "b"}}]}],
     "chains.0.steps", "steps[1].after_days must be greater than steps[0].after_days (40)"),
    ([{**COMEBACK, "segment": {"kind": "tier", "tier": "gold"}}], "chains",
     "chains[0].segment.tier: unknown tier 'gold'"),
    ([{**COMEBACK, "segment": {"kind": "vip"}}], "chains.0.segment.vip",
     "a vip segment needs min_spend, tag or both"),
    ([COMEBACK, COMEBACK], "chains", "chains[1].code 'comeback' is used twice"),
    ([{**COMEBACK, "steps": [{"after_days": 20, "message": {}}]}],
     "chains.0.steps.0.message", "a message needs a text in at least one language"),
])
def test_invalid_chains_are_refused_naming_the_field(shop, chains, field, message):
    with pytest.raises(InvalidInput) as refused:
        shop.program(chains=chains)
    assert refused.value.field == field
    assert message in refused.value.detail
