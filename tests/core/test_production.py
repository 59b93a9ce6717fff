"""Production mode as an operator starts it: the settings module read in a fresh process with
production's environment, so what is tested is what `kopilka` does."""

import json
import os
import secrets
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.slow


def production_env(tmp_path, **extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("KOPILKA_") and k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    env.update({
        "KOPILKA_ENV": "production", "KOPILKA_DATA_DIR": str(tmp_path),
        "KOPILKA_SECRET_KEY": secrets.token_urlsafe(50),
        "KOPILKA_ALLOWED_HOSTS": "bonus.example.com", "KOPILKA_BEHIND_TLS_PROXY": "1",
        "KOPILKA_EMAIL_HOST": "smtp.example.com", "LANG": "C",
    })
    env.update(extra)
    return env


def kopilka(env, *argv):
    return subprocess.run([sys.executable, "-m", "kopilka.cli", *argv], env=env,
                          capture_output=True, text=True, timeout=120)


def test_deploy_check_is_clean_in_production(tmp_path):
    result = kopilka(production_env(tmp_path), "manage", "check", "--deploy")
    assert result.returncode == 0, result.stderr
    # Silenced (settings.SILENCED_SYSTEM_CHECKS): security.W021 once, and on SQLite models.W040
    # ("no INCLUDE columns") once per index of processing.Purchase, as Django checks each.
    assert result.stdout == "System check identified no issues (3 silenced).\n"


@pytest.mark.parametrize("value", ["prod", "staging"])
def test_an_unknown_environment_is_refused_with_exit_2(tmp_path, value):
    result = kopilka(production_env(tmp_path, KOPILKA_ENV=value), "manage", "check")
    assert result.returncode == 2
    assert result.stderr == (
        f"kopilka: error: KOPILKA_ENV must be development or production; got {value!r}\n")


@pytest.mark.parametrize(("extra", "problem"), [
    ({"KOPILKA_SECRET_KEY": "changeme"},
     "KOPILKA_SECRET_KEY is 8 characters long; it needs 50 or more"),
    ({"KOPILKA_SECRET_KEY": "django-insecure-" + "x1y2z3" * 9},
     "KOPILKA_SECRET_KEY looks like a placeholder or a well-known example"),
    ({"KOPILKA_ALLOWED_HOSTS": "*"},
     "KOPILKA_ALLOWED_HOSTS is * (any host): name the hosts, e.g. bonus.example.com"),
])
def test_unsafe_production_settings_refuse_to_start(tmp_path, extra, problem):
    result = kopilka(production_env(tmp_path, **extra), "manage", "check")
    assert result.returncode == 2
    assert result.stderr.startswith(
        f"kopilka: error: Refusing to start in production mode: {problem}.")


# Requests through Django's test client in the production process: the answers' headers.
PROBE = textwrap.dedent("""
    import json, django
    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import setup_test_environment
    setup_test_environment()
    call_command("migrate", verbosity=0)
    client = Client(SERVER_NAME="bonus.example.com")
    answers = {}
    for name, path, headers in [
        ("https", "/admin/login/", {"HTTP_X_FORWARDED_PROTO": "https"}),
        ("http", "/admin/login/", {}),
        ("health", "/health", {}),
        ("docs", "/api/v1/docs", {"HTTP_X_FORWARDED_PROTO": "https"}),
    ]:
        response = client.get(path, **headers)
        answers[name] = {"status": response.status_code, "headers": dict(response.headers)}
    print(json.dumps(answers))
""")


def probe(env):
    result = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_production_behind_the_tls_proxy_sends_hsts_csp_and_redirects_plain_http(tmp_path):
    answers = probe({**production_env(tmp_path), "DJANGO_SETTINGS_MODULE": "kopilka.settings"})
    https = answers["https"]
    assert https["status"] == 200
    assert https["headers"]["Strict-Transport-Security"] == (
        "max-age=31536000; includeSubDomains")
    assert https["headers"]["Content-Security-Policy"] == (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'")
    assert answers["http"]["status"] == 301
    assert answers["http"]["headers"]["Location"] == "https://bonus.example.com/admin/login/"
    # A load balancer's plain health probe is answered, not redirected.
    assert answers["health"]["status"] == 200
    assert "Content-Security-Policy" in answers["health"]["headers"]
    # The API docs page is off in production unless switched on.
    assert answers["docs"]["status"] == 404


def test_production_api_docs_can_be_switched_on(tmp_path):
    env = {**production_env(tmp_path, KOPILKA_API_DOCS="1"),
           "DJANGO_SETTINGS_MODULE": "kopilka.settings"}
    assert probe(env)["docs"]["status"] == 200
