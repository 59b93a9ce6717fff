"""Wallet test helpers: a client signed in as a person, the code an SMS carried."""

import re

from django.http import HttpResponse
from django.test import Client
from django_scopes import scopes_disabled

from kopilka.members.models import Person
from kopilka.messaging import tasks
from kopilka.web.wallet import signin


def wallet_cookie(person: Person) -> str:
    response = HttpResponse()
    signin.remember(response, person)
    return response.cookies[signin.COOKIE].value


def signed_in(person: Person, language: str = "en") -> Client:
    client = Client(headers={"Accept-Language": language})
    client.cookies[signin.COOKIE] = wallet_cookie(person)
    return client


def person(phone: str) -> Person:
    return Person.objects.get(phone=phone)


def sms_code(outbox) -> str:
    """The code of the newest SMS (delivered now: codes are sent at once, after commit)."""
    with scopes_disabled():
        tasks.deliver_due()
    return re.search(r"(\d{6})", outbox[-1].body)[1]
