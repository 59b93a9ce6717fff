"""Helpers for `kopilka.settings`: parsing the environment and refusing unsafe production set-ups.

Kept apart from the settings module so the rules can be tested without re-importing settings.
"""

import os
import secrets
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


def env_bool(name: str, *, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(
        f"{name} must be one of 1/0, true/false, yes/no, on/off; got {raw!r}"
    )


def env_list(name: str, *, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def load_or_create_secret_key(data_dir: Path) -> str:
    """Development only: a random key generated on first start and kept in the data directory,
    so sessions survive restarts without anyone having to invent a secret."""
    key_file = data_dir / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


ENVIRONMENTS = ("development", "production")


def environment(raw: str | None) -> str:
    """`KOPILKA_ENV`: development (the default) or production. Anything else is refused: a
    typo such as `prod` once ran a production server in development mode, DEBUG on."""
    value = (raw or "development").strip().lower()
    if value not in ENVIRONMENTS:
        raise ImproperlyConfigured(
            f"KOPILKA_ENV must be development or production; got {raw!r}"
        )
    return value


MIN_SECRET_LENGTH = 50
# Words found in example, placeholder and default secrets; a generated key holds one of these
# by chance about once in ten million.
WEAK_SECRET_WORDS = ("changeme", "change-me", "change_me", "secret", "password", "insecure",
                     "example", "kopilka", "django", "default", "12345", "qwerty")


def secret_key_problem(key: str) -> str | None:
    """Why `key` is not fit for production, or None. Django's own deploy check asks for 50
    characters of which 5 differ; a copied placeholder is refused too."""
    lowered = key.lower()
    if len(key) < MIN_SECRET_LENGTH:
        return (f"KOPILKA_SECRET_KEY is {len(key)} characters long; it needs "
                f"{MIN_SECRET_LENGTH} or more")
    if len(set(key)) < 5:
        return "KOPILKA_SECRET_KEY repeats too few characters to be random"
    if lowered.startswith("django-insecure") or any(w in lowered for w in WEAK_SECRET_WORDS):
        return "KOPILKA_SECRET_KEY looks like a placeholder or a well-known example"
    return None


def require_production_safety(
    *, production: bool, secret_key: str | None, debug: bool, allowed_hosts: list[str]
) -> None:
    if not production:
        return
    problems = []
    if not secret_key:
        problems.append("KOPILKA_SECRET_KEY is not set")
    elif (problem := secret_key_problem(secret_key)) is not None:
        problems.append(problem)
    if debug:
        problems.append("DEBUG is on (unset KOPILKA_DEBUG or set it to 0)")
    if not allowed_hosts:
        problems.append(
            "KOPILKA_ALLOWED_HOSTS is empty (e.g. KOPILKA_ALLOWED_HOSTS=bonus.example.com)"
        )
    elif "*" in allowed_hosts:
        problems.append(
            "KOPILKA_ALLOWED_HOSTS is * (any host): name the hosts, e.g. bonus.example.com"
        )
    if problems:
        hint = ""
        if any(problem.startswith("KOPILKA_SECRET_KEY") for problem in problems):
            hint = (" Make a secret with: python3 -c 'import secrets; "
                    "print(secrets.token_urlsafe(50))'")
        raise ImproperlyConfigured(
            "Refusing to start in production mode: " + "; ".join(problems) + "." + hint
        )


def database_settings(url: str | None, data_dir: Path) -> dict:
    """`DATABASE_URL` picks PostgreSQL; without it Kopilka uses an SQLite file in the data dir.

    SQLite runs in WAL mode with IMMEDIATE transactions: a writer takes the write lock when its
    transaction starts, so two writers queue on the busy timeout instead of failing half-way
    with "database is locked" after reading stale balances.
    """
    if not url:
        data_dir.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{data_dir / 'kopilka.sqlite3'}"
    try:
        config = dj_database_url.parse(url)
    except ValueError as error:
        raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {error}") from None
    engine = config["ENGINE"]
    if engine == "django.db.backends.sqlite3":
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                "PRAGMA foreign_keys=ON; PRAGMA busy_timeout=20000;"
            ),
        }
        # Tests use a real file too, so WAL and IMMEDIATE locking behave as in production.
        config["TEST"] = {"NAME": str(Path(config["NAME"]).with_name("test-kopilka.sqlite3"))}
    elif engine in ("django.db.backends.postgresql",):
        # Persistent connections: a new backend per request halves throughput.
        config["CONN_MAX_AGE"] = int(os.environ.get("KOPILKA_CONN_MAX_AGE", "300"))
        config["CONN_HEALTH_CHECKS"] = True
        if env_bool("KOPILKA_PG_PREPARED_STATEMENTS", default=True):
            # Parameters sent apart from the SQL, and a statement run 5 times on a connection
            # prepared there: PostgreSQL then stops parsing and planning the same few hot
            # statements on every request, 8.5 -> 4.7 ms of its CPU per POS sale under load
            # (docs/benchmarks.md). Off for a PgBouncer in transaction mode older than 1.21.
            config["OPTIONS"] = {"server_side_binding": True, "prepare_threshold": 5}
    else:
        raise ImproperlyConfigured(
            f"DATABASE_URL must point at PostgreSQL or SQLite; {engine} is not supported."
        )
    return config


def networks(name: str, value: str) -> list[IPv4Network | IPv6Network]:
    """A comma-separated list of addresses or CIDR blocks (KOPILKA_METRICS_ALLOW); a wrong
    entry stops the start instead of silently allowing nobody, or everybody."""
    found = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        try:
            found.append(ip_network(item, strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"{name}: {item!r} is not an address or a CIDR block (10.0.0.0/8)"
            ) from None
    return found


LOG_FORMATS = ("plain", "json")


def log_format(value: str | None) -> str:
    """KOPILKA_LOG_FORMAT: plain (readable, the default) or json (one object per line)."""
    chosen = (value or "").strip().lower() or "plain"
    if chosen not in LOG_FORMATS:
        raise ImproperlyConfigured(f"KOPILKA_LOG_FORMAT must be plain or json; got {chosen!r}")
    return chosen
