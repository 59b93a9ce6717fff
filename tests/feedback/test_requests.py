"""FBK-1: one review request per purchase, after the delay, outside quiet hours, only with
consent and at most one per member in N days; a single-use link."""

import pytest
import time_machine

from kopilka.core.errors import Conflict
from kopilka.feedback import services as feedback
from kopilka.feedback.models import Review, ReviewRequest
from kopilka.members import services as members
from kopilka.messaging.models import Message
from tests.feedback.helpers import (
    ACTOR,
    at,
    buy,
    member,
    rate,
    requests_sent,
    reviews_on,
    tick,
    token_of,
)

pytestmark = pytest.mark.django_db


def test_the_request_goes_two_hours_after_the_purchase_with_a_short_link(shop):
    reviews_on(shop.merchant)
    anna = member(shop, "Анна")
    purchase = buy(shop, anna, 150_000, moment=at(2030, 3, 1, 12))
    request = ReviewRequest.objects.get(purchase=purchase)
    assert (request.status, request.due_at) == ("scheduled", at(2030, 3, 1, 14))
    assert tick(at(2030, 3, 1, 13, 59)) == 0
    assert tick(at(2030, 3, 1, 14)) == 1
    [body] = requests_sent(anna)
    assert body == f"Анна, оцените покупку в Alice Coffee: http://localhost:8000/my/r/{token_of(body)}"
    request.refresh_from_db()
    assert (request.status, request.sent_at) == ("sent", at(2030, 3, 1, 14))


def test_one_request_per_purchase_when_the_job_runs_twice(shop):
    reviews_on(shop.merchant)
    anna = member(shop)
    purchase = buy(shop, anna, moment=at(2030, 3, 1, 12))
    assert tick(at(2030, 3, 1, 14)) == 1
    assert tick(at(2030, 3, 1, 14)) == 0  # the same run again
    assert tick(at(2030, 3, 1, 15)) == 0
    request = ReviewRequest.objects.get(purchase=purchase)
    assert feedback.send(request.pk, at(2030, 3, 1, 16)) is False  # the deferred task, late
    assert len(requests_sent(anna)) == 1
    assert ReviewRequest.objects.filter(purchase=purchase).count() == 1
    # Scheduling the same purchase again (a subscriber run twice) makes no second request.
    assert feedback.schedule(shop.merchant, purchase, anna) is None


def test_no_request_without_consent(shop):
    reviews_on(shop.merchant)
    boris = member(shop, "Boris", consent=False)
    buy(shop, boris, moment=at(2030, 3, 1, 12))
    assert ReviewRequest.objects.filter(member=boris).count() == 0
    assert tick(at(2030, 3, 2, 12)) == 0
    assert requests_sent() == []


def test_consent_withdrawn_before_the_moment_sends_nothing(shop):
    reviews_on(shop.merchant)
    anna = member(shop)
    purchase = buy(shop, anna, moment=at(2030, 3, 1, 12))
    members.revoke_consent(anna, "messages", actor=ACTOR)
    assert tick(at(2030, 3, 1, 14)) == 0
    assert ReviewRequest.objects.get(purchase=purchase).status == "skipped"
    assert requests_sent() == []


def test_no_request_in_quiet_hours_it_waits_for_the_morning(shop):
    reviews_on(shop.merchant)  # quiet hours: 21:00-09:00 (the default)
    anna = member(shop)
    purchase = buy(shop, anna, moment=at(2030, 3, 1, 20, 30))  # due 22:30: quiet
    assert ReviewRequest.objects.get(purchase=purchase).due_at == at(2030, 3, 2, 9)
    assert tick(at(2030, 3, 1, 22, 30)) == 0
    assert tick(at(2030, 3, 2, 8, 59)) == 0
    assert requests_sent() == []
    assert tick(at(2030, 3, 2, 9)) == 1
    message = Message.objects.get(member=anna)
    assert message.next_attempt_at == at(2030, 3, 2, 9)  # and it goes at once


def test_off_by_default_and_at_most_one_per_member_in_n_days(shop):
    anna = member(shop)
    buy(shop, anna, moment=at(2030, 3, 1, 12))
    assert ReviewRequest.objects.count() == 0  # a merchant asks for reviews by choice
    reviews_on(shop.merchant, once_per_days=7)
    buy(shop, anna, moment=at(2030, 3, 2, 12))
    buy(shop, anna, moment=at(2030, 3, 5, 12))  # within 7 days of the last request
    buy(shop, anna, moment=at(2030, 3, 9, 12, 1))
    assert [row.due_at for row in ReviewRequest.objects.order_by("pk")] == [
        at(2030, 3, 2, 14), at(2030, 3, 9, 14, 1)]


def test_a_link_used_twice_is_refused(shop):
    reviews_on(shop.merchant)
    anna = member(shop)
    buy(shop, anna, moment=at(2030, 3, 1, 12))
    tick(at(2030, 3, 1, 14))
    token = token_of(requests_sent(anna)[0])
    with time_machine.travel(at(2030, 3, 1, 15), tick=False):
        link = feedback.find_link(token)
        assert feedback.link_state(link) == "open"
        review = feedback.submit(link, score=5, comment="  Great coffee  ")
        assert (review.score, review.comment) == (5, "Great coffee")
        again = feedback.find_link(token)
        assert feedback.link_state(again) == "used"
        with pytest.raises(Conflict, match="уже использована"):
            feedback.submit(again, score=1)
    assert Review.objects.count() == 1


def test_a_link_expires_after_two_weeks_and_an_unknown_one_is_none(shop):
    reviews_on(shop.merchant)
    anna = member(shop)
    buy(shop, anna, moment=at(2030, 3, 1, 12))
    tick(at(2030, 3, 1, 14))
    link = feedback.find_link(token_of(requests_sent(anna)[0]))
    assert feedback.link_state(link, at(2030, 3, 15, 13, 59)) == "open"
    assert feedback.link_state(link, at(2030, 3, 15, 14)) == "expired"
    with time_machine.travel(at(2030, 3, 15, 14), tick=False), pytest.raises(Conflict):
        feedback.submit(link, score=4)
    assert feedback.find_link("AAAAAAAAAA") is None
    assert feedback.find_link("../../etc") is None


def test_editable_for_a_day(shop):
    reviews_on(shop.merchant)
    review = rate(shop, member(shop), 2, "Cold")
    with time_machine.travel(at(2030, 3, 2, 14, 4), tick=False):
        feedback.edit(review, score=4, comment="Warm now", actor=ACTOR)
    review.refresh_from_db()
    assert (review.score, review.comment) == (4, "Warm now")
    with time_machine.travel(at(2030, 3, 2, 14, 5), tick=False), \
            pytest.raises(Conflict, match="в течение суток"):
        feedback.edit(review, score=1, comment="", actor=ACTOR)


@pytest.mark.parametrize("score", [0, 6, "5", True, None])
def test_a_score_is_a_whole_number_from_1_to_5(shop, score):
    reviews_on(shop.merchant)
    anna = member(shop)
    buy(shop, anna, moment=at(2030, 3, 1, 12))
    tick(at(2030, 3, 1, 14))
    link = feedback.find_link(token_of(requests_sent(anna)[0]))
    with time_machine.travel(at(2030, 3, 1, 15), tick=False), \
            pytest.raises(Exception, match="оценку от 1 до 5"):
        feedback.submit(link, score=score)
