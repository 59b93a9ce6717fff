"""The program editor in a real browser: the owner picks a Silver member for the example,
changes Silver's accrual and watches the engine's figure change before saving, saves, and
finds the change told in words in the history. Phone and desktop screenshots."""

import re

import pytest
from django_scopes import scopes_disabled
from playwright.sync_api import expect

from kopilka.core.actor import Actor
from kopilka.programs import services as programs
from kopilka.programs.config import ProgramConfig
from kopilka.programs.models import Program
from tests.browser.conftest import SCREENSHOTS
from tests.cabinet.test_program import SHOP


def view_shot(screen, name: str) -> None:
    """What the screen shows now (not the whole page): the sticky preview where it sits."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    screen.page.screenshot(path=SCREENSHOTS / f"{name}-{screen.viewport}.png", caret="initial")


def sign_in(screen, tenant) -> None:
    page = screen.page
    screen.go("/cabinet/signin/?next=/cabinet/program/")
    page.get_by_label("E-mail").fill(tenant.owner.user.email)
    page.get_by_label("Password").fill(tenant.owner_password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("h1")).to_have_text("Your program")
    # The preview listens once htmx has started: a change made before the page's deferred
    # scripts ran (a loaded machine) would ask nothing.
    page.wait_for_load_state("load")


@pytest.mark.parametrize("viewport", ["pixel-7", "desktop"])
def test_change_silver_and_see_the_preview_then_save(screen, alice, viewport):
    with scopes_disabled():
        programs.save_program(alice.merchant, SHOP, actor=Actor.cli())
        currency = alice.merchant.currency
    assert currency == "RUB"
    page = screen.page
    sign_in(screen, alice)
    preview = page.locator("#program-preview")
    # A new member (Bronze, 5 %) buying for 1 500.00 on a Friday at 10:00.
    expect(preview.locator("[data-preview]")).to_have_text(
        "A purchase of RUB1,500.00 on Friday at 10:00 by a member of the Bronze tier:")
    expect(preview.locator("[data-preview-earns]")).to_have_text("75 bonuses")
    expect(preview.locator("[data-preview-pays]")).to_have_text("750 bonuses (RUB750.00)")
    page.get_by_text("Change the example").click()
    page.get_by_label("Member's tier").select_option(label="Silver")
    expect(preview.locator("[data-preview-earns]")).to_have_text("105 bonuses",  # 7 %
                                                                 timeout=60_000)
    screen.shot("cabinet-program")
    page.get_by_text("Change the example").click()  # folded again
    silver = page.locator("fieldset.tier", has=page.locator("legend", has_text="Silver"))
    percent = silver.get_by_label("Bonus, %")
    percent.fill("8")
    expect(preview.locator("[data-preview-earns]")).to_have_text("120 bonuses",  # 8 %, unsaved
                                                                 timeout=60_000)
    silver.locator("legend").evaluate("legend => legend.scrollIntoView({block: 'start'})")
    view_shot(screen, "cabinet-program-silver")
    with scopes_disabled():
        assert Program.objects.get(merchant=alice.merchant).version == 2  # nothing saved yet
    screen.shot("cabinet-program-preview")
    page.get_by_role("button", name="Save the program").click()
    expect(page.locator(".toast")).to_contain_text("Program saved: version 3.")
    with scopes_disabled():
        config = ProgramConfig.model_validate(Program.objects.get(merchant=alice.merchant).config)
    assert [str(tier.accrual.percent) for tier in config.tiers] == ["5", "8"]
    page.get_by_role("link", name="History of changes").click()
    expect(page).to_have_url(re.compile(r"/cabinet/program/versions/$"))
    expect(page.locator("[data-version='3'] [data-changes] li")).to_have_text(
        ["Silver tier accrual: 7\u00a0% → 8\u00a0%"])
    screen.shot("cabinet-program-versions")
    # Back to version 2 from its page: a new version 4 equal to it.
    page.get_by_role("link", name="Version 2", exact=True).click()
    expect(page.locator("[data-changes] li")).to_have_text(
        ["Silver tier accrual: 8\u00a0% → 7\u00a0%"])
    screen.shot("cabinet-program-version")
    page.get_by_role("button", name="Bring version 2 back").click()
    expect(page.locator(".toast")).to_contain_text("Version 2 is back as version 4.")
    expect(page.locator("[data-version='4'] [data-changes] li")).to_have_text(
        ["Silver tier accrual: 8\u00a0% → 7\u00a0%"])
    with scopes_disabled():
        program = Program.objects.get(merchant=alice.merchant)
    assert program.version == 4
    assert [tier["accrual"]["percent"] for tier in program.config["tiers"]] == ["5", "7"]


@pytest.mark.parametrize("viewport", ["pixel-7"])
def test_the_preview_in_russian(screen_in, alice, viewport):
    with scopes_disabled():
        programs.save_program(alice.merchant, SHOP, actor=Actor.cli())
    screen = screen_in("ru")
    page = screen.page
    screen.go("/cabinet/signin/?next=/cabinet/program/")
    page.locator("#id_email").fill(alice.owner.user.email)
    page.locator("#id_password").fill(alice.owner_password)
    page.get_by_role("button", name="Войти").click()
    expect(page.locator("h1")).to_have_text("Ваша программа")
    page.wait_for_load_state("load")
    preview = page.locator("#program-preview")
    expect(preview.locator("[data-preview]")).to_have_text(
        "Покупка на 1\u00a0500,00\u00a0₽ в пятницу в 10:00, клиент уровня Bronze:")
    expect(preview.locator("[data-preview-earns]")).to_have_text("75\u00a0бонусов")
    page.get_by_label("Бонус, %").first.fill("4,5")  # Bronze, typed with a comma
    # The preview asks the server after a pause in typing: on a loaded machine it takes a while.
    expect(preview.locator("[data-preview-earns]")).to_have_text("67,5\u00a0бонуса",
                                                                 timeout=60_000)
    view_shot(screen, "cabinet-program-ru")
