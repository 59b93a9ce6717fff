"""Who may use the cabinet: sign-in throttled by django-axes, sign-out, the chooser for a person
on the staff of several businesses, another merchant's objects a 404 on every URL, and a lower
role the 403 page."""

import pytest
from django.test import Client, override_settings
from django.urls import reverse
from django_scopes import scopes_disabled

from kopilka.programs.models import ProgramVersion
from kopilka.tenancy.models import Staff, Store
from tests.cabinet.tools import owner_of, signed_in, staff_client
from tests.tenancy.tools import PASSWORD, make_staff


def every_url(store_id: int, version_id: int = 1) -> list[str]:
    return [reverse("cabinet:home"), reverse("cabinet:program"),
            reverse("cabinet:program-template", args=["cafe"]),
            reverse("cabinet:store-new"), reverse("cabinet:cashier", args=[store_id]),
            reverse("cabinet:counter", args=[store_id]),
            reverse("cabinet:program-templates"), reverse("cabinet:program-preview"),
            reverse("cabinet:program-versions"),
            reverse("cabinet:program-version", args=[version_id]), reverse("cabinet:referrals")]


def store_of(tenant) -> Store:
    with scopes_disabled():
        return Store.objects.get(merchant=tenant.merchant)


def version_of(tenant) -> ProgramVersion:
    with scopes_disabled():
        return ProgramVersion.objects.filter(merchant=tenant.merchant).latest("number")


def test_sign_in_and_out(alice):
    client = Client(headers={"Accept-Language": "en"})
    assert client.get("/cabinet/")["Location"] == "/cabinet/signin/?next=%2Fcabinet%2F"
    wrong = client.post("/cabinet/signin/", {"email": alice.owner.user.email,
                                             "password": "nope", "next": "/cabinet/"})
    assert wrong.status_code == 422 and "Wrong e-mail or password." in wrong.content.decode()
    right = client.post("/cabinet/signin/", {"email": " " + alice.owner.user.email.upper(),
                                             "password": alice.owner_password,
                                             "next": "/cabinet/"})
    assert right["Location"] == "/cabinet/"
    page = client.get("/cabinet/").content.decode()
    assert "Alice" in page and "Main" in page
    outside = client.post("/cabinet/signin/", {"email": alice.owner.user.email,
                                               "password": alice.owner_password,
                                               "next": "https://evil.test/"})
    assert outside["Location"] == "/cabinet/"
    client.post("/cabinet/signout/")
    assert client.get("/cabinet/").status_code == 302


@override_settings(AXES_FAILURE_LIMIT=3)
def test_sign_in_is_throttled(alice):
    client = Client(headers={"Accept-Language": "ru"})
    for _attempt in range(3):
        response = client.post("/cabinet/signin/", {"email": alice.owner.user.email,
                                                    "password": "wrong"})
    response = client.post("/cabinet/signin/", {"email": alice.owner.user.email,
                                                "password": alice.owner_password})
    assert response.status_code == 429
    assert "Слишком много неудачных попыток входа" in response.content.decode()
    assert client.get("/cabinet/").status_code == 302  # still not signed in


def test_a_staff_member_of_two_businesses_chooses(alice, bob):
    with scopes_disabled():
        make_staff(bob.merchant, alice.owner.user.email, Staff.Role.ADMIN,
                   password=alice.owner_password)
    client = owner_of(alice)
    assert client.get("/cabinet/")["Location"] == "/cabinet/choose/"
    page = client.get("/cabinet/choose/").content.decode()
    assert alice.merchant.name in page and bob.merchant.name in page
    client.post("/cabinet/choose/", {"merchant": "not-mine"})
    assert client.get("/cabinet/")["Location"] == "/cabinet/choose/"
    assert client.post("/cabinet/choose/", {"merchant": bob.merchant.slug})["Location"] == \
        "/cabinet/"
    page = client.get("/cabinet/").content.decode()
    assert f"<h1 class=\"page-title\">{bob.merchant.name}</h1>" in page


def test_the_sweep_covers_every_cabinet_url():
    from kopilka.web.cabinet import urls
    from kopilka.web.cabinet.views import rewards
    from tests.cabinet.test_members_sweep import swept
    from tests.feedback.test_cabinet_sweep import swept as reviews_swept

    account = {"signup", "signin", "signout", "choose"}  # before a merchant: nothing of theirs
    # Swept with their own objects where they live: tests/rewards/test_pages.py.
    elsewhere = {pattern.name for pattern in rewards.urlpatterns}
    names = ({pattern.name for pattern in urls.urlpatterns} - account - swept() - reviews_swept()
             - elsewhere)
    names = {name for name in names if not name.startswith("settings")}  # test_settings_access
    names = {name for name in names if not name.startswith("analytics")}  # tests/analytics
    from tests.campaigns.test_cabinet import SWEPT  # swept there, on a campaign's ids
    names -= SWEPT
    from tests.campaigns.test_offers_cabinet import SWEPT as OFFERS  # swept there too
    names -= OFFERS
    from tests.campaigns.test_promo_cabinet import SWEPT as PROMO  # swept there too
    names -= PROMO
    assert len(every_url(1)) == len(names) == 11


def test_another_merchants_store_is_404_on_every_url(alice, bob):
    client = owner_of(bob)
    theirs, version = store_of(alice).pk, version_of(alice).pk
    for url in every_url(theirs, version):
        if f"/{theirs}/" in url or f"/{version}/" in url:
            assert client.get(url).status_code == 404, url
            assert client.post(url, {"name": "x", "action": "pin", "pin-name": "x",
                                     "pin-pin": "2580"}).status_code == 404, url
        else:
            assert client.get(url).status_code == 200, url
    with scopes_disabled():
        assert Staff.objects.filter(merchant=alice.merchant).count() == 1  # the owner only


@pytest.mark.parametrize(("role", "allowed"), [
    # the program is read_setup to look at (everyone), edit_program to change
    (Staff.Role.CASHIER, {"program", "preview", "versions", "version"}),
    (Staff.Role.MANAGER, {"home", "counter", "program", "preview", "versions", "version",
                          "referrals"}),
    (Staff.Role.ADMIN, {"home", "program", "template", "store", "cashier", "counter",
                        "templates", "preview", "versions", "version", "referrals"}),
])
def test_a_lower_role_gets_the_403_page(alice, role, allowed):
    _staff, client = staff_client(alice, role)
    names = ["home", "program", "template", "store", "cashier", "counter", "templates",
             "preview", "versions", "version", "referrals"]
    for name, url in zip(names, every_url(store_of(alice).pk, version_of(alice).pk),
                         strict=True):
        response = client.get(url)
        assert response.status_code == (200 if name in allowed else 403), (name, url)
        if response.status_code == 403:
            assert "Your role does not allow this." in response.content.decode()


def test_a_cashier_is_sent_to_the_counter(alice):
    _staff, client = staff_client(alice, Staff.Role.CASHIER, language="uk")
    page = client.get("/cabinet/").content.decode()
    assert 'href="/cashier/"' in page


def test_an_account_with_no_business_cannot_sign_in(alice, django_user_model):
    django_user_model.objects.create_user("loner@x.test", "loner@x.test", PASSWORD)
    response = Client().post("/cabinet/signin/", {"email": "loner@x.test", "password": PASSWORD})
    assert response.status_code == 422


def test_the_root_page_offers_the_sign_up_and_the_cabinet(db):
    page = Client(headers={"Accept-Language": "en"}).get("/").content.decode()
    assert 'href="/cabinet/signup/"' in page and 'href="/cabinet/"' in page


def test_no_500_on_odd_input(alice):
    client = owner_of(alice)
    store = store_of(alice).pk
    odd = {"name": "\x00" * 3, "step": "save", "action": "pin", "pin-name": "a" * 500,
           "pin-pin": "٢٥٨٠", "percent": "1e400", "welcome": "-1", "double_from": "25:99"}
    for url in every_url(store, version_of(alice).pk):
        assert client.post(url, odd).status_code in (200, 302, 405, 422), url
    assert Client().post("/cabinet/signup/", {"name": "x" * 300, "currency": "\x00"}
                         ).status_code == 422
    assert signed_in(alice.owner.user.email, alice.owner_password).post(
        "/cabinet/choose/", {"merchant": "\x00"}).status_code == 200
