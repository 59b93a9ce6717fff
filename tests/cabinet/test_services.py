"""The two service parameters the cabinet's start needed: an owner who chooses their own
password at sign-up (tenancy.create_merchant), and a cashier with a PIN only
(tenancy.counter.add_counter_cashier)."""

import pytest
from django_scopes import scopes_disabled

from kopilka.core.actor import Actor
from kopilka.core.errors import Conflict, Forbidden, InvalidInput
from kopilka.core.models import AuditEntry
from kopilka.tenancy import counter as counters
from kopilka.tenancy import services as tenancy
from kopilka.tenancy.models import Merchant, Staff
from tests.tenancy.tools import make_staff


@pytest.mark.django_db
def test_an_owner_with_their_own_password_gets_none_back():
    created = tenancy.create_merchant("Ёжик", owner_email="Kim@Ezhik.test", actor=Actor.cli(),
                                      owner_password="a long enough secret 42")
    assert created.owner_password is None
    assert created.owner.user.check_password("a long enough secret 42")


@pytest.mark.django_db
def test_a_weak_owner_password_or_a_known_address_creates_nothing(alice):
    with pytest.raises(InvalidInput) as weak:
        tenancy.create_merchant("Ёжик", owner_email="kim@ezhik.test", actor=Actor.cli(),
                                owner_password="12345678")
    assert weak.value.field == "owner_password"
    with pytest.raises(Conflict) as taken:
        tenancy.create_merchant("Ёжик", owner_email=alice.owner.user.email, actor=Actor.cli(),
                                owner_password="a long enough secret 42")
    assert taken.value.field == "owner_email"
    with scopes_disabled():
        assert list(Merchant.objects.values_list("pk", flat=True)) == [alice.merchant.pk]


@pytest.mark.django_db
def test_a_cashier_with_a_pin_only(alice):
    cashier = counters.add_counter_cashier(alice.merchant, name="  Dana   Petrenko ", pin="2580",
                                           by=alice.owner, actor=Actor.cli())
    assert (cashier.role, cashier.user.first_name, cashier.user.email) == (
        Staff.Role.CASHIER, "Dana Petrenko", "")
    assert not cashier.user.has_usable_password()
    counters.check_pin(cashier, "2580", actor=Actor.cli())  # no error: the PIN is hers
    with scopes_disabled():
        assert AuditEntry.objects.filter(action="tenancy.staff.counter_cashier_added",
                                         merchant=alice.merchant).count() == 1


@pytest.mark.django_db
def test_only_who_manages_staff_adds_a_cashier_and_the_pin_must_be_good(alice):
    manager = make_staff(alice.merchant, "maria@alice.test", Staff.Role.MANAGER)
    with pytest.raises(Forbidden):
        counters.add_counter_cashier(alice.merchant, name="Dana", pin="2580", by=manager,
                                     actor=Actor.cli())
    with pytest.raises(InvalidInput) as weak:
        counters.add_counter_cashier(alice.merchant, name="Dana", pin="0000", by=None,
                                     actor=Actor.cli())
    assert weak.value.field == "pin"
    with pytest.raises(InvalidInput) as nameless:
        counters.add_counter_cashier(alice.merchant, name="   ", pin="2580", by=None,
                                     actor=Actor.cli())
    assert nameless.value.field == "name"
    with scopes_disabled():
        assert Staff.objects.filter(merchant=alice.merchant, role=Staff.Role.CASHIER).count() == 0
