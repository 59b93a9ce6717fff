"""The `kopilka` command: friendly help, one-line errors, non-zero exits on bad input."""

import os
import subprocess
import sys

import pytest
from django_scopes import scopes_disabled

from kopilka import cli
from kopilka.tenancy.models import ApiToken, Merchant, Terminal
from tests.cli_tools import english_operator, run  # noqa: F401 (a fixture)

# These tests assert English texts (LANG=C).
pytestmark = pytest.mark.usefixtures("english_operator")


@pytest.mark.django_db
def test_create_merchant_prints_password_and_token_once(capsys):
    code, out, err = run(
        ["create-merchant", "Coffee Point", "--owner-email", "Owner@Example.com",
         "--currency", "uah", "--timezone", "Europe/Kyiv", "--language", "uk"], capsys,
    )
    assert (code, err) == (0, "")
    merchant = Merchant.objects.get(slug="coffee-point")
    assert (merchant.currency, merchant.country, merchant.language) == ("UAH", "UA", "uk")
    token = next(line.split()[2] for line in out.splitlines() if line.startswith("API token:"))
    with scopes_disabled():
        stored = ApiToken.objects.get(merchant=merchant)
    assert token.startswith(f"kp_mgt_{stored.key_prefix}_")
    assert token not in stored.key_hash  # only the hash is kept
    assert "Password:" in out


@pytest.mark.django_db
def test_create_merchant_with_a_cyrillic_name_prints_a_transliterated_slug(capsys):
    code, out, err = run(["create-merchant", "Кафе У Володи", "--owner-email", "v@example.com"],
                         capsys)
    assert (code, err) == (0, "")
    assert "Merchant:  Кафе У Володи (slug: kafe-u-volodi)\n" in out


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--currency", "XXQ"], "'XXQ' is not an ISO 4217 currency code. (currency)"),
        (["--timezone", "Mars/Base"], "'Mars/Base' is not a known time zone. (timezone)"),
        (["--language", "de"], "language must be one of ru, uk, en. (language)"),
        (["--country", "ZZ"], "'ZZ' is not an ISO 3166 country code with a phone numbering "
                              "plan (e.g. RU, UA, KZ). (country)"),
        (["--currency", "EUR", "--country", "eu"], "'EU' is not an ISO 3166 country code with "
                                                   "a phone numbering plan (e.g. RU, UA, KZ). "
                                                   "(country)"),
    ],
)
def test_create_merchant_bad_input_is_one_line_and_exit_1(capsys, argv, message):
    code, out, err = run(
        ["create-merchant", "Shop", "--owner-email", "o@example.com", *argv], capsys
    )
    assert code == 1
    assert err == f"kopilka: error: {message}\n"
    assert not Merchant.objects.exists()


@pytest.mark.django_db
def test_create_merchant_bad_email(capsys):
    code, _, err = run(["create-merchant", "Shop", "--owner-email", "nobody"], capsys)
    assert code == 1
    assert err.count("\n") == 1 and "owner_email" in err


def test_missing_required_option_is_usage_error(capsys):
    code, _, err = run(["create-merchant", "Shop"], capsys)
    assert code == 2
    assert "--owner-email" in err


@pytest.mark.django_db
def test_create_terminal_for_unknown_merchant(capsys):
    code, _, err = run(["create-terminal", "--merchant", "nope", "--store", "A"], capsys)
    assert code == 1
    assert err == "kopilka: error: No merchant with slug 'nope'. (merchant)\n"


@pytest.mark.django_db
def test_create_terminal_prints_a_working_key(alice, capsys, client):
    code, out, _ = run(
        ["create-terminal", "--merchant", alice.merchant.slug, "--store", "Second"], capsys
    )
    assert code == 0
    key = next(line.split()[2] for line in out.splitlines() if line.startswith("POS key:"))
    response = client.get("/api/v1/pos/terminal", headers={"Authorization": f"Bearer {key}"})
    assert response.json()["terminal"]["store"] == "Second"
    with scopes_disabled():
        assert Terminal.objects.filter(merchant=alice.merchant).count() == 2


def test_unknown_command(capsys):
    code, _, err = run(["frobnicate"], capsys)
    assert code == 2
    assert "unknown command 'frobnicate'" in err


def test_help_lists_every_command(capsys):
    code, out, _ = run(["--help"], capsys)
    assert code == 0
    for name in ("up", "worker", "create-merchant", "create-terminal", "manage"):
        assert f"  {name} " in out


@pytest.mark.parametrize("name", ["up", "worker", "create-merchant", "create-terminal"])
def test_every_command_has_help(capsys, name):
    code, out, _ = run([name, "--help"], capsys)
    assert code == 0
    assert out.startswith(f"usage: kopilka {name}")


def test_production_without_secret_refuses_to_start(tmp_path):
    env = {**os.environ, "KOPILKA_ENV": "production", "KOPILKA_DATA_DIR": str(tmp_path)}
    for name in ("KOPILKA_SECRET_KEY", "KOPILKA_DEBUG", "KOPILKA_ALLOWED_HOSTS"):
        env.pop(name, None)
    result = subprocess.run(
        [sys.executable, "-m", "kopilka.cli", "manage", "check"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("kopilka: error: Refusing to start in production mode: ")
    assert "KOPILKA_SECRET_KEY is not set" in result.stderr
    assert "KOPILKA_ALLOWED_HOSTS is empty" in result.stderr
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("environ", "language"),
    [
        ({"LANG": "ru_RU.UTF-8"}, "ru"),
        ({"LANG": "uk_UA.UTF-8"}, "uk"),
        ({"LANG": "C"}, "en"),
        ({"LANG": "C.UTF-8"}, "en"),
        ({"LANG": "de_DE.UTF-8"}, "en"),
        ({}, "en"),
        ({"LANG": "en_US.UTF-8", "LC_ALL": "uk_UA.UTF-8"}, "uk"),  # LC_ALL wins
        ({"LANG": "ru_RU.UTF-8", "LC_MESSAGES": "C"}, "en"),
        ({"LANG": "ru_RU.UTF-8", "LC_ALL": ""}, "ru"),  # empty means unset
    ],
)
def test_operator_language_follows_the_locale_environment(environ, language):
    assert cli.operator_language(environ) == language


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("lang", "message"),
    [
        ("ru_RU.UTF-8", "'XXQ' — не код валюты ISO 4217. (currency)"),
        ("uk_UA.UTF-8", "'XXQ' — не код валюти ISO 4217. (currency)"),
    ],
)
def test_errors_come_in_the_operators_language(capsys, monkeypatch, lang, message):
    from django.utils import translation

    monkeypatch.setenv("LANG", lang)
    before = translation.get_language()
    code, _, err = run(
        ["create-merchant", "Shop", "--owner-email", "o@example.com", "--currency", "XXQ"], capsys
    )
    assert (code, err) == (1, f"kopilka: error: {message}\n")
    assert translation.get_language() == before  # the caller's language is given back


@pytest.mark.django_db
def test_created_merchant_can_sell_at_once(capsys):
    from kopilka.programs.models import Program

    code, _, _ = run(["create-merchant", "Shop", "--owner-email", "o@example.com"], capsys)
    assert code == 0
    program = Program.objects.get(merchant__slug="shop")
    assert program.config["tiers"][0]["accrual"] == {"kind": "percent", "percent": "5"}


@pytest.mark.django_db
def test_verify_ledger_ok_and_broken(shop, capsys):
    from kopilka.ledger.models import Entry
    from tests.ledger.tampering import unguarded

    member = shop.join()
    shop.buy(member, 10_000)
    code, out, _ = run(["verify-ledger", "--merchant", shop.merchant.slug], capsys)
    assert (code, out) == (0, "OK: 2 accounts verified.\n")
    entry = Entry.objects.filter(account__member=member).order_by("seq").last()
    with unguarded():  # the database refuses it otherwise
        Entry.objects.filter(pk=entry.pk).update(available_delta=entry.available_delta * 10)
    code, _, err = run(["verify-ledger"], capsys)
    assert code == 1
    assert f"BROKEN account {entry.account_id}: entry {entry.pk} (#{entry.seq}): content" in err
    assert err.endswith("kopilka: error: 1 of 2 accounts are broken.\n")


def test_verify_ledger_unknown_merchant(db, capsys):
    code, _, err = run(["verify-ledger", "--merchant", "nope"], capsys)
    assert (code, err) == (1, "kopilka: error: No merchant with slug 'nope'.\n")


def test_up_gives_its_children_the_address_it_serves_as_the_public_url():
    """Links in mail (a staff invitation) named http://localhost:8000 whatever --port said."""
    from kopilka.cli import public_url

    assert public_url("127.0.0.1", 8765) == "http://127.0.0.1:8765"
    assert public_url("0.0.0.0", 80) == "http://localhost:80"
    assert public_url("::1", 8000) == "http://[::1]:8000"


def option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


@pytest.mark.parametrize("choice", ["granian", " Granian "])
def test_up_runs_granian_when_asked_with_the_workers_and_threads_asked_for(monkeypatch, choice):
    monkeypatch.setenv("KOPILKA_WEB_SERVER", choice)
    monkeypatch.setenv("KOPILKA_WEB_WORKERS", "3")
    monkeypatch.setenv("KOPILKA_WEB_THREADS", "2")
    command = cli.web_server_command("0.0.0.0", 8123)
    assert command[1:3] == ["-m", "granian"]
    assert (option(command, "--interface"), option(command, "--host"),
            option(command, "--port")) == ("wsgi", "0.0.0.0", "8123")
    assert (option(command, "--workers"), option(command, "--blocking-threads")) == ("3", "2")
    assert command[-1] == "kopilka.wsgi:application"
    # What gunicorn gave: no access log of its own, dead processes replaced, a graceful stop.
    assert {"--no-access-log", "--respawn-failed-workers"} <= set(command)
    assert option(command, "--workers-kill-timeout") == "10"


@pytest.mark.parametrize("choice", ["", "gunicorn"])
def test_up_runs_gunicorn_by_default(monkeypatch, choice):
    monkeypatch.setenv("KOPILKA_WEB_SERVER", choice)
    monkeypatch.setenv("KOPILKA_WEB_WORKERS", "3")
    monkeypatch.setenv("KOPILKA_WEB_THREADS", "2")
    command = cli.web_server_command("127.0.0.1", 8123)
    assert command[1:4] == ["-m", "gunicorn", "kopilka.wsgi:application"]
    assert (option(command, "--bind"), option(command, "--workers"),
            option(command, "--threads"), option(command, "--worker-class")) == (
        "127.0.0.1:8123", "3", "2", "gthread")
    assert "--no-control-socket" in command


def test_up_refuses_an_unknown_web_server(monkeypatch, capsys):
    monkeypatch.setenv("KOPILKA_WEB_SERVER", "uwsgi")
    with pytest.raises(SystemExit) as exit:
        cli.web_server_command("127.0.0.1", 8123)
    assert exit.value.code == 2
    assert capsys.readouterr().err == (
        "kopilka: error: KOPILKA_WEB_SERVER='uwsgi': use one of gunicorn, granian\n")
