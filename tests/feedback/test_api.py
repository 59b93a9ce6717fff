"""The management API for reviews (#20): the list with the cabinet's filters and masked phones,
one review with its dialog, answering through the cabinet's service (the member's SMS),
status and assignment, NPS and quality per store and cashier with exact figures; bad input is
a problem naming the field, another merchant's review 404, a cashier 403."""

import json

import pytest
from django_scopes import scope, scopes_disabled

from kopilka.core.models import AuditEntry
from kopilka.feedback.models import Review, ReviewMessage
from kopilka.messaging.models import Event, Message
from kopilka.tenancy import services as tenancy
from kopilka.tenancy.models import Staff
from tests.feedback.helpers import ACTOR, at, buy, member, rate, reviews_on
from tests.tenancy.tools import make_staff

pytestmark = pytest.mark.django_db
URL = "/api/v1/manage/reviews"
MARCH = {"since": "2030-03-01", "until": "2030-03-31"}


def patch(client, url, body):
    return client.patch(url, json.dumps(body), content_type="application/json")


def post(client, url, body):
    return client.post(url, json.dumps(body), content_type="application/json")


def errors(response) -> dict:
    assert response["Content-Type"] == "application/problem+json"
    return {error["field"]: error["message"] for error in response.json().get("errors") or []}


@pytest.fixture
def people(alice):
    """Two cashiers at two stores, and a manager to put in charge."""
    masha = make_staff(alice.merchant, "masha@example.com", Staff.Role.CASHIER)
    petya = make_staff(alice.merchant, "petya@example.com", Staff.Role.CASHIER)
    mila = make_staff(alice.merchant, "mila@example.com", Staff.Role.MANAGER)
    with scope(merchant=alice.merchant):
        second = tenancy.create_store(alice.merchant, "Second", actor=ACTOR)
    return {"main": alice.terminal.store, "second": second, "masha": masha, "petya": petya,
            "mila": mila}


@pytest.fixture
def reviewed(shop, people):
    """Anna's 5 and Boris's 2 at the main store by Masha (1 and 2 March), Vera's 4 at the
    second store by Petya (3 March)."""
    reviews_on(shop.merchant)
    anna = rate(shop, member(shop, "Anna"), 5, "Lovely", store=people["main"],
                cashier=people["masha"])
    boris = rate(shop, member(shop, "Boris"), 2, "Slow", store=people["main"],
                 cashier=people["masha"], moment=at(2030, 3, 2, 12))
    vera = rate(shop, member(shop, "Vera"), 4, "", store=people["second"],
                cashier=people["petya"], moment=at(2030, 3, 3, 12))
    return {"anna": anna, "boris": boris, "vera": vera}


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["items"]]


def test_the_list_filters_like_the_cabinet_and_pages_by_cursor(alice, reviewed, people):
    anna, boris, vera = reviewed["anna"].pk, reviewed["boris"].pk, reviewed["vera"].pk
    client = alice.as_role("manager")
    assert ids(client.get(URL)) == [vera, boris, anna]  # newest first
    assert ids(client.get(URL, {"score": 2})) == [boris]
    assert ids(client.get(URL, {"status": "new"})) == [vera, boris, anna]
    assert ids(client.get(URL, {"status": "processed"})) == []
    assert ids(client.get(URL, {"store": people["second"].pk})) == [vera]
    assert ids(client.get(URL, {"cashier": people["masha"].pk})) == [boris, anna]
    # The local days it was written (the merchant's zone): 2 March only, then from the 2nd.
    assert ids(client.get(URL, {"since": "2030-03-02", "until": "2030-03-02"})) == [boris]
    assert ids(client.get(URL, {"since": "2030-03-02"})) == [vera, boris]
    assert ids(client.get(URL, {"until": "2030-03-01"})) == [anna]
    first = client.get(URL, {"limit": 2, "cashier": people["masha"].pk, "score": 5}).json()
    assert [item["id"] for item in first["items"]] == [anna] and first["next"] is None
    page = client.get(URL, {"limit": 2}).json()
    assert [item["id"] for item in page["items"]] == [vera, boris] and page["next"] == str(boris)
    rest = client.get(URL, {"limit": 2, "cursor": page["next"]}).json()
    assert [item["id"] for item in rest["items"]] == [anna] and rest["next"] is None


def test_a_manager_sees_masked_phones_an_owner_full_ones(alice, reviewed):
    anna = reviewed["anna"]
    with scopes_disabled():
        phone = str(Review.objects.select_related("member__person").get(pk=anna.pk)
                    .member.person.phone)
    row = next(item for item in alice.as_role("manager").get(URL).json()["items"]
               if item["id"] == anna.pk)
    assert row["member"] == {"id": anna.member_id, "name": "Anna",
                             "phone": phone[:5] + "***" + phone[-4:], "alias": None}
    assert row["score"] == 5 and row["comment"] == "Lovely" and row["status"] == "new"
    assert row["purchase"]["total"] == 100_000
    assert row["cashier"]["name"] == "masha@example.com"
    owner = alice.manage().get(f"{URL}/{anna.pk}").json()
    assert owner["member"]["phone"] == phone


def test_the_answer_goes_to_the_member_as_from_the_cabinet(alice, reviewed, outbox):
    boris = reviewed["boris"]
    manager = alice.as_role("manager")
    answered = post(manager, f"{URL}/{boris.pk}/answers", {"text": "Sorry, we will be faster"})
    assert answered.status_code == 201, answered.content
    body = answered.json()
    assert body["status"] == "in_progress"
    assert [(m["author"], m["text"]) for m in body["messages"]] == [
        ("staff", "Sorry, we will be faster")]
    assert body["messages"][0]["staff"]["name"] == "manager@alice-coffee.io"
    with scopes_disabled():
        sms = Message.objects.filter(event=Event.REVIEW_ANSWER, member_id=boris.member_id)
        assert sms.count() == 1
        assert "/my/r/" in sms.get().body
        entry = AuditEntry.objects.get(action="feedback.review.answered", object_id=boris.pk)
        assert entry.actor_kind == "token"
    # The thread, as the wallet and the cabinet see it.
    detail = manager.get(f"{URL}/{boris.pk}").json()
    assert [m["author"] for m in detail["messages"]] == ["staff"]
    # Processed closes the dialog: answering again is a conflict naming the text.
    assert patch(manager, f"{URL}/{boris.pk}", {"status": "processed"}).json()["status"] == \
        "processed"
    closed = post(manager, f"{URL}/{boris.pk}/answers", {"text": "One more thing"})
    assert closed.status_code == 409
    assert list(errors(closed)) == ["text"]
    with scopes_disabled():
        assert ReviewMessage.objects.filter(review_id=boris.pk).count() == 1


def test_assign_and_status_change_together_or_not_at_all(alice, reviewed, people):
    vera = reviewed["vera"]
    client = alice.manage()
    mila = people["mila"]
    done = patch(client, f"{URL}/{vera.pk}", {"assigned": mila.pk, "status": "in_progress"})
    assert done.status_code == 200, done.content
    assert done.json()["assigned"] == {"id": mila.pk, "name": "mila@example.com"}
    assert done.json()["status"] == "in_progress"
    # A cashier cannot be put in charge: 404 naming the field, and the status stays.
    refused = patch(client, f"{URL}/{vera.pk}", {"assigned": people["masha"].pk,
                                                 "status": "processed"})
    assert refused.status_code == 404
    assert list(errors(refused)) == ["assigned"]
    with scopes_disabled():
        row = Review.objects.get(pk=vera.pk)
    assert (row.status, row.assigned_id) == ("in_progress", mila.pk)
    cleared = patch(client, f"{URL}/{vera.pk}", {"assigned": None})
    assert cleared.json()["assigned"] is None and cleared.json()["status"] == "in_progress"


def test_bad_input_is_a_problem_naming_the_field(alice, bob, reviewed):
    client = alice.manage()
    vera = reviewed["vera"].pk
    cases = [
        (client.get(URL, {"score": 9}), 422, "score"),
        (client.get(URL, {"status": "lost"}), 422, "status"),
        (client.get(URL, {"since": "junk"}), 422, "since"),
        (client.get(URL, {"until": "9999-12-31"}), 422, "until"),
        (client.get(f"{URL}/quality", {"until": "0001-01-01"}), 422, "until"),
        (client.get(URL, {"since": "2030-03-09", "until": "2030-03-01"}), 422, "until"),
        (client.get(URL, {"cursor": "x"}), 422, "cursor"),
        (client.get(URL, {"store": bob.terminal.store_id}), 404, "store"),
        (client.get(f"{URL}/quality", {"cashier": bob.owner.pk}), 404, "cashier"),
        (client.get(f"{URL}/quality", {"since": "2020-01-01", "until": "2030-01-01"}), 422,
         "since"),
        (post(client, f"{URL}/{vera}/answers", {"text": ""}), 422, "text"),
        (post(client, f"{URL}/{vera}/answers", {"text": "   "}), 422, "text"),
        (post(client, f"{URL}/{vera}/answers", {"text": "x", "to": "all"}), 422, "to"),
        (patch(client, f"{URL}/{vera}", {"status": "closed"}), 422, "status"),
        (patch(client, f"{URL}/{vera}", {"status": None}), 422, "status"),
        (patch(client, f"{URL}/{vera}", {"assigned": "me"}), 422, "assigned"),
    ]
    assert [(r.status_code, list(errors(r))) for r, _s, _f in cases] == [
        (status, [field]) for _r, status, field in cases]
    with scopes_disabled():
        row = Review.objects.get(pk=vera)
        assert (row.status, row.assigned_id) == ("new", None)
        assert not ReviewMessage.objects.filter(review_id=vera).exists()


def test_another_merchant_gets_404_and_a_cashier_403(alice, bob, charlie, reviewed):
    anna = reviewed["anna"].pk
    stranger = bob.manage()
    assert ids(stranger.get(URL)) == []
    for response in (stranger.get(f"{URL}/{anna}"),
                     post(stranger, f"{URL}/{anna}/answers", {"text": "Hi"}),
                     patch(stranger, f"{URL}/{anna}", {"status": "processed"})):
        assert response.status_code == 404
        assert response.json()["type"] == "/problems/not-found"
    cashier = charlie.manage()
    for response in (cashier.get(URL), cashier.get(f"{URL}/quality"),
                     cashier.get(f"{URL}/{anna}"),
                     post(cashier, f"{URL}/{anna}/answers", {"text": "Hi"}),
                     patch(cashier, f"{URL}/{anna}", {"status": "processed"})):
        assert response.status_code == 403
        assert response.json()["type"] == "/problems/forbidden"
    with scopes_disabled():
        assert Review.objects.get(pk=anna).status == "new"
        assert not ReviewMessage.objects.filter(review_id=anna).exists()


def test_nps_40_from_six_fives_two_fours_two_twos(shop, alice):
    reviews_on(shop.merchant)
    for score in [5] * 6 + [4] * 2 + [2] * 2:
        rate(shop, member(shop), score)
    found = alice.manage().get(f"{URL}/quality", MARCH)
    assert found.status_code == 200, found.content
    body = found.json()
    assert (body["since"], body["until"]) == ("2030-03-01", "2030-03-31")
    assert body["total"] == {"id": None, "name": "", "reviews": 10, "sales": 10,
                             "average": 4.2, "nps": 40, "promoters": 6, "passives": 2,
                             "detractors": 2}


def test_quality_per_cashier_and_store_with_the_sales_behind_it(shop, alice, people):
    reviews_on(shop.merchant)
    main, second, masha, petya = (people[key] for key in ("main", "second", "masha", "petya"))
    for score in (5, 5, 4, 1):
        rate(shop, member(shop), score, store=main, cashier=masha)
    rate(shop, member(shop), 3, store=second, cashier=petya)
    for _n in range(3):  # sales nobody rated
        buy(shop, shop.tenant.member, moment=at(2030, 3, 10, 12), store=second, cashier=petya)
    client = alice.as_role("manager")
    body = client.get(f"{URL}/quality", MARCH).json()
    assert [(row["name"], row["reviews"], row["average"], row["nps"], row["sales"])
            for row in body["cashiers"]] == [
        ("masha@example.com", 4, 3.8, 25, 4),  # 2 promoters, 1 passive, 1 detractor of 4
        ("petya@example.com", 1, 3.0, -100, 4),
    ]
    assert [(row["id"], row["name"], row["reviews"], row["nps"], row["sales"])
            for row in body["stores"]] == [(main.pk, "Main", 4, 25, 4),
                                           (second.pk, "Second", 1, -100, 4)]
    assert (body["total"]["reviews"], body["total"]["nps"], body["total"]["sales"]) == (5, 0, 8)
    only = client.get(f"{URL}/quality", {**MARCH, "cashier": petya.pk}).json()
    assert (only["total"]["reviews"], only["total"]["nps"], only["total"]["sales"]) == (1, -100, 4)
    assert [row["name"] for row in only["cashiers"]] == ["petya@example.com"]
    # A period without reviews or sales: no NPS, no average.
    empty = client.get(f"{URL}/quality", {"since": "2030-05-01", "until": "2030-05-31"}).json()
    assert empty["total"] == {"id": None, "name": "", "reviews": 0, "sales": 0,
                              "average": None, "nps": None, "promoters": 0, "passives": 0,
                              "detractors": 0}
    assert empty["cashiers"] == [] and empty["stores"] == []
