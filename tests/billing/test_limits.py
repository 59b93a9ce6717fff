"""A plan's limits (#21, docs/billing.md "Limits"): stores beyond `max_stores` are refused
wherever they are created or reopened; members beyond `max_members` are refused where no
customer waits (the management API) but never at the counter or on the member's own phone;
the owners are told of an excess once, then weekly; the cabinet and the operator see usage
beside the limits. No plan, or a plan without a limit: nothing is limited."""

import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client, override_settings
from django_scopes import scope, scopes_disabled

from kopilka.billing import limits, services, tasks
from kopilka.core.actor import Actor
from kopilka.core.models import AuditEntry
from kopilka.members import services as members
from kopilka.members.models import Member
from kopilka.processing import services as processing
from kopilka.tenancy import services as tenancy
from kopilka.tenancy.limits import LimitReached
from kopilka.tenancy.models import Store
from tests.cabinet.tools import owner_of

pytestmark = pytest.mark.django_db
ACTOR = Actor.cli()
MSK = ZoneInfo("Europe/Moscow")
TOKEN = "operator-secret-token-for-tests"


def on_plan(tenant, *, max_stores=None, max_members=None, code="start"):
    plan = services.save_plan(code=code, name="Start", months=1, monthly_price=0,
                              max_stores=max_stores, max_members=max_members, actor=ACTOR)
    with scope(merchant=tenant.merchant):
        # Its first charge far ahead: the ticks below count warnings, not charges.
        services.subscribe(tenant.merchant, plan, start=date(2030, 1, 1), actor=ACTOR)
    return plan


def post(client, url, body, **headers):
    return client.post(url, json.dumps(body), content_type="application/json", headers=headers)


def store_names(tenant) -> list[str]:
    with scopes_disabled():
        return sorted(Store.objects.filter(merchant=tenant.merchant, active=True)
                      .values_list("name", flat=True))


def member_count(tenant) -> int:
    with scopes_disabled():
        return Member.objects.filter(merchant=tenant.merchant).count()


def test_limit_two_stores_the_third_is_refused_with_a_problem(alice):
    on_plan(alice, max_stores=2)  # alice has her Main store already
    client = alice.manage()
    assert post(client, "/api/v1/manage/stores", {"name": "Second"}).status_code == 201
    third = post(client, "/api/v1/manage/stores", {"name": "Third"})
    assert third.status_code == 409
    assert third["Content-Type"] == "application/problem+json"
    body = third.json()
    assert body["type"] == "/problems/plan-limit"
    assert body["title"] == "The plan's limit is reached."
    assert body["errors"] == [{"field": "max_stores", "message": body["detail"]}]
    assert body["detail"] == ("Open stores on the plan Start: at most 2. Close a store or ask "
                              "for a larger plan.")
    russian = post(alice.manage("ru"), "/api/v1/manage/stores", {"name": "Third"})
    assert russian.json()["detail"] == ("Открытых торговых точек на тарифе Start: не больше 2. "
                                        "Закройте точку или попросите тариф побольше.")
    assert store_names(alice) == ["Main", "Second"]
    with scopes_disabled():  # the refused store left nothing behind, not even its audit row
        assert AuditEntry.objects.filter(action="tenancy.store.created",
                                         merchant=alice.merchant).count() == 2
    # A closed store frees its place; reopening it when the place is taken again is refused.
    with scopes_disabled():
        second = Store.objects.get(merchant=alice.merchant, name="Second")
    closed = client.patch(f"/api/v1/manage/stores/{second.pk}", json.dumps({"active": False}),
                          content_type="application/json")
    assert closed.status_code == 200
    assert post(client, "/api/v1/manage/stores", {"name": "Third"}).status_code == 201
    reopened = client.patch(f"/api/v1/manage/stores/{second.pk}", json.dumps({"active": True}),
                            content_type="application/json")
    assert reopened.status_code == 409
    assert reopened.json()["errors"][0]["field"] == "max_stores"
    assert store_names(alice) == ["Main", "Third"]


def test_the_cli_and_the_services_are_refused_too(alice):
    on_plan(alice, max_stores=1)
    with scope(merchant=alice.merchant), pytest.raises(LimitReached):
        tenancy.create_terminal(alice.merchant, store_name="Kiosk", actor=ACTOR)
    assert store_names(alice) == ["Main"]
    # Raising the plan's limit lets it through.
    on_plan(alice, max_stores=2)
    with scope(merchant=alice.merchant):
        tenancy.create_terminal(alice.merchant, store_name="Kiosk", actor=ACTOR)
    assert store_names(alice) == ["Kiosk", "Main"]


@pytest.mark.parametrize(("language", "text"), [
    ("en", "Open stores on the plan Start: at most 1."),
    ("ru", "Открытых торговых точек на тарифе Start: не больше 1."),
    ("uk", "Відкритих торгових точок на тарифі Start: не більше 1."),
])
def test_the_cabinet_form_says_it_in_the_users_language(alice, language, text):
    on_plan(alice, max_stores=1)
    client = owner_of(alice, language=language)
    refused = client.post("/cabinet/settings/stores/", {"action": "add", "new-name": "Second"})
    assert refused.status_code == 422
    assert text in refused.content.decode()
    assert store_names(alice) == ["Main"]


def test_no_plan_or_a_plan_without_limits_limits_nothing(alice, bob):
    on_plan(bob)  # a plan, no limits
    for tenant in (alice, bob):
        client = tenant.manage()
        for n in range(3):
            assert post(client, "/api/v1/manage/stores", {"name": f"S{n}"}).status_code == 201
            assert post(client, "/api/v1/manage/members",
                        {"phone": f"+7916555000{n}"}).status_code == 201
        assert len(store_names(tenant)) == 4 and member_count(tenant) == 4


def test_members_beyond_the_limit_join_at_the_counter_but_not_through_the_management_api(
        alice):
    on_plan(alice, max_members=2)  # alice has one member
    api = alice.manage()
    assert post(api, "/api/v1/manage/members", {"phone": "+79165550001"}).status_code == 201
    refused = post(api, "/api/v1/manage/members", {"phone": "+79165550002"})
    assert refused.status_code == 409
    assert refused.json()["type"] == "/problems/plan-limit"
    assert refused.json()["errors"][0]["field"] == "max_members"
    assert member_count(alice) == 2
    # At the counter (the POS API) and on the member's own phone: always.
    at_pos = post(alice.pos(), "/api/v1/pos/members", {"phone": "+79165550002"})
    assert at_pos.status_code == 201
    with scope(merchant=alice.merchant):
        processing.enrol(alice.merchant, phone="+79165550003", channel=Member.Channel.SELF,
                         actor=ACTOR)
        processing.enrol(alice.merchant, phone="+79165550004",
                         channel=Member.Channel.CASHIER, actor=ACTOR)
    assert member_count(alice) == 5
    # Erased members do not count: erase three, and the API may add one again.
    with scope(merchant=alice.merchant):
        for phone in ("+79165550002", "+79165550003", "+79165550004"):
            found = Member.objects.get(merchant=alice.merchant, person__phone=phone)
            members.erase_member(found, actor=ACTOR)
        assert limits.usage(alice.merchant).members == 2
    assert post(api, "/api/v1/manage/members", {"phone": "+79165550005"}).status_code == 409
    with scope(merchant=alice.merchant):
        members.erase_member(Member.objects.get(merchant=alice.merchant,
                                                person__phone="+79165550001"), actor=ACTOR)
    assert post(api, "/api/v1/manage/members", {"phone": "+79165550005"}).status_code == 201


def test_the_owners_are_told_of_an_excess_once_then_weekly(alice,
                                                           django_capture_on_commit_callbacks):
    def tick(moment: datetime) -> int:
        with django_capture_on_commit_callbacks(execute=True):  # the e-mail goes on commit
            return tasks.run(moment)

    on_plan(alice, max_members=1)
    assert tick(datetime(2026, 12, 1, 12, tzinfo=MSK)) == 0  # 1 of 1: at the limit, not over
    post(alice.pos(), "/api/v1/pos/members", {"phone": "+79165550001"})
    mail.outbox.clear()
    assert tick(datetime(2026, 12, 1, 13, tzinfo=MSK)) == 0  # counted once a day
    assert tick(datetime(2026, 12, 2, 9, tzinfo=MSK)) == 1
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]
    # In the merchant's language (alice's is Russian).
    assert mail.outbox[0].subject == "Alice Coffee: превышен лимит тарифа"
    assert "Участников: 2, тариф позволяет 1." in mail.outbox[0].body
    for day in range(2, 9):  # the same day again, then days 3-8: within the week
        assert tick(datetime(2026, 12, day, 18, tzinfo=MSK)) == 0
    assert tick(datetime(2026, 12, 9, 9, tzinfo=MSK)) == 1
    assert len(mail.outbox) == 2
    with scopes_disabled():
        entry = AuditEntry.objects.filter(action="billing.limits.over").latest("pk")
    assert entry.data == {"day": "2026-12-09", "over": ["max_members"], "stores": 1,
                          "max_stores": None, "members": 2, "max_members": 1}
    # Back under the limit, then over again: told at once.
    on_plan(alice, max_members=5)
    assert tick(datetime(2026, 12, 10, 9, tzinfo=MSK)) == 0
    on_plan(alice, max_members=1)
    assert tick(datetime(2026, 12, 11, 9, tzinfo=MSK)) == 1
    assert len(mail.outbox) == 3


@override_settings(BILLING_OPERATOR_TOKEN=TOKEN)
def test_the_operator_and_the_cabinet_see_usage_beside_the_limits(alice):
    on_plan(alice, max_stores=3, max_members=1)
    post(alice.pos(), "/api/v1/pos/members", {"phone": "+79165550001"})
    operator = Client(headers={"Authorization": f"Bearer {TOKEN}"})
    found = operator.get(f"/api/v1/operator/billing/merchants/{alice.merchant.slug}").json()
    assert {key: found[key] for key in ("stores", "max_stores", "members", "max_members",
                                        "over_limits")} == {
        "stores": 1, "max_stores": 3, "members": 2, "max_members": 1,
        "over_limits": ["max_members"]}
    bad = operator.put("/api/v1/operator/billing/plans/start",
                       {"code": "start", "name": "Start", "max_stores": 10**12},
                       content_type="application/json")
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "max_stores"
    page = owner_of(alice).get("/cabinet/billing/").content.decode()
    assert "Open stores: 1 of 3" in page and "Members: 2 of 1" in page
    assert page.count("data-over") == 1
    user = get_user_model().objects.create_superuser("op", "op@example.com", "a-long-password-1")
    admin = Client(headers={"Accept-Language": "en"})
    admin.force_login(user)
    listed = admin.get("/admin/billing/subscription/").content.decode()
    assert "1 / 3" in listed and "2 / 1 — over the plan&#x27;s limit" in listed


def test_the_service_refuses_after_writing_and_rolls_the_row_back(alice):
    """The check runs after the row is written, so the count includes it: at 2 of 2 the
    service refuses the third and leaves the database as it was."""
    on_plan(alice, max_stores=2)
    with scope(merchant=alice.merchant):
        tenancy.create_store(alice.merchant, "Second", actor=ACTOR)
        with pytest.raises(LimitReached) as refused:
            tenancy.create_store(alice.merchant, "Third", actor=ACTOR)
    assert refused.value.field == "max_stores"
    assert store_names(alice) == ["Main", "Second"]
