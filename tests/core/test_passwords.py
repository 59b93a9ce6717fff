"""Passwords are stored as argon2 hashes. The suite hashes with MD5 to save 0.3 s of CPU per
merchant it creates (tests/suite.py); this checks the production setting itself."""

import pytest
from django.conf import settings
from django.contrib.auth import authenticate
from django.http import HttpRequest
from django.test import override_settings

import kopilka.settings
from kopilka.core.actor import Actor
from kopilka.tenancy import services as tenancy

pytestmark = pytest.mark.django_db


def test_the_suite_hashes_cheaply_but_still_reads_argon2():
    suite = settings.PASSWORD_HASHERS
    assert suite[0] == "django.contrib.auth.hashers.MD5PasswordHasher"
    assert suite[1:] == kopilka.settings.PASSWORD_HASHERS


@override_settings(PASSWORD_HASHERS=kopilka.settings.PASSWORD_HASHERS)
def test_an_owner_password_is_stored_as_argon2id_and_logs_in():
    created = tenancy.create_merchant("Argon Tea", owner_email="argon@example.com",
                                      actor=Actor.cli())
    user = created.owner.user
    assert user.password.startswith("argon2$argon2id$v=19$m=102400,t=2,p=8$")
    assert created.owner_password not in user.password
    # django-axes checks every authenticate() and needs the request it counts failures by.
    assert authenticate(HttpRequest(), username="argon@example.com",
                        password=created.owner_password) == user
    assert authenticate(HttpRequest(), username="argon@example.com", password="wrong") is None
