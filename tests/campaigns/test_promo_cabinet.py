"""Promo codes in the cabinet: the owner creates one, sees its uses and revenue, switches it
off; form errors in the owner's language; another merchant's code is 404, a cashier 403."""

import pytest
from django_scopes import scopes_disabled

from kopilka.campaigns.models import PromoCode
from kopilka.members.models import Card
from tests.conftest import Clerk

NEW = "/cabinet/campaigns/promo/new/"
# Every URL of the promo codes' pages, swept in test_a_cashier_may_not_and_bob_sees_404.
SWEPT = {"promo-codes", "promo-code-new", "promo-code", "promo-code-deactivate"}
FORM = {"code": "coffee2x", "name": "December flyers", "effect": "multiply", "value": "2",
        "product_group": "", "starts_on": "2026-01-01", "per_member": "1", "min_check": "500"}


def session(tenant, language="en"):
    return Clerk(staff=tenant.owner, password=tenant.owner_password, token=tenant.token) \
        .session(language)


@pytest.fixture
def owner(alice):
    return session(alice)


def test_the_owner_creates_a_code_and_sees_its_uses_and_revenue(alice, owner):
    assert 'data-promo-link' in owner.get("/cabinet/campaigns/").text
    assert "No promo codes yet" in owner.get("/cabinet/campaigns/promo/").text
    with scopes_disabled():
        store = alice.terminal.store
    created = owner.post(NEW, {**FORM, "stores": [store.pk]})
    assert created.status_code == 302, created.text
    with scopes_disabled():
        promo = PromoCode.objects.get()
        assert [s.pk for s in promo.stores.all()] == [store.pk]
    assert (promo.code, promo.rule, promo.per_member, promo.max_uses, promo.min_check) == (
        "COFFEE2X", {"multiply_accrual": "2"}, 1, None, 50_000)
    assert created["Location"] == f"/cabinet/campaigns/promo/{promo.pk}/"
    with scopes_disabled():
        card = Card.objects.get(member=alice.member).number
    sold = alice.pos().post("/api/v1/pos/purchases", {
        "member": {"card": card}, "receipt_id": "R1", "promo_code": "COFFEE2X",
        "lines": [{"line_id": "1", "amount": 120_000}]}, content_type="application/json")
    assert sold.status_code == 201
    listed = owner.get("/cabinet/campaigns/promo/").text
    assert 'data-promo="COFFEE2X"' in listed and "points ×2" in listed
    assert "RUB1,200.00" in listed
    page = owner.get(f"/cabinet/campaigns/promo/{promo.pk}/").text
    assert "December flyers" in page and "60\u00a0bonuses" in page  # points added
    assert "RUB500.00" in page  # the minimum check
    off = owner.post(f"/cabinet/campaigns/promo/{promo.pk}/deactivate/")
    assert off.status_code == 302
    with scopes_disabled():
        assert not PromoCode.objects.get().active
    assert "switched off" in owner.get(f"/cabinet/campaigns/promo/{promo.pk}/").text


@pytest.mark.parametrize(("language", "changes", "field", "message"), [
    ("en", {"value": "abc"}, "value", "Enter a number above zero."),
    ("en", {"effect": "fixed", "value": "-3"}, "value", "Enter a number of points above zero."),
    ("en", {"code": "кофе"}, "code", "A promo code has 3 to 32 Latin letters, digits, "
                                     "hyphens or underscores."),
    ("ru", {"value": "1"}, "value", None),
    ("uk", {"ends_on": "2025-01-01"}, "ends_on", "Промокод не може закінчитися раніше, ніж "
                                                  "почнеться."),
])
def test_form_errors_in_the_owners_language(alice, language, changes, field, message):
    answer = session(alice, language).post(NEW, {**FORM, **changes})
    assert answer.status_code == 422
    errors = answer.context["form"].errors
    assert list(errors) == [field], errors
    if message:
        assert errors[field] == [message]
    with scopes_disabled():
        assert not PromoCode.objects.exists()


def test_a_code_that_exists_is_refused_on_the_field(alice, owner):
    assert owner.post(NEW, FORM).status_code == 302
    again = owner.post(NEW, {**FORM, "code": "COFFEE2X "})
    assert again.status_code == 422
    assert again.context["form"].errors["code"] == ["The promo code COFFEE2X exists already."]


def test_a_cashier_may_not_and_bob_sees_404(alice, bob, charlie, owner):
    owner.post(NEW, FORM)
    with scopes_disabled():
        promo = PromoCode.objects.get()
    cashier = charlie.session()
    for url in ("/cabinet/campaigns/promo/", NEW, f"/cabinet/campaigns/promo/{promo.pk}/"):
        assert cashier.get(url).status_code == 403
    assert cashier.post(f"/cabinet/campaigns/promo/{promo.pk}/deactivate/").status_code == 403
    bob_owner = session(bob)
    assert bob_owner.get(f"/cabinet/campaigns/promo/{promo.pk}/").status_code == 404
    assert bob_owner.post(f"/cabinet/campaigns/promo/{promo.pk}/deactivate/").status_code == 404
    assert 'data-promo="COFFEE2X"' not in bob_owner.get("/cabinet/campaigns/promo/").text
    with scopes_disabled():
        assert PromoCode.objects.get().active


def test_the_sweep_covers_every_promo_page():
    from kopilka.web.cabinet.views import promo_codes

    assert {pattern.name for pattern in promo_codes.urlpatterns} == SWEPT
