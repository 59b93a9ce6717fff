"""The cabinet's reviews (#20): the list with its filters and masked phones, the dialog,
assigning and the status, quality and settings; another merchant's review is 404, a cashier
is refused (403)."""

import pytest
import time_machine
from django_scopes import scope, scopes_disabled

from kopilka.feedback.models import Review, Settings
from kopilka.messaging.models import Event, Message
from kopilka.tenancy.models import Staff
from tests.conftest import Clerk
from tests.feedback.helpers import at, member, rate, reviews_on
from tests.tenancy.tools import PASSWORD, make_staff

pytestmark = pytest.mark.django_db


def owner_of(tenant, language="en"):
    return Clerk(staff=tenant.owner, password=tenant.owner_password,
                 token=tenant.token).session(language)


@pytest.fixture
def reviewed(shop, charlie):
    reviews_on(shop.merchant)
    store = shop.tenant.terminal.store
    five = rate(shop, member(shop, "Anna"), 5, "Lovely", store=store, cashier=charlie.staff)
    two = rate(shop, member(shop, "Boris"), 2, "Slow", store=store,
               moment=at(2030, 3, 2, 12))
    return five, two


def test_the_list_filters_and_masks_phones_for_a_manager(shop, reviewed):
    five, two = reviewed
    manager = make_staff(shop.merchant, "mila@example.com", Staff.Role.MANAGER)
    with time_machine.travel(at(2030, 3, 5, 12), tick=False):
        client = Clerk(staff=manager, password=PASSWORD, token="").session()
        page = client.get("/cabinet/reviews/")
        text = page.content.decode()
        assert page.status_code == 200
        assert text.count("data-review=") == 2
        assert "Slow" not in text  # comments are on the review's page
        assert "+79991000" not in text and "Anna · +7" in text  # masked
        assert client.get("/cabinet/reviews/", {"score": "2"}).content.decode().count(
            "data-review=") == 1
        assert client.get("/cabinet/reviews/", {"status": "processed"}).content.decode().count(
            "data-review=") == 0
        assert client.get("/cabinet/reviews/", {"since": "2030-03-02", "until": "2030-03-02"}
                          ).content.decode().count("data-review=") == 1
        bad = client.get("/cabinet/reviews/", {"score": "9", "since": "junk"})
        assert bad.status_code == 422
        # Managers may not change the settings (admins may), nor see the link to them.
        assert "/cabinet/reviews/settings/" not in text
        assert client.get("/cabinet/reviews/settings/").status_code == 403


def test_the_owner_answers_assigns_and_closes(shop, reviewed, outbox):
    five, two = reviewed
    url = f"/cabinet/reviews/{two.pk}/"
    with time_machine.travel(at(2030, 3, 2, 15), tick=False):
        client = owner_of(shop.tenant)
        page = client.get(url)
        assert page.status_code == 200 and "Slow" in page.content.decode()
        assert client.post(url, {"action": "answer", "text": " "}).status_code == 422
        assert client.post(url, {"action": "answer", "text": "Sorry!"}).status_code == 302
        assert client.post(url, {"action": "assign",
                                 "assigned": str(shop.tenant.owner.pk)}).status_code == 302
        assert client.post(url, {"action": "status", "status": "processed"}).status_code == 302
        assert client.post(url, {"action": "status", "status": "junk"}).status_code == 422
        closed = client.post(url, {"action": "answer", "text": "More"})
        assert closed.status_code == 409
    with scope(merchant=shop.merchant):
        review = Review.objects.get(pk=two.pk)
        assert (review.status, review.assigned_id) == ("processed", shop.tenant.owner.pk)
        assert [m.text for m in review.messages.all()] == ["Sorry!"]
        assert Message.objects.filter(event=Event.REVIEW_ANSWER).count() == 1


def test_quality_and_settings_pages(shop, reviewed):
    with time_machine.travel(at(2030, 3, 5, 12), tick=False):
        client = owner_of(shop.tenant, "ru")
        page = client.get("/cabinet/reviews/quality/")
        text = page.content.decode()
        assert page.status_code == 200
        assert 'data-table="cashiers"' in text and "charlie@example.com" in text
        assert client.get("/cabinet/reviews/quality/", {"since": "2030-03-09",
                                                        "until": "2030-03-01"}).status_code == 422
        saved = client.post("/cabinet/reviews/settings/", {
            "requests_on": "on", "delay_minutes": "60", "once_per_days": "14",
            "alert_on": "on", "alert_score": "2"})
        assert saved.status_code == 302
        refused = client.post("/cabinet/reviews/settings/", {
            "delay_minutes": "-1", "once_per_days": "0", "alert_score": "7"})
        assert refused.status_code == 422
    with scopes_disabled():
        row = Settings.objects.get(merchant=shop.merchant)
    assert (row.requests_on, row.delay_minutes, row.once_per_days, row.alert_on,
            row.alert_score) == (True, 60, 14, True, 2)


def test_another_merchants_review_is_404_and_a_cashier_is_refused(shop, reviewed, bob, charlie):
    five, _two = reviewed
    stranger = owner_of(bob)
    for path in (f"/cabinet/reviews/{five.pk}/",):
        assert stranger.get(path).status_code == 404
        assert stranger.post(path, {"action": "status", "status": "processed"}).status_code == 404
    assert stranger.get("/cabinet/reviews/").content.decode().count("data-review=") == 0
    cashier = charlie.session()
    for path in ("/cabinet/reviews/", f"/cabinet/reviews/{five.pk}/", "/cabinet/reviews/quality/",
                 "/cabinet/reviews/settings/"):
        assert cashier.get(path).status_code == 403
    with scopes_disabled():
        assert Review.objects.get(pk=five.pk).status == "new"
