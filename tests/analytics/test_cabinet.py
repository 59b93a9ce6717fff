"""The cabinet's analytics page: the first response carries no figure, each figure and chart
comes on its own request with exact values in the user's language; bad periods are the form's
errors (422), another merchant's store a 404, a cashier the 403 page."""

import json
import re
from datetime import date
from html import unescape

import pytest
from django.urls import reverse

from kopilka.tenancy.models import Staff
from tests.analytics.scenario import hand_made_shop
from tests.cabinet.tools import owner_of, staff_client

pytestmark = pytest.mark.django_db
MARCH = "period=custom&since=2030-03-01&until=2030-03-07"


@pytest.fixture
def march(shop, charlie):
    return hand_made_shop(shop, charlie.staff)


def figure_html(client, number: int, query: str = MARCH) -> str:
    response = client.get(f"{reverse('cabinet:analytics-figure', args=[number])}?{query}",
                          headers={"HX-Request": "true"})
    assert response.status_code == 200, response.content
    return response.content.decode()


def values(html: str) -> dict[str, tuple[str, str]]:
    """data-key -> (value, change) as the card shows them."""
    found = {}
    for item in re.findall(r'<li class="analytics__value[^"]*" data-key="([^"]+)">(.*?)</li>',
                           html, re.S):
        key, body = item
        value = re.search(r"<span class=\"analytics__now\" data-value>(.*?)</span>", body).group(1)
        change = re.search(r"data-change>(.*?)</span>", body)
        found[key] = (value.replace("\xa0", " ").replace("\u202f", " "),
                      change.group(1).replace("\xa0", " ") if change else "")
    return found


def test_the_page_loads_the_figures_lazily(alice, march):
    client = owner_of(alice)
    page = client.get(f"/cabinet/analytics/?{MARCH}").content.decode()
    assert page.count('hx-trigger="load"') == 8 and page.count('hx-trigger="revealed"') == 9 + 6
    assert "analytics__now" not in page  # no figure's value in the first response
    assert 'href="/cabinet/analytics/"' in page and 'aria-current="page"' in page  # its tab
    assert "vendor/chartjs/chart.umd.min.js" in page and "<script>" not in page


def test_figures_in_russian_with_the_previous_period(alice, march):
    client = owner_of(alice, language="ru")
    revenue = values(figure_html(client, 1))
    assert revenue == {"revenue": ("1 147,50 ₽", "+1 175,0 %")}
    assert values(figure_html(client, 2)) == {"checks": ("5", "+400,0 %")}
    members = values(figure_html(client, 9))
    assert members == {"members_1_purchase": ("1", "-50,0 %"),
                       "members_2_purchases": ("2", ""),
                       "members_3_or_more_purchases": ("1", "")}
    sms = figure_html(client, 11)
    assert "день рождения" in sms or "birthday" in sms
    assert values(sms)["sms_cost"][0].endswith("₽")


def test_a_store_selects_the_sales(alice, march):
    client = owner_of(alice)
    second = march["stores"]["second"].pk
    html = figure_html(client, 1, f"{MARCH}&store={second}")
    assert values(html) == {"revenue": ("RUB720.00", "")}
    whole = figure_html(client, 8, f"{MARCH}&store={second}")
    assert "does not depend on the store" in whole


def test_presets_name_the_merchants_days(alice):
    client = owner_of(alice)
    page = client.get("/cabinet/analytics/?period=7").content.decode()
    assert "since=" in page
    today = date.fromisoformat(re.search(r"until=(\d{4}-\d\d-\d\d)", page).group(1))
    first = date.fromisoformat(re.search(r"since=(\d{4}-\d\d-\d\d)", page).group(1))
    assert (today - first).days == 6


def test_bad_periods_are_the_forms_errors(alice):
    client = owner_of(alice, language="uk")
    backwards = client.get("/cabinet/analytics/?period=custom&since=2030-03-07&until=2030-03-01")
    assert backwards.status_code == 422
    assert "hx-get=\"/cabinet/analytics/figures" not in backwards.content.decode()
    missing = client.get("/cabinet/analytics/?period=custom&since=2030-03-07")
    assert missing.status_code == 422
    nonsense = client.get("/cabinet/analytics/?period=custom&since=x&until=0")
    assert nonsense.status_code == 422
    fragment = client.get("/cabinet/analytics/figures/1/?period=custom&since=x")
    assert fragment.status_code == 422
    assert client.get("/cabinet/analytics/figures/18/").status_code == 404
    assert client.get("/cabinet/analytics/charts/nope/").status_code == 404


def test_another_merchants_ids_are_404(alice, bob):
    client = owner_of(alice)
    theirs = bob.terminal.store_id
    for url in ("/cabinet/analytics/", "/cabinet/analytics/figures/1/",
                "/cabinet/analytics/charts/sales/"):
        assert client.get(f"{url}?store={theirs}").status_code == 404, url
        assert client.get(f"{url}?cashier={bob.owner.pk}").status_code == 404, url


@pytest.mark.parametrize("role", [Staff.Role.CASHIER])
def test_a_cashier_gets_the_403_page(alice, role):
    _staff, client = staff_client(alice, role)
    for url in ("/cabinet/analytics/", "/cabinet/analytics/figures/1/",
                "/cabinet/analytics/charts/sales/"):
        assert client.get(url).status_code == 403, url


def test_a_manager_may_read(alice):
    _staff, client = staff_client(alice, Staff.Role.MANAGER)
    assert client.get("/cabinet/analytics/").status_code == 200


def chart_data(client, key: str, query: str = MARCH) -> dict:
    html = client.get(f"/cabinet/analytics/charts/{key}/?{query}",
                      headers={"HX-Request": "true"}).content.decode()
    found = re.search(r'<canvas data-chart="([^"]*)"', html)
    return json.loads(unescape(found.group(1))) if found else {"html": html}


def test_charts_carry_exact_data(alice, march):
    client = owner_of(alice)
    sales = chart_data(client, "sales")
    assert sales["labels"][0] == "2030-03-01" and len(sales["labels"]) == 7
    assert sales["datasets"][0]["data"] == [18_000, 45_000, 27_000, 0, 18_000, 6_750, 0]
    assert sales["datasets"][1]["data"] == [1, 1, 1, 0, 1, 1, 0]
    assert (sales["currency"], sales["precision"]) == ("RUB", 2)
    points = chart_data(client, "points")
    assert points["datasets"][1]["data"] == [0, 0, 1_000, 0, 0, 0, 0]
    purchases = chart_data(client, "purchases")
    assert purchases["datasets"][0]["data"] == [1, 1, 2, 1]  # alice's own member never bought
    tiers = chart_data(client, "tiers")
    assert tiers["labels"] == ["Base", "standard"]  # a tier the program no longer has: its code
    assert tiers["datasets"][0]["data"] == [4, 1]
    sms = chart_data(client, "sms")
    assert dict(zip(sms["labels"], sms["datasets"][0]["data"], strict=True)) == {
        "birthday": 0, "receipt": 500, "winback": 350}
    funnel = chart_data(client, "winback")
    assert funnel["datasets"][0]["data"] == [1, 1, 1, 1]
    empty = chart_data(client, "sales", "period=custom&since=2031-01-01&until=2031-01-02")
    assert "No data for this period yet." in empty["html"]


def test_the_tab_is_in_the_header(alice):
    page = owner_of(alice).get("/cabinet/").content.decode()
    assert 'href="/cabinet/analytics/"' in page


# The figures and charts are swept here; the exports in test_exports.py (403, 404).
SWEPT = {"analytics", "analytics-figure", "analytics-chart", "analytics-exports",
         "analytics-exports-list", "analytics-export-file", "analytics-money",
         "analytics-simulator"}


def test_the_sweeps_cover_every_analytics_url():
    from kopilka.web.cabinet import urls

    names = {pattern.name for pattern in urls.urlpatterns if pattern.name.startswith("analytics")}
    assert names == SWEPT


def test_the_default_period_is_shown_chosen(alice):
    page = owner_of(alice).get("/cabinet/analytics/").content.decode()
    checked = re.findall(r'<input type="radio" name="period" value="(\w+)"[^>]*\bchecked\b', page)
    assert checked == ["30"]


def test_the_home_shows_the_last_week_at_a_glance(alice):
    client = owner_of(alice)
    page = client.get("/cabinet/").content.decode()
    urls = re.findall(r'data-figure="(\d+)"\s+hx-get="([^"]+)"', page)
    assert [number for number, _ in urls] == ["1", "2", "6", "8"]
    assert all(unescape(url).endswith("?period=7") for _, url in urls)
    revenue = figure_html(client, 1, "period=7")
    assert "Revenue" in revenue and "analytics__now" in revenue
