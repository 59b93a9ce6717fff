"""The wallet's side (#20): the form from the SMS link without signing in, one use, then the
review's page (change for a day, the dialog); another person's review is 404."""

import pytest
import time_machine
from django.http import HttpResponse
from django.test import Client
from django_scopes import scopes_disabled

from kopilka.feedback.models import Review
from kopilka.web.wallet import signin
from tests.feedback.helpers import at, buy, member, requests_sent, reviews_on, tick, token_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent_link(shop):
    reviews_on(shop.merchant)
    anna = member(shop, "Анна")
    buy(shop, anna, 150_000, moment=at(2030, 3, 1, 12))
    tick(at(2030, 3, 1, 14))
    return anna, "/my/r/" + token_of(requests_sent(anna)[0])


def test_rate_from_the_link_then_the_link_is_refused(sent_link):
    anna, url = sent_link
    client = Client(headers={"Accept-Language": "ru"})
    with time_machine.travel(at(2030, 3, 1, 15), tick=False):
        page = client.get(url)
        assert page.status_code == 200
        text = page.content.decode()
        assert "Как вам покупка?" in text and "1\xa0500,00\xa0₽" in text
        assert text.count('type="radio" name="score"') == 5
        refused = client.post(url, {"comment": "x"})
        assert refused.status_code == 422
        assert "Выберите оценку от 1 до 5." in refused.content.decode()
        sent = client.post(url, {"score": "2", "comment": "Кофе остыл"})
        assert sent.status_code == 302
        with scopes_disabled():
            review = Review.objects.get()
        assert sent["Location"] == f"/my/reviews/{review.pk}/"
        assert (review.score, review.comment) == (2, "Кофе остыл")
        # Signed in by the link: the review's page opens.
        mine = client.get(sent["Location"])
        assert mine.status_code == 200 and "Кофе остыл" in mine.content.decode()
        again = Client(headers={"Accept-Language": "ru"}).post(url, {"score": "5"})
        assert again.status_code == 410
        assert "Эта ссылка уже использована" in again.content.decode()
        assert Client().get(url).status_code == 410
    assert Client().get("/my/r/AAAAAAAAAA").status_code == 404


def test_change_within_a_day_and_reply(sent_link, shop):
    anna, url = sent_link
    client = Client(headers={"Accept-Language": "en"})
    with time_machine.travel(at(2030, 3, 1, 15), tick=False):
        page = client.post(url, {"score": "2"})
        review_url = page["Location"]
        changed = client.post(review_url, {"action": "edit", "score": "4", "comment": "Better"})
        assert changed.status_code == 302
        junk = client.post(review_url, {"action": "edit", "score": "9"})
        assert junk.status_code == 422
        empty = client.post(review_url, {"action": "reply", "text": " "})
        assert empty.status_code == 422
        replied = client.post(review_url, {"action": "reply", "text": "Hello"})
        assert replied.status_code == 302
    with scopes_disabled():
        review = Review.objects.get()
        assert (review.score, review.comment) == (4, "Better")
        assert [m.text for m in review.messages.all()] == ["Hello"]
    with time_machine.travel(at(2030, 3, 2, 16), tick=False):
        late = client.get(review_url)
        assert 'value="edit"' not in late.content.decode()
        assert client.post(review_url, {"action": "edit", "score": "1"}).status_code == 422


def test_another_persons_review_is_404(sent_link, bob):
    anna, url = sent_link
    client = Client()
    with time_machine.travel(at(2030, 3, 1, 15), tick=False):
        review_url = client.post(url, {"score": "5"})["Location"]
    stranger = Client()  # bob's member, signed in to the wallet
    response = HttpResponse()
    signin.remember(response, bob.member.person)
    stranger.cookies[signin.COOKIE] = response.cookies[signin.COOKIE].value
    assert stranger.get(review_url).status_code == 404
    assert stranger.get("/my/reviews/").status_code == 200
    assert Client().get(review_url).status_code == 302  # not signed in: to the sign-in page
