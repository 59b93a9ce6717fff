"""Who is at the counter: the device cookie, the cashier's session, the principal's rights."""

from kopilka.tenancy import access
from kopilka.tenancy.models import Staff
from kopilka.web.cashier import counter
from tests.cashier.tools import at_counter, device_cookie, new_device


def test_no_device_goes_to_the_device_sign_in(client):
    response = client.get("/cashier/")
    assert response.status_code == 302
    assert response["Location"] == "/cashier/device/"


def test_htmx_without_a_device_redirects_the_whole_page(client):
    response = client.get("/cashier/", headers={"HX-Request": "true"})
    assert response.status_code == 204
    assert response["HX-Redirect"] == "/cashier/device/"


def test_a_device_with_nobody_switched_in_goes_to_the_switch(alice, client):
    _terminal, key = new_device(alice)
    client.cookies[counter.DEVICE_COOKIE] = device_cookie(key)
    response = client.get("/cashier/")
    assert response.status_code == 302
    assert response["Location"] == "/cashier/switch/"


def test_a_pos_api_key_in_the_cookie_is_no_device(alice, client):
    client.cookies[counter.DEVICE_COOKIE] = device_cookie(alice.pos_key)
    assert client.get("/cashier/")["Location"] == "/cashier/device/"


def test_a_forged_cookie_is_no_device(alice, client):
    _terminal, key = new_device(alice)
    client.cookies[counter.DEVICE_COOKIE] = key  # unsigned
    assert client.get("/cashier/")["Location"] == "/cashier/device/"


def test_the_session_of_another_device_means_nothing_here(alice):
    first = at_counter(alice)
    _other, other_key = new_device(alice, name="Counter 2")
    first.client.cookies[counter.DEVICE_COOKIE] = device_cookie(other_key)
    assert first.client.get("/cashier/")["Location"] == "/cashier/switch/"


def test_a_cashier_at_the_counter_opens_it(alice):
    at = at_counter(alice)
    response = at.client.get("/cashier/")
    assert response.status_code == 200
    assert response.context["counter"].staff == at.staff
    assert "Main" in response.content.decode()


def test_a_deactivated_cashier_is_switched_out(alice, unscoped):
    at = at_counter(alice)
    Staff.objects.filter(pk=at.staff.pk).update(active=False)
    assert at.client.get("/cashier/")["Location"] == "/cashier/switch/"


def test_a_cashier_at_a_counter_may_what_a_terminal_may_and_what_the_role_may(alice):
    at = at_counter(alice)
    principal = access.Principal.at_counter(at.terminal, at.staff)
    assert principal.may("adjust")  # the counter's manual moves, within the allowance
    assert principal.may("read_records")  # the cashier's own: the purchases to refund
    assert not principal.may("see_phones")
    assert not principal.may("edit_program")
    assert principal.actor.label == f"{at.staff.user.email} at terminal:{at.terminal.key_prefix}"
