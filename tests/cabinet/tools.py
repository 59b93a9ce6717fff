"""Cabinet test helpers: a browser client signed in as a tenant's owner or another staff
member, and the sign-up form's answers."""

from django.http import HttpRequest
from django.test import Client

from kopilka.tenancy.models import Staff
from tests.tenancy.tools import PASSWORD, make_staff

SIGNUP = {
    "name": "Кофейня Ёжик", "owner_email": "Owner@Ezhik.test",
    "owner_password": "a long enough secret 42", "currency": "RUB",
    "timezone": "Europe/Moscow", "language": "ru", "country": "RU",
}


def signed_in(email: str, password: str = PASSWORD, language: str = "en") -> Client:
    client = Client(headers={"Accept-Language": language})
    assert client.login(request=HttpRequest(), username=email, password=password)
    return client


def owner_of(tenant, language: str = "en") -> Client:
    return signed_in(tenant.owner.user.email, tenant.owner_password, language)


def staff_client(tenant, role: str, language: str = "en") -> tuple[Staff, Client]:
    staff = make_staff(tenant.merchant, f"{role}@{tenant.merchant.slug}.test", role)
    return staff, signed_in(staff.user.email, language=language)
