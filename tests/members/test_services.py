from datetime import date

import pytest
from django_scopes import scope

from kopilka.core.actor import Actor
from kopilka.core.errors import Conflict, InvalidInput, NotFound
from kopilka.core.models import AuditEntry
from kopilka.members import services
from kopilka.members.models import Card, Consent, Member

pytestmark = pytest.mark.django_db
ACTOR = Actor.cli()


@pytest.fixture
def in_alice(alice):
    with scope(merchant=alice.merchant):
        yield alice


def register(tenant, phone, **extra):
    return services.register_member(
        tenant.merchant, phone=phone, channel=Member.Channel.CASHIER, actor=ACTOR, **extra
    )


def test_registration_normalises_the_phone_and_issues_a_phone_card(in_alice):
    member = register(in_alice, "8 (916) 123-45-67")
    assert str(member.person.phone) == "+79161234567"
    card = member.cards.get()
    assert (card.number, card.kind, card.status) == ("79161234567", "phone", "active")
    entry = AuditEntry.objects.filter(action="members.member.registered", object_id=member.pk)
    assert entry.get().merchant == in_alice.merchant


def test_registration_records_consents_with_text_version(in_alice):
    member = register(
        in_alice, "+79161234567",
        consents=[services.ConsentGiven("messages", "2026-11"),
                  services.ConsentGiven("personal_data", "2026-11")],
    )
    kinds = sorted(Consent.objects.filter(member=member).values_list("kind", "text_version"))
    assert kinds == [("messages", "2026-11"), ("personal_data", "2026-11")]
    assert services.has_consent(member, "messages")
    assert services.revoke_consent(member, "messages", actor=ACTOR) == 1
    assert not services.has_consent(member, "messages")
    assert Consent.objects.filter(member=member).count() == 2  # revoking keeps the record


def test_registering_the_same_phone_twice_is_a_conflict(in_alice):
    register(in_alice, "+79161234567")
    with pytest.raises(Conflict) as error:
        register(in_alice, "89161234567")
    assert error.value.field == "phone"
    assert Member.objects.filter(merchant=in_alice.merchant).count() == 2  # fixture's + one


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"phone": "12"}, "phone"),
        ({"phone": "+79161234567", "email": "not-an-email"}, "email"),
        ({"phone": "+79161234567", "gender": "robot"}, "gender"),
        ({"phone": "+79161234567", "birth_date": date(2999, 1, 1)}, "birth_date"),
    ],
)
def test_bad_profile_is_refused_naming_the_field(in_alice, changes, field):
    with pytest.raises(InvalidInput) as error:
        register(in_alice, **changes)
    assert error.value.field == field
    assert not Member.objects.filter(person__phone="+79161234567").exists()


def test_find_member_by_phone_card_and_qr(in_alice):
    member = register(in_alice, "+79161234567")
    services.issue_card(member, number="CARD-0001".replace("-", ""), actor=ACTOR)
    merchant = in_alice.merchant
    assert services.find_member(merchant, phone="+7 916 123 45 67") == member
    assert services.find_member(merchant, card="CARD0001") == member
    assert services.find_member(merchant, qr=member.qr_token) == member
    with pytest.raises(NotFound):
        services.find_member(merchant, card="nope")


def test_replacing_a_lost_card_keeps_the_member(in_alice):
    member = register(in_alice, "+79161234567")
    old = services.issue_card(member, number="1001", actor=ACTOR)
    new = services.replace_card(old, new_number="1002", lost=True, actor=ACTOR)
    old.refresh_from_db()
    assert (old.status, old.replaced_by_id) == ("lost", new.pk)
    assert new.member_id == member.pk
    assert services.find_member(in_alice.merchant, card="1002") == member
    with pytest.raises(NotFound):
        services.find_member(in_alice.merchant, card="1001")
    with pytest.raises(Conflict):
        services.replace_card(old, new_number="1003", actor=ACTOR)


def test_card_numbers_are_unique_per_merchant_only(alice, bob):
    with scope(merchant=alice.merchant):
        services.issue_card(alice.member, number="5555", actor=ACTOR)
        with pytest.raises(Conflict):
            services.issue_card(alice.member, number="5555", actor=ACTOR)
    with scope(merchant=bob.merchant):
        card = services.issue_card(bob.member, number="5555", actor=ACTOR)
        assert Card.objects.filter(number="5555").count() == 1
    assert card.merchant == bob.merchant


def test_update_member_audits_only_real_changes(in_alice):
    member = in_alice.member
    services.update_member(member, actor=ACTOR, tags=["vip", " coffee ", "vip"])
    assert member.tags == ["coffee", "vip"]
    services.update_member(member, actor=ACTOR, tags=["vip", "coffee"])
    updates = AuditEntry.objects.filter(action="members.member.updated", object_id=member.pk)
    assert updates.count() == 1
    assert updates.get().data == {"fields": ["tags"]}


def test_relatives_keep_birth_dates(in_alice):
    relative = services.add_relative(
        in_alice.member, name="Маша", relation="daughter", birth_date=date(2018, 5, 1),
        actor=ACTOR,
    )
    assert in_alice.member.relatives.get() == relative
    with pytest.raises(InvalidInput):
        services.add_relative(in_alice.member, name=" ", actor=ACTOR)
