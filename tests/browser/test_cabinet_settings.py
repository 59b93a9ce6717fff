"""The cabinet's settings in a real browser, on a phone and a desktop: create a POS key and see
it once, invite a cashier, edit a message with its live preview (typed, not submitted).
Screenshots of each screen go to $KOPILKA_SCREENSHOTS (docs/img/ keeps the guide's)."""

import pytest
from django_scopes import scopes_disabled
from playwright.sync_api import expect

from kopilka.messaging.models import Template
from kopilka.tenancy.models import Invitation, Terminal

VIEWPORTS = ["pixel-7", "desktop"]


def sign_in(screen, tenant) -> None:
    page = screen.page
    screen.go("/cabinet/signin/?next=/cabinet/settings/")
    page.get_by_label("E-mail").fill(tenant.owner.user.email)
    page.get_by_label("Password").fill(tenant.owner_password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Settings")).to_be_visible()


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_a_pos_key_is_shown_once(screen, alice, viewport):
    page = screen.page
    sign_in(screen, alice)
    screen.shot("settings-home")
    page.locator('[data-section="keys"]').click()
    page.get_by_label("Name").fill("Atol 30F")
    page.get_by_role("button", name="Create the key").click()
    secret = page.locator("[data-secret-value]")
    expect(secret).to_have_count(1)
    key = secret.inner_text().strip()
    with scopes_disabled():
        terminal = Terminal.objects.get(merchant=alice.merchant, name="Atol 30F")
    assert key.startswith(f"kp_pos_{terminal.key_prefix}_")
    screen.shot("settings-key-once")
    screen.go("/cabinet/settings/keys/")
    expect(page.locator("[data-secret-value]")).to_have_count(0)
    expect(page.get_by_text(f"{terminal.key_prefix}…")).to_be_visible()
    assert key not in page.content()


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_invite_a_cashier(screen, alice, viewport):
    page = screen.page
    sign_in(screen, alice)
    page.locator('[data-section="staff"]').click()
    page.get_by_label("E-mail").fill("dina@example.com")
    page.get_by_label("Role").select_option("cashier")
    page.get_by_role("button", name="Send the invitation").click()
    expect(page.get_by_text("Invitation sent to dina@example.com.")).to_be_visible()
    expect(page.locator("[data-invitation]")).to_have_count(1)
    with scopes_disabled():
        invitation = Invitation.objects.get(merchant=alice.merchant)
    assert (invitation.email, invitation.role, invitation.status) == (
        "dina@example.com", "cashier", "pending")
    screen.shot("settings-staff")


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_edit_a_message_with_its_preview(screen_in, alice, viewport):
    screen = screen_in("ru")
    page = screen.page
    screen.go("/cabinet/signin/?next=/cabinet/settings/messages/")
    page.get_by_label("E-mail").fill(alice.owner.user.email)
    page.get_by_label("Пароль").fill(alice.owner_password)
    page.get_by_role("button", name="Войти").click()
    page.locator('[data-template="accrual/ru/sms"]').click()
    preview = page.locator("[data-preview]")
    expect(preview).to_have_text(
        "Alice Coffee: +21 бонус за покупку на 1 500,00 ₽. Баланс: 125,5 бонуса")
    body = page.get_by_label("Текст")
    body.press_sequentially("{name}, +{points}! Ждём снова в {merchant}.")
    expect(preview).to_have_text("Анна, +21 бонус! Ждём снова в Alice Coffee.")
    expect(page.locator("[data-parts]")).to_contain_text("1 часть SMS")
    screen.shot("settings-message-preview")
    body.press_sequentially(" {oops}")
    expect(page.locator("[data-preview-error]")).to_contain_text("{oops}")
    for _n in range(len(" {oops}")):
        body.press("Backspace")
    expect(preview).to_have_text("Анна, +21 бонус! Ждём снова в Alice Coffee.")
    page.get_by_role("button", name="Сохранить").click()
    expect(page.get_by_text("Сообщение сохранено.")).to_be_visible()
    with scopes_disabled():
        saved = Template.objects.get(merchant=alice.merchant)
    assert (saved.event, saved.language, saved.channel, saved.body, saved.enabled) == (
        "accrual", "ru", "sms", "{name}, +{points}! Ждём снова в {merchant}.", True)


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_webhooks_audit_and_sms_pages(screen, alice, viewport, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    page = screen.page
    sign_in(screen, alice)
    page.locator('[data-section="webhooks"]').click()
    page.get_by_label("URL").fill("https://hooks.example.com/kopilka")
    page.get_by_label("purchase.committed", exact=False).first.check()
    page.get_by_role("button", name="Add the endpoint").click()
    expect(page.locator("[data-secret-value]")).to_have_count(1)
    page.get_by_role("button", name="Send a test event").click()
    expect(page.locator("[data-delivery]")).to_have_count(1)
    screen.shot("settings-webhook")
    screen.go("/cabinet/settings/audit/?action=webhooks.")
    expect(page.locator("[data-entry]")).to_have_count(2)  # created, tested
    screen.shot("settings-audit")
    screen.go("/cabinet/settings/sms/")
    expect(page.locator("[data-total]")).to_be_visible()
    screen.shot("settings-sms")
