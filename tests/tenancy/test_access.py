"""The access layer: principals, the permission table, entering a merchant's scope and its
context."""

import pytest
from django.utils import translation
from django_scopes import ScopeError

from kopilka.core.errors import Forbidden
from kopilka.members import services as members
from kopilka.programs.models import Program
from kopilka.tenancy import access
from kopilka.tenancy import services as tenancy
from kopilka.tenancy.access import Kind, Principal
from kopilka.tenancy.models import ApiToken, Store

pytestmark = pytest.mark.django_db


def test_the_permission_table_gives_each_role_what_it_had():
    # One line per permission: who has it (o owner, a admin, m manager, c cashier, t terminal).
    letters = {"owner": "o", "admin": "a", "manager": "m", "cashier": "c", "terminal": "t"}
    table = {permission: "".join(sorted(letters[role] for role in roles))
             for permission, roles in access.PERMISSIONS.items()}
    assert table == {
        "read_setup": "acmot", "serve_members": "acmot", "send_codes": "acmot",
        "sell": "acmot", "refund": "acmot",
        "adjust": "amot", "transfer": "amot",
        "read_records": "acmo", "tag_members": "amo", "read_audit": "amo", "read_billing": "amo",
        "read_members": "amo",
        "read_analytics": "amo", "read_reviews": "amo", "answer_reviews": "amo",
        "sign_in_counters": "amo", "export_records": "amo",
        "see_phones": "ao", "export_members": "ao", "edit_program": "ao", "assign_tier": "ao",
        "erase_members": "ao", "manage_stores": "ao", "manage_staff": "ao",
        "manage_webhooks": "ao", "manage_messaging": "ao", "manage_campaigns": "ao",
        "manage_rewards": "ao", "send_offers": "ao",
        "set_allowance": "o", "grant_unlimited": "o", "manage_owners": "o",
    }


def test_each_kind_of_principal_has_its_column(alice, charlie, unscoped):
    terminal = Principal.for_terminal(alice.terminal)
    assert (terminal.kind, terminal.role, terminal.store) == (Kind.TERMINAL, "terminal",
                                                              alice.terminal.store)
    assert terminal.may("sell") and terminal.may("adjust") and not terminal.may("see_phones")
    token = ApiToken.objects.select_related("staff__user", "merchant").get(staff=charlie.staff)
    cashier = Principal.for_token(token)
    assert (cashier.kind, cashier.role, cashier.actor.label) == (
        Kind.TOKEN, "cashier", f"charlie@example.com via token:{token.key_prefix}")
    assert cashier.may("sell") and not cashier.may("adjust")
    owner = Principal.for_staff(alice.owner, ip="10.0.0.1")
    assert owner.sees_full_phones and owner.may("set_allowance")
    assert (owner.actor.kind, owner.actor.ip) == ("staff", "10.0.0.1")
    for everything in (Principal.operator(alice.merchant), Principal.system(alice.merchant)):
        assert all(everything.may(permission) for permission in access.PERMISSIONS)
    wallet = Principal.for_member(alice.member)
    assert wallet.kind == Kind.MEMBER
    assert not any(wallet.may(permission) for permission in access.PERMISSIONS)


@translation.override("en")
def test_require_refuses_with_the_permissions_own_words(alice, charlie):
    cashier = Principal.for_staff(charlie.staff)
    with pytest.raises(Forbidden, match="Your role does not allow this."):
        cashier.require("manage_staff")
    with pytest.raises(Forbidden, match="Only the owner sets allowances."):
        cashier.require("set_allowance")
    with pytest.raises(ValueError, match="unknown permission 'fly'"):
        cashier.may("fly")
    Principal.for_staff(alice.owner).require("set_allowance")  # no exception


@translation.override("en")
def test_only_an_owner_manages_owners(alice, unscoped):
    from kopilka.core.actor import Actor
    from kopilka.tenancy import invitations
    from tests.tenancy.tools import make_staff
    admin = make_staff(alice.merchant, "adm@example.com", "admin")
    with pytest.raises(Forbidden, match="Only an owner can manage owners."):
        invitations.invite_staff(alice.merchant, email="o2@example.com", role="owner", by=admin,
                                 actor=Actor.cli())


def test_enter_scopes_the_queries_to_the_principals_merchant(alice, bob):
    with access.enter(Principal.system(alice.merchant)) as context:
        assert list(Store.objects.values_list("merchant_id", flat=True)) == [alice.merchant.pk]
        assert access.context(alice.merchant) is context
        assert access.context(bob.merchant) is not context  # another merchant: its own
    with pytest.raises(ScopeError):
        list(Store.objects.all())
    assert access.context(alice.merchant) is not context  # left: no context is current


def test_a_part_is_read_once_per_context(alice, django_assert_num_queries):
    with access.enter(Principal.system(alice.merchant)) as context:
        with django_assert_num_queries(1):
            first = context["program"]
            assert context["program"] is first
        assert first == Program.objects.get(merchant=alice.merchant)


def test_the_key_look_up_joins_every_registered_part(alice, django_assert_num_queries):
    terminal = tenancy.authenticate_terminal(alice.pos_key)
    principal = Principal.for_terminal(terminal, joined=True)
    with access.enter(principal) as context, django_assert_num_queries(0):
        assert context["program"].merchant_id == alice.merchant.pk
        assert context["webhook_subscription"] is None  # alice has no endpoints
        assert context["messaging_settings"] is None  # nor settings of her own
    assert set(access.merchant_joins()) == {
        "merchant__program", "merchant__webhook_subscription", "merchant__messaging_settings",
        "merchant__review_settings"}


def test_a_part_is_registered_once():
    with pytest.raises(ValueError, match="registered twice"):
        access.provide("program", relation="program", load=lambda merchant: None)


def test_a_part_no_app_registered_cannot_be_set(alice):
    with pytest.raises(KeyError):
        access.context(alice.merchant)["loyalty_mood"] = "good"


def test_counter_joins_are_registered_before_the_look_ups_compile(alice):
    members.find_member(alice.merchant, phone="+79160000001")  # compiled now, if not before
    with pytest.raises(RuntimeError, match="compiled already"):
        members.join_at_the_counter("something")


def test_the_operator_may_work_across_merchants_but_enters_none():
    operator = Principal.operator()
    assert operator.merchant is None and operator.context is None
    with pytest.raises(ValueError, match="acts for no merchant"), access.enter(operator):
        pass
