import pytest
from django.core.exceptions import ImproperlyConfigured

from kopilka.core import config

GOOD_SECRET = "Xq3vN8_rT2kLp9ZyW4mB7cJ1hF6dS0gA5eU-oI8nR3tY2wQ7xK4jV9b"


def safety(**overrides):
    values = {"production": True, "secret_key": GOOD_SECRET, "debug": False,
              "allowed_hosts": ["bonus.example.com"]}
    config.require_production_safety(**{**values, **overrides})


def test_safe_production_settings_pass():
    safety()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"secret_key": None}, "KOPILKA_SECRET_KEY is not set"),
        ({"debug": True}, "DEBUG is on"),
        ({"allowed_hosts": []}, "KOPILKA_ALLOWED_HOSTS is empty"),
        ({"allowed_hosts": ["*"]}, r"KOPILKA_ALLOWED_HOSTS is \* \(any host\)"),
        ({"allowed_hosts": ["bonus.example.com", "*"]}, r"KOPILKA_ALLOWED_HOSTS is \*"),
        ({"secret_key": GOOD_SECRET[:49]},
         "KOPILKA_SECRET_KEY is 49 characters long; it needs 50 or more"),
        ({"secret_key": "ab" * 30}, "repeats too few characters"),
        ({"secret_key": "django-insecure-" + GOOD_SECRET},
         "looks like a placeholder or a well-known example"),
        ({"secret_key": "changeme" * 7}, "looks like a placeholder"),
        ({"secret_key": "my-very-long-production-secret-" + GOOD_SECRET}, "placeholder"),
        ({"secret_key": GOOD_SECRET + "Password1"}, "placeholder"),
    ],
)
def test_unsafe_production_settings_are_refused(overrides, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        safety(**overrides)


def test_every_problem_is_named_at_once_with_how_to_make_a_secret():
    with pytest.raises(ImproperlyConfigured) as refused:
        safety(secret_key="changeme", debug=True, allowed_hosts=["*"])
    assert str(refused.value) == (
        "Refusing to start in production mode: KOPILKA_SECRET_KEY is 8 characters long; it "
        "needs 50 or more; DEBUG is on (unset KOPILKA_DEBUG or set it to 0); "
        "KOPILKA_ALLOWED_HOSTS is * (any host): name the hosts, e.g. bonus.example.com. "
        "Make a secret with: python3 -c 'import secrets; print(secrets.token_urlsafe(50))'")


@pytest.mark.parametrize(("value", "environment"), [
    (None, "development"), ("", "development"), ("development", "development"),
    ("Production ", "production"),
])
def test_known_environments(value, environment):
    assert config.environment(value) == environment


@pytest.mark.parametrize("value", ["prod", "staging", "dev", "test"])
def test_an_unknown_environment_is_refused(value):
    with pytest.raises(ImproperlyConfigured) as refused:
        config.environment(value)
    assert str(refused.value) == (
        f"KOPILKA_ENV must be development or production; got {value!r}")


def test_development_allows_anything():
    config.require_production_safety(
        production=False, secret_key=None, debug=True, allowed_hosts=[]
    )


def test_development_secret_is_generated_once_and_private(tmp_path):
    first = config.load_or_create_secret_key(tmp_path)
    assert len(first) >= 50
    assert config.load_or_create_secret_key(tmp_path) == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_sqlite_default_uses_wal_and_immediate_transactions(tmp_path):
    db = config.database_settings(None, tmp_path)
    assert db["NAME"] == str(tmp_path / "kopilka.sqlite3")
    assert db["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in db["OPTIONS"]["init_command"]


def test_postgres_url_keeps_connections(tmp_path):
    db = config.database_settings("postgres://u:p@db.example:5433/kop", tmp_path)
    assert (db["ENGINE"], db["HOST"], db["PORT"], db["NAME"]) == (
        "django.db.backends.postgresql", "db.example", 5433, "kop"
    )
    assert db["CONN_MAX_AGE"] == 300
    assert db["OPTIONS"] == {"server_side_binding": True, "prepare_threshold": 5}


def test_prepared_statements_can_be_switched_off_for_old_pgbouncers(tmp_path, monkeypatch):
    monkeypatch.setenv("KOPILKA_PG_PREPARED_STATEMENTS", "0")
    db = config.database_settings("postgres://u:p@db.example:5433/kop", tmp_path)
    assert "OPTIONS" not in db


@pytest.mark.parametrize("url", ["mysql://root@localhost/x", "nonsense://"])
def test_unsupported_database_url_is_refused(tmp_path, url):
    with pytest.raises(ImproperlyConfigured):
        config.database_settings(url, tmp_path)


@pytest.mark.parametrize(("raw", "expected"), [("1", True), ("off", False), ("Yes", True)])
def test_env_bool(monkeypatch, raw, expected):
    monkeypatch.setenv("X_FLAG", raw)
    assert config.env_bool("X_FLAG", default=not expected) is expected


def test_env_bool_rejects_garbage(monkeypatch):
    monkeypatch.setenv("X_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="X_FLAG"):
        config.env_bool("X_FLAG", default=False)
