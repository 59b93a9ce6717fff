"""The cabinet's billing page in a real browser, on a phone and a desktop, in Russian: a daily
plan that ran out of money three weeks in (the read-only banner), the statement with its
opening and closing balances, and the XLSX download. Screenshots go to $KOPILKA_SCREENSHOTS
(docs/img/ keeps the guide's)."""

import io
from datetime import timedelta

import openpyxl
import pytest
import time_machine
from django_scopes import scope
from playwright.sync_api import expect

from kopilka.billing import services, tasks
from kopilka.billing.models import Plan
from kopilka.core import clock
from kopilka.core.actor import Actor

VIEWPORTS = ["pixel-7", "desktop"]


def three_weeks_of_daily_debit(tenant):
    """A 60,00 ₽ daily debit since 20 days ago, 1 000,00 ₽ paid on the first day: 21 days
    later 1 260,00 ₽ is charged and 260,00 ₽ owed; past the grace days, read-only."""
    merchant = tenant.merchant
    plan = services.save_plan(code="daily", name="Каждый день", kind=Plan.Kind.DAILY,
                              daily_price=6_000, actor=Actor.cli())
    today = services.today(merchant)
    first = clock.now() - timedelta(days=20)
    with scope(merchant=merchant), time_machine.travel(first, tick=False):
        services.top_up(merchant, 100_000, note="счёт 1", actor=Actor.cli())
        services.subscribe(merchant, plan, start=today - timedelta(days=20), actor=Actor.cli())
    for days in range(20, -1, -1):
        moment = clock.now() - timedelta(days=days)
        with time_machine.travel(moment, tick=False):
            tasks.run(moment)
    return today


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_the_billing_page_shows_the_statement_and_the_read_only_state(screen_in, alice,
                                                                      viewport):
    today = three_weeks_of_daily_debit(alice)
    screen = screen_in("ru")
    page = screen.page
    screen.go("/cabinet/signin/?next=/cabinet/billing/")
    page.get_by_label("E-mail").fill(alice.owner.user.email)
    page.get_by_label("Пароль").fill(alice.owner_password)
    page.get_by_role("button", name="Войти").click()
    expect(page.get_by_role("heading", name="Оплата", exact=True)).to_be_visible()
    expect(page.locator('[data-state="read-only"]')).to_be_visible()
    start = (today - timedelta(days=20)).isoformat()
    screen.go(f"/cabinet/billing/?start={start}&end={today.isoformat()}")
    expect(page.locator("[data-opening]")).to_have_text("0,00 ₽")
    expect(page.locator("[data-charges]")).to_have_text("1 260,00 ₽")
    expect(page.locator("[data-payments]")).to_have_text("1 000,00 ₽")
    expect(page.locator("[data-closing]")).to_have_text("-260,00 ₽")
    screen.shot("billing")
    with page.expect_download() as caught:
        page.get_by_role("link", name="Выписка, XLSX").click()
    sheet = openpyxl.load_workbook(io.BytesIO(caught.value.path().read_bytes())).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[5][0] == "Сальдо на начало" and rows[-3][0] == "Сальдо на конец"
    assert rows[-3][4] == -260.0
