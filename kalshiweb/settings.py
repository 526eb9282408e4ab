"""Settings for kalshiweb. Every knob is an environment variable (see .env.example)."""

from __future__ import annotations

import secrets
from pathlib import Path

import dj_database_url

from kalshiweb.env import ConfigError, envbool, envint, envlist, envstr

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(envstr("KALSHIWEB_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)  # owner only: database, keys, Redis password


def _secret_key() -> str:
    key = envstr("DJANGO_SECRET_KEY")
    if key:
        return key
    # Embedded default: a random key generated once into var/ (never a fixed default).
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = envbool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = envlist("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = envlist("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_htmx",
    "markets",
    "portfolio",
    "trading",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "kalshiweb.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "kalshiweb.context_processors.environment",
            ],
        },
    },
]

WSGI_APPLICATION = None
ASGI_APPLICATION = "kalshiweb.asgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        envstr("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        conn_max_age=envint("DATABASE_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # A file (not :memory:) so that browser tests can run daphne in a subprocess on the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test_db.sqlite3")}
    # Several processes write (web, Celery, the feed): take the write lock at BEGIN so a read-then-write
    # transaction waits for it instead of failing with "database is locked", and let readers run in WAL mode.
    # synchronous=NORMAL in WAL mode: a commit is not fsynced (the WAL is, at checkpoints), so the database
    # cannot be corrupted, but an OS crash or power loss (not a process crash) may drop the last commits. For
    # orders: a lost acknowledgement leaves the order SUBMITTING and the sweep reconciles it by client_order_id;
    # a lost claim leaves it NEW and the sweep resubmits it with the same client_order_id, so the exchange
    # refuses a duplicate (409) and it is reconciled. One corner remains: a trader who cancels such an order
    # before the sweep has run cancels it only locally (it looks never sent). Use PostgreSQL where that matters.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The per-request user load brings the trader profile and its Kalshi account in the same query (one statement
# instead of two on every trading request). ModelBackend stays listed for sessions made before.
AUTHENTICATION_BACKENDS = ["trading.auth.TraderBackend", "django.contrib.auth.backends.ModelBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = envstr("KALSHIWEB_TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
KALSHIWEB_SERVE_STATIC = envbool("KALSHIWEB_SERVE_STATIC", True)
KALSHIWEB_MAX_MARKETS_PER_SOCKET = envint("KALSHIWEB_MAX_MARKETS_PER_SOCKET", 200)
KALSHIWEB_MAX_UPDATES_PER_SECOND = envint("KALSHIWEB_MAX_UPDATES_PER_SECOND", 10)
KALSHIWEB_STALE_AFTER_SECONDS = envint("KALSHIWEB_STALE_AFTER_SECONDS", 30)
KALSHIWEB_SOCKET_PING_SECONDS = envint("KALSHIWEB_SOCKET_PING_SECONDS", 15)
KALSHIWEB_SOCKET_PONG_TIMEOUT = envint("KALSHIWEB_SOCKET_PONG_TIMEOUT", 60)
KALSHIWEB_SOCKET_WINDOW_BYTES = envint("KALSHIWEB_SOCKET_WINDOW_BYTES", 256 * 1024)


def _redis_url() -> str:
    url = envstr("REDIS_URL")
    if url:
        return url
    # `make run` starts a private redis-server and records its URL here.
    recorded = VAR_DIR / "redis.url"
    if recorded.exists():
        return recorded.read_text().strip()
    return "redis://127.0.0.1:6379/0"


REDIS_URL = _redis_url()

# Sessions are read from Redis (written through to the database, which stays the truth when Redis restarts):
# a Redis GET instead of an SQL statement before every request, the order POST among them.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "kw:cache",
        "OPTIONS": {"socket_timeout": 2, "socket_connect_timeout": 2},
    }
}
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [
                {
                    "address": REDIS_URL,
                    "max_connections": envint("CHANNELS_REDIS_MAX_CONNECTIONS", 1000),
                    # redis-py 8 times reads out after 5 s by default, the same as channels-redis's blocking
                    # receive: without a longer timeout an idle consumer dies with TimeoutError.
                    "socket_timeout": 30,
                    "socket_connect_timeout": 5,
                }
            ]
        },
    }
}

CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": envint("CELERY_VISIBILITY_TIMEOUT", 300)}
CELERY_TIMEZONE = "UTC"
CELERY_TASK_DEFAULT_QUEUE = envstr("KALSHIWEB_CELERY_QUEUE", "celery")
CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT = 10.0
# Celery's Django fix-up closes every database connection before and after every task unless this is set:
# a new connection per order. Workers keep theirs; kalshiweb/celery.py drops unusable ones around each task.
CELERY_DB_REUSE_MAX = envint("CELERY_DB_REUSE_MAX", 1_000_000)
CELERY_BEAT_SCHEDULE = {
    "sync-markets": {"task": "markets.tasks.sync_markets", "schedule": envint("KALSHIWEB_SYNC_SECONDS", 300)},
    "reconcile-stuck-orders": {"task": "trading.tasks.reconcile_stuck_orders", "schedule": 15.0},
    "refresh-portfolios": {
        "task": "portfolio.tasks.refresh_portfolios",
        "schedule": envint("KALSHIWEB_PORTFOLIO_REFRESH_SECONDS", 60),
    },
}

# Kalshi connection. With no credentials the built-in simulator is used.
KALSHI_ENV = envstr("KALSHI_ENV", "simulator")
if KALSHI_ENV not in {"simulator", "demo", "production"}:
    raise ConfigError(f"KALSHI_ENV must be simulator, demo or production, got {KALSHI_ENV!r}")
KALSHI_SIM_HOST = envstr("KALSHI_SIM_HOST", "127.0.0.1")
KALSHI_SIM_PORT = envint("KALSHI_SIM_PORT", 8765)
_DEFAULT_URLS = {
    "simulator": (
        f"http://{KALSHI_SIM_HOST}:{KALSHI_SIM_PORT}/trade-api/v2",
        f"ws://{KALSHI_SIM_HOST}:{KALSHI_SIM_PORT}/trade-api/ws/v2",
    ),
    "demo": (
        "https://external-api.demo.kalshi.co/trade-api/v2",
        "wss://external-api-ws.demo.kalshi.co/trade-api/ws/v2",
    ),
    "production": (
        "https://external-api.kalshi.com/trade-api/v2",
        "wss://external-api-ws.kalshi.com/trade-api/ws/v2",
    ),
}
KALSHI_API_BASE = envstr("KALSHI_API_BASE", _DEFAULT_URLS[KALSHI_ENV][0])
KALSHI_WS_URL = envstr("KALSHI_WS_URL", _DEFAULT_URLS[KALSHI_ENV][1])
KALSHI_API_KEY_ID = envstr("KALSHI_API_KEY_ID")
KALSHI_PRIVATE_KEY_PATH = envstr("KALSHI_PRIVATE_KEY_PATH")
if KALSHI_ENV == "simulator" and not KALSHI_API_KEY_ID:
    # The simulator's key pair is generated into var/ on first run (kalshiweb.bootstrap).
    KALSHI_API_KEY_ID = (
        (VAR_DIR / "sim_key_id").read_text().strip() if (VAR_DIR / "sim_key_id").exists() else ""
    )
    KALSHI_PRIVATE_KEY_PATH = KALSHI_PRIVATE_KEY_PATH or str(VAR_DIR / "sim_private_key.pem")

KALSHI_RATE_LIMIT_TIER = envstr("KALSHI_RATE_LIMIT_TIER", "basic")
KALSHI_ORDER_TIMEOUT_SECONDS = float(envint("KALSHI_ORDER_TIMEOUT_SECONDS", 10))
KALSHIWEB_RECONCILE_AFTER_SECONDS = envint("KALSHIWEB_RECONCILE_AFTER_SECONDS", 30)

# Fernet key that encrypts traders' Kalshi private keys at rest (not SECRET_KEY). Default: var/fernet_key.
KALSHIWEB_FERNET_KEY = envstr("KALSHIWEB_FERNET_KEY")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": envstr("KALSHIWEB_LOG_LEVEL", "INFO")},
}
