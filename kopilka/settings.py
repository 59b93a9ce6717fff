"""Kopilka settings: one file, driven by environment variables (12-factor).

With no environment at all Kopilka runs in development mode on an SQLite file under
`./var/`. Production (`KOPILKA_ENV=production`) refuses to start without a strong explicit
secret, with DEBUG on, or without named ALLOWED_HOSTS; any other KOPILKA_ENV is refused — see
`kopilka.core.config`.
"""

import os
from datetime import timedelta
from pathlib import Path

from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

from kopilka.codes.conf import code_settings
from kopilka.core.config import (
    database_settings,
    env_bool,
    env_list,
    environment,
    load_or_create_secret_key,
    log_format,
    networks,
    require_production_safety,
)
from kopilka.core.logs import logging_settings
from kopilka.core.taskqueue import broker_url, tasks_settings
from kopilka.messaging.conf import mailer_settings, messaging_settings, sms_billing_settings

BASE_DIR = Path(__file__).resolve().parent
KOPILKA_ENV = environment(os.environ.get("KOPILKA_ENV"))
PRODUCTION = KOPILKA_ENV == "production"
DATA_DIR = Path(os.environ.get("KOPILKA_DATA_DIR", "var")).resolve()

DEBUG = env_bool("KOPILKA_DEBUG", default=not PRODUCTION)
ALLOWED_HOSTS = env_list("KOPILKA_ALLOWED_HOSTS", default=[] if PRODUCTION else ["*"])
CSRF_TRUSTED_ORIGINS = env_list("KOPILKA_CSRF_TRUSTED_ORIGINS", default=[])
SECRET_KEY = os.environ.get("KOPILKA_SECRET_KEY") or (
    None if PRODUCTION else load_or_create_secret_key(DATA_DIR)
)
require_production_safety(
    production=PRODUCTION, secret_key=SECRET_KEY, debug=DEBUG, allowed_hosts=ALLOWED_HOSTS
)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "phonenumber_field",
    "django_tasks_db",
    "ninja",  # its templates and static files: the API docs page without a CDN
    "axes",  # failed logins, per account and per address (kopilka/tenancy/logins.py)
    "kopilka.core",
    "kopilka.tenancy",
    "kopilka.members",
    "kopilka.programs",
    "kopilka.ledger",
    "kopilka.processing",
    "kopilka.webhooks",
    "kopilka.messaging",
    "kopilka.codes",
    "kopilka.automation",
    "kopilka.analytics",
    "kopilka.campaigns",
    "kopilka.rewards",
    "kopilka.referrals",
    "kopilka.feedback",
    "kopilka.billing",
    "kopilka.api",
    "kopilka.web",
    "kopilka.web.cashier",
    "kopilka.web.cabinet",
    "kopilka.web.wallet",
]

MIDDLEWARE = [
    "kopilka.web.ops.RequestMetricsMiddleware",  # first: times and logs every answer
    "kopilka.api.lean.LeanPosMiddleware",  # /api/v1/pos/ with a key: POS_MIDDLEWARE instead
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "kopilka.api.ratelimit.RateLimitMiddleware",  # before any work; 429s in the caller's language
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",  # request.htmx (kopilka/web/htmx.py)
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "kopilka.core.middleware.OperatorScopesMiddleware",
    "kopilka.core.dbdown.DatabaseUnavailableMiddleware",  # database down: 503, not 500
    "kopilka.core.dbrouter.ReplicaReadsMiddleware",  # analytics GETs read on a replica
    "kopilka.api.idempotency.IdempotencyMiddleware",  # needs request.user; wraps the view only
    "axes.middleware.AxesMiddleware",  # last: turns a locked-out login into the lockout page
]

# The short chain of key-authenticated /api/v1/pos/ calls (kopilka/api/lean.py): what a till's
# JSON call needs of the chain above, without session, CSRF, auth, messages, htmx or axes.
POS_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "kopilka.api.ratelimit.RateLimitMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "kopilka.core.dbdown.DatabaseUnavailableMiddleware",
    "kopilka.api.idempotency.PosIdempotencyMiddleware",  # claim + operation + answer: one tx
]

# The usual POS sale committed in two pipelined round trips on PostgreSQL
# (kopilka/processing/fastsale.py); 0 sends every sale through the ORM path.
PIPELINED_COMMIT = env_bool("KOPILKA_PIPELINED_COMMIT", default=True)
# The nightly sweep on PostgreSQL: each chunk of accounts journalled by one SQL statement
# (kopilka/ledger/sqlsweep.py; 0 keeps the Python path), in this many parallel streams (each a
# connection of its own; 1 where a pooler caps connections).
SQL_SWEEP = env_bool("KOPILKA_SQL_SWEEP", default=True)
SWEEP_STREAMS = max(1, int(os.environ.get("KOPILKA_SWEEP_STREAMS", "2")))

ROOT_URLCONF = "kopilka.urls"
WSGI_APPLICATION = "kopilka.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": database_settings(os.environ.get("DATABASE_URL"), DATA_DIR)}
# A read replica for analytics and exports (kopilka/core/dbrouter.py; docs/operations.md).
if os.environ.get("KOPILKA_REPLICA_URL", "").strip():
    DATABASES["replica"] = database_settings(os.environ["KOPILKA_REPLICA_URL"].strip(), DATA_DIR)
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["kopilka.core.dbrouter.ReplicaRouter"]
# PostgreSQL row-level security as a second tenant boundary (kopilka/core/rls.py), off unless on.
KOPILKA_RLS = os.environ.get("KOPILKA_RLS", "").strip().lower() == "on"
KOPILKA_RLS_ROLE = os.environ.get("KOPILKA_RLS_ROLE", "").strip()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
# Every authenticate() call, the admin's and the web logins' to come, goes through axes first:
# a locked-out account or address is refused before its password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# Background work goes through Django's tasks API (docs/operations.md, "Background work"). The
# embedded default stores tasks in the database and `kopilka up` runs the worker beside the web
# server; KOPILKA_TASKS_BACKEND=celery sends the same tasks through KOPILKA_BROKER_URL (RabbitMQ
# amqp://... or Redis redis://...) to Celery workers (kopilka/celery.py).
TASKS = tasks_settings(os.environ)
# Celery's own settings, read by kopilka/celery.py with the CELERY_ prefix (celery backend only).
CELERY_BROKER_URL = broker_url(os.environ)
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("KOPILKA_CELERY_QUEUE", "").strip() or "kopilka"
# At least once: a task is acknowledged when it has run, so a worker killed mid-task leaves it
# to the next worker; the outbox's claims make a repeated task do nothing.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_IGNORE_RESULT = True  # outcomes live in the outbox rows, not in a result store
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True  # a worker started before its broker waits

# Outgoing SMS and email (docs/messaging.md): a backend per channel with its options,
# from KOPILKA_SMS_BACKEND/_OPTIONS and KOPILKA_EMAIL_CHANNEL_BACKEND/_OPTIONS.
MESSAGING = messaging_settings(os.environ)
# Web push to the wallet instead of SMS (docs/wallet.md, "Notifications"): on unless
# KOPILKA_PUSH=off; only to the push services of these hosts (KOPILKA_PUSH_HOSTS, comma-
# separated; a leading dot takes a whole domain), over https; the VAPID key pair lives in the
# data directory unless KOPILKA_PUSH_VAPID_KEY_FILE names another file.
PUSH_ENABLED = os.environ.get("KOPILKA_PUSH", "on").strip().lower() not in ("off", "0", "no")
PUSH_HOSTS = [host.strip().lower() for host in os.environ.get(
    "KOPILKA_PUSH_HOSTS",
    "fcm.googleapis.com,updates.push.services.mozilla.com,.push.apple.com,"
    ".notify.windows.com").split(",") if host.strip()]
PUSH_ALLOW_HTTP = False  # tests post to a loopback push service
PUSH_VAPID_KEY_FILE = os.environ.get("KOPILKA_PUSH_VAPID_KEY_FILE") or None
PUSH_VAPID_SUBJECT = os.environ.get("KOPILKA_PUSH_VAPID_SUBJECT", "mailto:push@kopilka.invalid")
# SMS billing (docs/messaging.md, "SMS billing"): merchants prepay SMS in the platform's
# currency; each part costs SMS_PRICE minor units after SMS_FREE_PARTS free ones. From
# KOPILKA_SMS_CURRENCY (RUB), KOPILKA_SMS_PRICE (250) and KOPILKA_SMS_FREE_PARTS (100).
_sms_billing = sms_billing_settings(os.environ)
SMS_CURRENCY = _sms_billing["SMS_CURRENCY"]
SMS_PRICE = _sms_billing["SMS_PRICE"]
SMS_FREE_PARTS = _sms_billing["SMS_FREE_PARTS"]
# Email's transport (Django's mailers): SMTP when KOPILKA_EMAIL_HOST is set, else the console.
MAILERS = {"default": mailer_settings(os.environ)}
DEFAULT_FROM_EMAIL = os.environ.get("KOPILKA_EMAIL_FROM", "kopilka@localhost")
# Where members reach this installation (the unsubscribe link in messages), without a slash
# at the end; and the shared secret SMS gateways send inbound replies ("STOP") with, as
# `Authorization: Bearer ...` (unset: inbound SMS is refused). docs/messaging.md.
PUBLIC_URL = os.environ.get("KOPILKA_PUBLIC_URL", "http://localhost:8000").strip().rstrip("/")
INBOUND_SMS_SECRET = os.environ.get("KOPILKA_INBOUND_SMS_SECRET", "").strip()
# Subscription billing (docs/billing.md): the operator API's bearer token, the payment
# webhook's HMAC secret (both off while empty) and the days of grace before read-only.
BILLING_OPERATOR_TOKEN = os.environ.get("KOPILKA_BILLING_OPERATOR_TOKEN", "").strip()
BILLING_WEBHOOK_SECRET = os.environ.get("KOPILKA_BILLING_WEBHOOK_SECRET", "").strip()
BILLING_GRACE_DAYS = int(os.environ.get("KOPILKA_BILLING_GRACE_DAYS", "3"))

# One-time codes (docs/api.md, "One-time codes"): KOPILKA_CODE_DIGITS (6), KOPILKA_CODE_TTL
# (300 s), KOPILKA_CODE_ATTEMPTS (5), and the limits KOPILKA_CODE_LIMIT_PHONE ("1/60,5/3600":
# codes per phone number) and KOPILKA_CODE_LIMIT_CLIENT ("30/3600": per terminal or address).
ONE_TIME_CODES = code_settings(os.environ)

# Webhooks may go to loopback/private addresses only outside production, unless allowed
# (docs/webhooks.md, "Where webhooks may go").
WEBHOOKS_ALLOW_PRIVATE = env_bool("KOPILKA_WEBHOOKS_ALLOW_PRIVATE", default=not PRODUCTION)

# Local hour from which the daily member jobs (reminders, birthday gifts) run: not at night.
AUTOMATION_HOUR = int(os.environ.get("KOPILKA_AUTOMATION_HOUR", "10"))

# The cache holds the API's rate-limit counters (kopilka/api/ratelimit.py). LocMem is per
# process: with several web processes each counts alone. KOPILKA_REDIS_URL (redis://host:6379/0)
# shares the counts between processes and hosts.
REDIS_URL = os.environ.get("KOPILKA_REDIS_URL", "").strip()
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
         "KEY_PREFIX": "kopilka"}
        if REDIS_URL else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}
# Requests per credential: "<requests>/<seconds>", "0" = no limit.
RATE_LIMITS = {
    "pos": os.environ.get("KOPILKA_RATE_LIMIT_POS", "1200/60"),
    "manage": os.environ.get("KOPILKA_RATE_LIMIT_MANAGE", "600/60"),
}

LANGUAGE_CODE = os.environ.get("KOPILKA_LANGUAGE", "ru")
LANGUAGES = [("ru", _("Russian")), ("uk", _("Ukrainian")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("KOPILKA_STATIC_ROOT", DATA_DIR / "static")).resolve()
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise expects it before collectstatic
# Uploaded files (the reward catalogue's pictures, re-encoded): under the data dir.
MEDIA_ROOT = Path(os.environ.get("KOPILKA_MEDIA_ROOT", DATA_DIR / "media")).resolve()
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

PHONENUMBER_DEFAULT_REGION = os.environ.get("KOPILKA_PHONE_REGION", "RU")

# A cashier at a browser counter is switched out after this many seconds without using it
# (KOPILKA_COUNTER_IDLE_LOCK in minutes, default 15; 0: never), so an unattended tablet shows
# no member's data and sells in nobody's name.
COUNTER_IDLE_LOCK = int(os.environ.get("KOPILKA_COUNTER_IDLE_LOCK", "15")) * 60
PHONENUMBER_DB_FORMAT = "E164"

SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
BEHIND_TLS_PROXY = env_bool("KOPILKA_BEHIND_TLS_PROXY", default=False)
if BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # Behind the TLS proxy every request should be HTTPS: plain HTTP is redirected, and
    # browsers are told to use HTTPS only (HSTS, sent on HTTPS answers). /health stays plain for
    # load balancers that probe the port directly.
    SECURE_SSL_REDIRECT = True
    SECURE_REDIRECT_EXEMPT = [r"^health$"]
    SECURE_HSTS_SECONDS = int(os.environ.get("KOPILKA_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("KOPILKA_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env_bool("KOPILKA_HSTS_PRELOAD", default=False)
# Preloading is a request the owner of the registrable domain makes to browser vendors; an
# installation on bonus.example.com cannot make it, so Django's reminder is noise here.
SILENCED_SYSTEM_CHECKS = ["security.W021"]
# A covering index (INCLUDE columns, processing.Purchase) is PostgreSQL's; SQLite builds the
# same index without them, which is what we want, so its "does not support" warning is noise.
SILENCED_SYSTEM_CHECKS += ["models.W040"]
# The client's address for per-address limits (logins): the proxy's X-Forwarded-For (its last
# entry, the one the proxy appended) when the proxy sets it, else the connection's address.
TRUST_X_FORWARDED_FOR = env_bool("KOPILKA_TRUST_X_FORWARDED_FOR", default=BEHIND_TLS_PROXY)

# Content-Security-Policy on every answer: scripts, styles, fonts and pages' requests only from
# this site, no inline script or style, no plugins, no framing. The admin, the API docs page and
# the browser UIs work under it: their files are served from here and hold no inline code
# (docs/architecture.md). Images may also be data: URIs (the docs page's icons).
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

# The API docs page (/api/v1/docs, Swagger UI served from here): on in development, off in
# production unless KOPILKA_API_DOCS=1. The OpenAPI document itself is always served.
API_DOCS = env_bool("KOPILKA_API_DOCS", default=not PRODUCTION)

# Failed logins (django-axes, kopilka/tenancy/logins.py): after KOPILKA_LOGIN_FAILURE_LIMIT
# failures for one account, or from one address, within KOPILKA_LOGIN_COOLOFF_MINUTES, logins
# for it are refused until that many minutes pass without a new failure.
AXES_FAILURE_LIMIT = int(os.environ.get("KOPILKA_LOGIN_FAILURE_LIMIT", "10"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("KOPILKA_LOGIN_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # either one locks
# Attempts while locked are refused but do not prolong the lock: the real user retrying does
# not lock themselves out for longer.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_CALLABLE = "kopilka.tenancy.logins.username_of"
AXES_CLIENT_IP_CALLABLE = "kopilka.tenancy.logins.client_ip"
AXES_LOCKOUT_CALLABLE = "kopilka.tenancy.logins.lockout_response"
AXES_DISABLE_ACCESS_LOG = True  # successful logins: the audit log's business
AXES_VERBOSE = False

# Logs (docs/operations.md, "Logs"): KOPILKA_LOG_FORMAT=json writes one JSON object per line,
# one line per request among them (kopilka/web/ops.py); plain, the default, is for reading.
LOG_FORMAT = log_format(os.environ.get("KOPILKA_LOG_FORMAT"))
LOGGING = logging_settings(LOG_FORMAT, os.environ.get("KOPILKA_LOG_LEVEL", "INFO"))

# /metrics (docs/operations.md, "Metrics") answers a scraper that sends
# `Authorization: Bearer <KOPILKA_METRICS_TOKEN>` or comes from an address in
# KOPILKA_METRICS_ALLOW (addresses or CIDR blocks, comma-separated); anyone else gets 404.
# Neither set: /metrics is off.
METRICS_TOKEN = os.environ.get("KOPILKA_METRICS_TOKEN", "").strip()
METRICS_ALLOW = networks("KOPILKA_METRICS_ALLOW", os.environ.get("KOPILKA_METRICS_ALLOW", ""))
