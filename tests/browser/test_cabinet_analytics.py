"""The cabinet's analytics in a real browser, on a phone and a desktop: the figures of the
hand-made shop load one by one, a period switch reloads them, a chart is drawn (its canvas has
pixels), no inline script and nothing fetched from outside."""

import openpyxl
import pytest
from django_scopes import scope
from playwright.sync_api import expect

from tests.analytics.scenario import hand_made_shop
from tests.shop import Shop

MARCH = "/cabinet/analytics/?period=custom&since=2030-03-01&until=2030-03-07"


def sign_in(screen, tenant, then: str) -> None:
    page = screen.page
    screen.go("/cabinet/signin/?next=" + then.replace("&", "%26").replace("?", "%3F"))
    page.get_by_label("E-mail").fill(tenant.owner.user.email)
    page.get_by_label("Password").fill(tenant.owner_password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("load")


def painted(page, selector: str) -> bool:
    """Whether the canvas has any non-transparent pixel (Chart.js drew on it)."""
    return page.evaluate("""(selector) => {
        const canvas = document.querySelector(selector);
        if (!canvas || !canvas.width) return false;
        const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        for (let i = 3; i < data.length; i += 4) if (data[i]) return true;
        return false;
    }""", selector)


@pytest.mark.parametrize("viewport", ["pixel-7", "desktop"])
def test_figures_a_period_switch_and_a_chart(screen, alice, charlie, viewport):
    with scope(merchant=alice.merchant):
        hand_made_shop(Shop(alice), charlie.staff)
    page = screen.page
    sign_in(screen, alice, MARCH)
    revenue = page.locator("[data-figure='1'] [data-key='revenue'] [data-value]")
    expect(revenue).to_have_text("RUB1,147.50")
    expect(page.locator("[data-figure='2'] [data-value]")).to_have_text("5")
    expect(page.locator("[data-figure='1'] [data-change]")).to_have_text("+1,175.0%")
    # The charts load when they scroll into view; the first one draws.
    page.locator("[data-chart-card='sales']").scroll_into_view_if_needed()
    chart = page.locator("[data-chart-card='sales'] canvas")
    expect(chart).to_have_attribute("data-drawn", "1")
    assert painted(page, "[data-chart-card='sales'] canvas")
    page.locator("[data-figure='1']").scroll_into_view_if_needed()
    screen.shot("cabinet-analytics")
    # A preset sends the filter at once: today has no sales in the hand-made shop (2030).
    page.get_by_label("7 days").check()
    expect(page).to_have_url(__import__("re").compile(r"period=7"))
    expect(revenue).to_have_text("RUB0.00")


@pytest.mark.parametrize("viewport", ["pixel-7", "desktop"])
def test_an_export_downloaded_and_read_back(screen, alice, charlie, viewport, settings,
                                            tmp_path):
    settings.DATA_DIR = tmp_path
    with scope(merchant=alice.merchant):
        hand_made_shop(Shop(alice), charlie.staff)
    page = screen.page
    sign_in(screen, alice, "/cabinet/analytics/")
    page.get_by_role("link", name="Exports").click()
    page.get_by_label("Members").check()
    page.get_by_label("Excel (XLSX)").check()
    page.get_by_role("button", name="Export").click()
    link = page.locator("[data-download]").first
    expect(link).to_be_visible()
    screen.shot("cabinet-analytics-exports")
    with page.expect_download() as waiting:
        link.click()
    saved = tmp_path / "members.xlsx"
    waiting.value.save_as(saved)
    rows = [list(row) for row in
            openpyxl.load_workbook(saved, read_only=True).active.iter_rows(values_only=True)]
    assert rows[0][:3] == ["Phone", "Name", "Gender"]
    anna = next(row for row in rows if row[0] == "+79990000001")
    assert (anna[1], anna[9], anna[12]) == ("Anna", 3, 337.5)


@pytest.mark.parametrize("viewport", ["pixel-7", "desktop"])
def test_the_money_view_and_the_simulator(screen, alice, charlie, viewport):
    with scope(merchant=alice.merchant):
        hand_made_shop(Shop(alice), charlie.staff)
    page = screen.page
    sign_in(screen, alice, "/cabinet/analytics/money/?day=2030-03-08")
    expect(page.locator("[data-liability] [data-money]")).to_have_text("RUB55.88")
    screen.shot("cabinet-analytics-money")
    screen.go("/cabinet/analytics/simulator/")
    page.get_by_label("Replay the last days").fill("30")
    page.get_by_role("button", name="Compare").click()
    # The session lives in 2026: the shop's eight checks (2029-30) are all "recent".
    expect(page.locator("[data-row='purchases'] td").first).to_have_text("8")
    screen.shot("cabinet-analytics-simulator")
