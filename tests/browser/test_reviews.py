"""Reviews in a real browser, phone first (#20): a member rates a purchase from the SMS link
(read from the outbox), the owner answers in the cabinet, the member opens the answer's SMS
link and replies, the owner closes the review; the member then sees the dialog closed."""

import re
from datetime import time

import pytest
from django_scopes import scope, scopes_disabled
from playwright.sync_api import expect

from kopilka.core.actor import Actor
from kopilka.feedback import services as feedback
from kopilka.messaging import services as messaging
from kopilka.messaging import tasks
from kopilka.processing import services as processing
from kopilka.programs.engine import BasketLine
from tests.feedback.helpers import AGREED, LINK, reviews_on
from tests.shop import Shop

ACTOR = Actor.cli()


def sms_link(outbox) -> str:
    with scopes_disabled():
        tasks.deliver_due()
    return "/my/r/" + LINK.search(outbox[-1].body).group(1)


@pytest.fixture
def rated_purchase(alice, outbox):
    """A purchase of 1 500.00 at alice's main store by Анна, who agreed to messages; reviews
    asked at once and no quiet hours, so the request's SMS is in the outbox now."""
    merchant = alice.merchant
    with scope(merchant=merchant):
        messaging.save_settings(merchant, transactional="off", quiet_from=time(0),
                                quiet_to=time(0), actor=ACTOR)
        reviews_on(merchant, delay_minutes=0)
        anna = Shop(alice).join(phone="+79161112233", first_name="Анна", consents=AGREED)
        processing.commit_purchase(
            merchant, anna, processing.Sale(lines=(BasketLine(line_id="1", amount=150_000),)),
            receipt_id="R-2041", source="test", store=alice.terminal.store, actor=ACTOR)
    assert feedback.send_due() == 1
    return anna


@pytest.mark.parametrize("viewport", ["pixel-7", "desktop"])
def test_rate_answer_reply_close(screen_in, alice, rated_purchase, outbox):
    member = screen_in("ru")
    page = member.page
    member.go(sms_link(outbox))
    expect(page.get_by_role("heading", name="Как вам покупка?")).to_be_visible()
    expect(page.locator("[data-purchase]")).to_contain_text("Alice Coffee, Main: 1\xa0500,00\xa0₽")
    stars = page.locator(".stars__option input")
    expect(stars).to_have_count(5)
    page.locator(".stars__option").nth(0).click()
    page.keyboard.press("ArrowRight")  # a radio group: the arrow moves the choice
    expect(stars.nth(1)).to_be_checked()
    page.get_by_label("Комментарий").fill("Кофе остыл, пока ждали")
    member.shot("review-form")
    page.get_by_role("button", name="Отправить отзыв").click()
    expect(page.locator("[data-score]")).to_have_attribute("data-score", "2")
    expect(page.locator(".toast")).to_contain_text("Спасибо!")
    review_url = page.url

    owner = screen_in("en")
    desk = owner.page
    owner.go("/cabinet/signin/")
    desk.get_by_label("E-mail").fill("alice@example.com")
    desk.get_by_label("Password").fill(alice.owner_password)
    desk.get_by_role("button", name="Sign in").click()
    desk.get_by_role("link", name="Reviews").first.click()
    row = desk.locator("tr[data-review]")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("R-2041")
    expect(row.locator(".score")).to_have_text("2")
    expect(row).to_contain_text("Анна · +79161112233")  # the owner sees full phones
    owner.shot("cabinet-reviews")
    row.get_by_role("link").click()
    desk.get_by_label("Answer").fill("Простите! Следующий кофе за наш счёт.")
    desk.get_by_role("button", name="Send the answer").click()
    expect(desk.locator("[data-author=staff]")).to_contain_text("Следующий кофе за наш счёт")
    expect(desk.locator("h1 .badge")).to_have_text("in progress")

    # The member opens the answer's SMS link on the phone and replies.
    member.go(sms_link(outbox))
    page.get_by_role("button", name="Прочитать ответ").click()
    expect(page).to_have_url(review_url)
    expect(page.locator("[data-author=staff]")).to_contain_text("Следующий кофе за наш счёт")
    page.get_by_label("Ваше сообщение").fill("Спасибо, зайду завтра!")
    page.get_by_role("button", name="Отправить", exact=True).click()
    expect(page.locator("[data-author=member]")).to_contain_text("Спасибо, зайду завтра!")
    member.shot("review-dialog")

    # The owner sees the reply and closes the review.
    desk.reload()
    expect(desk.locator("[data-author=member]").last).to_contain_text("зайду завтра")
    desk.get_by_label("Status").select_option("processed")
    desk.get_by_role("button", name="Change status").click()
    expect(desk.locator("h1 .badge")).to_have_text("processed")
    expect(desk.locator("[data-closed]")).to_be_visible()
    owner.shot("cabinet-review")
    desk.get_by_role("link", name="Quality and NPS").click()
    stores = desk.locator("[data-table=stores] tbody tr")
    expect(stores).to_have_count(1)
    # Main: 1 review of 1 sale, average 2.0, NPS -100, no promoters or passives.
    expect(stores.locator("td")).to_have_text(["Main", "1", "1", "2.0", "-100", "0 · 0 · 1"])
    owner.shot("cabinet-review-quality")

    member.go(re.sub(r"^https?://[^/]+", "", review_url))
    expect(page.locator("[data-closed]")).to_have_text("Магазин закрыл этот диалог.")
    expect(page.get_by_label("Ваше сообщение")).to_have_count(0)
