"""FBK-1 and FBK-3: NPS (promoters 5, passives 4, detractors 1-3), quality per cashier and
store with the sales behind it; analytics figures 12-15; the dialog, webhooks, the alert."""

from datetime import date

import pytest
import time_machine
from django.core import mail
from django_scopes import scope

from kopilka.analytics import figures as analytics
from kopilka.core.errors import Conflict
from kopilka.feedback import quality
from kopilka.feedback import services as feedback
from kopilka.feedback.models import Review
from kopilka.messaging.models import Event, Message
from kopilka.tenancy import services as tenancy
from kopilka.tenancy.models import Staff
from kopilka.webhooks import services as webhooks
from kopilka.webhooks.models import Delivery
from tests.feedback.helpers import ACTOR, LINK, at, buy, member, rate, reviews_on
from tests.tenancy.tools import make_staff

pytestmark = pytest.mark.django_db
MARCH = (date(2030, 3, 1), date(2030, 3, 31))


def test_nps_of_ten_reviews_six_fives_two_fours_two_twos_is_40(shop):
    reviews_on(shop.merchant)
    for score in [5] * 6 + [4] * 2 + [2] * 2:
        rate(shop, member(shop), score)
    found = quality.summary(shop.merchant, *MARCH)
    assert (found.reviews, found.promoters, found.passives, found.detractors) == (10, 6, 2, 2)
    assert found.nps == 40
    assert str(found.average) == "4.2"  # (30 + 8 + 4) / 10
    assert found.sales == 10


def test_nps_rounds_halves_away_from_zero_and_is_none_without_reviews():
    assert quality.nps(0, 0, 0) is None
    assert quality.nps(1, 0, 0) == 100
    assert quality.nps(0, 0, 1) == -100
    assert quality.nps(1, 1, 0) == 50
    assert quality.nps(1, 4, 3) == -25
    assert quality.nps(1, 6, 0) == 14  # 14.29
    assert quality.nps(0, 7, 1) == -13  # -12.5
    assert quality.nps(1, 0, 7) == -75
    assert quality.nps(0, 1, 7) == -88  # -87.5


@pytest.fixture
def counters(alice):
    """Two cashiers at two stores: Masha at the main store, Petya at the second."""
    masha = make_staff(alice.merchant, "masha@example.com", Staff.Role.CASHIER)
    petya = make_staff(alice.merchant, "petya@example.com", Staff.Role.CASHIER)
    with scope(merchant=alice.merchant):
        second = tenancy.create_store(alice.merchant, "Second", actor=ACTOR)
    return {"main": alice.terminal.store, "second": second, "masha": masha, "petya": petya}


def test_quality_per_cashier_and_store_with_the_sales_behind_it(shop, counters):
    reviews_on(shop.merchant)
    main, second, masha, petya = (counters[key] for key in ("main", "second", "masha", "petya"))
    for score in (5, 5, 4, 1):
        rate(shop, member(shop), score, store=main, cashier=masha)
    rate(shop, member(shop), 3, store=second, cashier=petya)
    for _n in range(3):  # sales nobody rated
        buy(shop, shop.tenant.member, moment=at(2030, 3, 10, 12), store=second, cashier=petya)
    rows = quality.per(shop.merchant, *MARCH, "cashier_id",
                       labels={masha.pk: "Masha", petya.pk: "Petya"})
    assert [(row.label, row.reviews, str(row.average), row.nps, row.sales) for row in rows] == [
        ("Masha", 4, "3.8", 25, 4),  # 2 promoters, 1 passive, 1 detractor of 4
        ("Petya", 1, "3.0", -100, 4),
    ]
    stores = quality.per(shop.merchant, *MARCH, "store_id")
    assert [(row.key, row.reviews, row.nps, row.sales) for row in stores] == [
        (main.pk, 4, 25, 4), (second.pk, 1, -100, 4)]
    only = quality.summary(shop.merchant, *MARCH, cashier_id=petya.pk)
    assert (only.reviews, only.nps, only.sales) == (1, -100, 4)
    # A period without them.
    assert quality.per(shop.merchant, date(2030, 4, 1), date(2030, 4, 30), "cashier_id") == []


def test_analytics_figures_12_to_15_count_reviews_by_group_and_status(shop):
    reviews_on(shop.merchant)
    made = [rate(shop, member(shop), score) for score in (5, 5, 4, 3, 1)]
    feedback.set_status(made[3], status="processed", actor=ACTOR)
    feedback.set_status(made[0], status="in_progress", actor=ACTOR)
    report = analytics.report(shop.merchant, *MARCH)
    found = {(f.key, f.topic): f.value for f in report.figures if 12 <= f.number <= 15}
    assert found == {
        ("reviews_total", None): 5,
        ("reviews_positive", None): 2, ("reviews_positive", "new"): 1,
        ("reviews_positive", "in_progress"): 1, ("reviews_positive", "processed"): 0,
        ("reviews_negative", None): 2, ("reviews_negative", "new"): 1,
        ("reviews_negative", "in_progress"): 0, ("reviews_negative", "processed"): 1,
        ("reviews_neutral", None): 1, ("reviews_neutral", "new"): 1,
        ("reviews_neutral", "in_progress"): 0, ("reviews_neutral", "processed"): 0,
    }
    assert report.reviews_available is True


def test_the_dialog_answer_reply_close(shop, outbox):
    reviews_on(shop.merchant)
    anna = member(shop, "Анна")
    review = rate(shop, anna, 2, "Кофе остыл")
    owner = shop.tenant.owner
    with time_machine.travel(at(2030, 3, 1, 15), tick=False):
        feedback.answer(review, staff=owner, text="Простите! Ждём вас снова.", actor=ACTOR)
    assert review.status == "in_progress"
    sms = Message.objects.get(event=Event.REVIEW_ANSWER)
    assert sms.body.startswith("Alice Coffee: ответ на ваш отзыв http://localhost:8000/my/r/")
    link = feedback.find_link(LINK.search(sms.body).group(1))
    with time_machine.travel(at(2030, 3, 1, 16), tick=False):
        assert feedback.use_answer_link(link) == review
        with pytest.raises(Conflict):
            feedback.use_answer_link(link)
        feedback.reply(review, text="Спасибо!", actor=ACTOR)
    feedback.set_status(review, status="processed", actor=ACTOR)
    with pytest.raises(Conflict, match="закрыт"):
        feedback.reply(review, text="Ещё", actor=ACTOR)
    with pytest.raises(Conflict, match="закрыт"):
        feedback.answer(review, staff=owner, text="Ещё", actor=ACTOR)
    assert [(m.author, m.text) for m in feedback.thread(review)] == [
        ("staff", "Простите! Ждём вас снова."), ("member", "Спасибо!")]
    review.refresh_from_db()
    assert (review.status, review.last_message_at) == ("processed", at(2030, 3, 1, 16))


def test_assign_only_a_manager_of_the_merchant(shop, bob, charlie):
    reviews_on(shop.merchant)
    review = rate(shop, member(shop), 3)
    feedback.assign(review, staff_id=shop.tenant.owner.pk, actor=ACTOR)
    assert Review.objects.get(pk=review.pk).assigned_id == shop.tenant.owner.pk
    for other in (bob.owner.pk, charlie.staff.pk):  # another merchant's; a cashier
        with pytest.raises(Exception, match="Нет менеджера"):
            feedback.assign(review, staff_id=other, actor=ACTOR)
    feedback.assign(review, staff_id=None, actor=ACTOR)
    assert Review.objects.get(pk=review.pk).assigned_id is None


def test_webhooks_review_created_and_answered(shop):
    reviews_on(shop.merchant)
    webhooks.create_endpoint(shop.merchant, url="https://example.com/hook",
                             events=["review.created", "review.answered"], actor=ACTOR)
    review = rate(shop, member(shop), 4, "Fine")
    feedback.answer(review, staff=shop.tenant.owner, text="Thanks", actor=ACTOR)
    created, answered = Delivery.objects.order_by("pk")
    assert created.event == "review.created"
    data = created.payload["data"]
    assert {key: data[key] for key in ("review_id", "score", "comment", "status")} == {
        "review_id": review.pk, "score": 4, "comment": "Fine", "status": "new"}
    assert answered.event == "review.answered"
    assert {key: answered.payload["data"][key] for key in ("review_id", "staff_id", "text",
                                                           "status")} == {
        "review_id": review.pk, "staff_id": shop.tenant.owner.pk, "text": "Thanks",
        "status": "in_progress"}


def test_a_low_score_emails_the_owner_when_the_merchant_wants_it(
        shop, django_capture_on_commit_callbacks):
    reviews_on(shop.merchant, alert_on=True, alert_score=2)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        rate(shop, member(shop), 3)
    assert mail.outbox == []
    with django_capture_on_commit_callbacks(execute=True):
        review = rate(shop, member(shop), 2, "Rude")
    [email] = mail.outbox
    assert email.to == ["alice@example.com"]
    assert email.subject == "Alice Coffee: отзыв с оценкой 2"
    assert f"/cabinet/reviews/{review.pk}/" in email.body and "Rude" in email.body
