"""Settings for kalshiweb. Every knob is an environment variable (see .env.example)."""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.utils.csp import CSP

from kalshiweb.env import ConfigError, envbool, envchoice, envint, envlist, envstr
from kalshiweb.logs import logging_config

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
# The app serves its own static files (ServeStatic: hashed names cached for a year, gzip/brotli) unless
# KALSHIWEB_SERVE_STATIC=false (then a proxy serves STATIC_ROOT).
KALSHIWEB_SERVE_STATIC = envbool("KALSHIWEB_SERVE_STATIC", True)
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
    "axes",
    "kalshiweb.apps.KalshiwebConfig",
    "markets",
    "portfolio",
    "trading",
]

MIDDLEWARE = [
    "kalshiweb.logs.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    *(["servestatic.middleware.ServeStaticMiddleware"] if KALSHIWEB_SERVE_STATIC else []),
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "trading.twofactor.TwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    # Last, as django-axes asks: turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
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
                "django.template.context_processors.csp",
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
    # refuses a duplicate (409) and it is reconciled (or, once older than KALSHIWEB_ORDER_SUBMIT_MAX_AGE_SECONDS,
    # looked up and expired if not found). One corner remains: a trader who cancels such an order before the
    # sweep has run, or whose orders page shows it expired first, ends it only locally (it looks never sent).
    # Use PostgreSQL where that matters.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
elif DATABASES["default"]["CONN_MAX_AGE"] == 0 and envint("DATABASE_POOL_MAX_SIZE", 10) > 0:
    # PostgreSQL: web processes borrow connections from psycopg's pool instead of opening one per request
    # (≈5 ms each). Celery workers keep one persistent connection per worker instead (kalshiweb/celery.py).
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": envint("DATABASE_POOL_MIN_SIZE", 1),
        "max_size": envint("DATABASE_POOL_MAX_SIZE", 10),
        "timeout": envint("DATABASE_POOL_TIMEOUT", 10),
    }
    # A pooled connection is checked before it is lent (one round trip): a database restart costs no request.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The per-request user load brings the trader profile and its Kalshi account in the same query (one statement
# instead of two on every trading request). ModelBackend stays listed for sessions made before.
# django-axes first: it refuses a locked-out username or address before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "trading.auth.TraderBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    # Older hashes still verify (and are rehashed with Argon2 at the next login).
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Login lockout (django-axes): after KALSHIWEB_LOGIN_FAILURE_LIMIT wrong passwords for a username, or from an
# address, within KALSHIWEB_LOGIN_LOCKOUT_MINUTES, every login attempt for it (even with the right password) is
# refused until that much time has passed since the last failure, or an admin unlocks it
# (`manage.py axes_reset_username NAME`, `axes_reset_ip ADDRESS`). Counted in Redis: no SQL on a login.
AXES_HANDLER = "axes.handlers.cache.AxesCacheHandler"
AXES_FAILURE_LIMIT = envint("KALSHIWEB_LOGIN_FAILURE_LIMIT", 10)
AXES_COOLOFF_TIME = timedelta(minutes=envint("KALSHIWEB_LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_RESET_ON_SUCCESS = False
AXES_ENABLE_ADMIN = False  # its admin pages list the database handler's records, which we do not keep
AXES_CLIENT_IP_CALLABLE = "kalshiweb.ops.client_ip"
# Proxies in front of the web processes that append to X-Forwarded-For (docs/deploy.md: 1, the TLS proxy).
# 0: the address is the TCP peer's.
KALSHIWEB_PROXY_COUNT = envint("KALSHIWEB_PROXY_COUNT", 0)

LANGUAGE_CODE = "en-us"
TIME_ZONE = envstr("KALSHIWEB_TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(envstr("KALSHIWEB_STATIC_ROOT", str(VAR_DIR / "staticfiles")))
# Production (the default unless DJANGO_DEBUG): `collectstatic` (run by `make run`) writes content-hashed,
# gzip- and brotli-compressed copies into STATIC_ROOT, served with a one-year Cache-Control. With
# KALSHIWEB_STATIC_MANIFEST=false (development, the test suite) files are served from static/ as they are.
KALSHIWEB_STATIC_MANIFEST = envbool("KALSHIWEB_STATIC_MANIFEST", not DEBUG)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "kalshiweb.staticfiles.StaticFilesStorage"
        if KALSHIWEB_STATIC_MANIFEST
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Until collectstatic has run, the files are served from static/ (and `check --deploy` says so).
KALSHIWEB_STATIC_COLLECTED = KALSHIWEB_STATIC_MANIFEST and (STATIC_ROOT / "staticfiles.json").exists()
SERVESTATIC_USE_FINDERS = not KALSHIWEB_STATIC_COLLECTED
SERVESTATIC_AUTOREFRESH = DEBUG  # per request it looks for new files: ~1.7 ms a request
# Hashed names are cached for a year (immutable); anything else (a file not referenced by {% static %}) briefly.
SERVESTATIC_MAX_AGE = 60 if KALSHIWEB_STATIC_COLLECTED else 0

# --- Behind TLS (KALSHIWEB_HTTPS=true): the proxy terminates TLS and sends X-Forwarded-Proto. ---
KALSHIWEB_HTTPS = envbool("KALSHIWEB_HTTPS", False)
if KALSHIWEB_HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    # Probes and the metrics scraper may speak plain HTTP to a web process directly.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = envint("KALSHIWEB_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("KALSHIWEB_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = envbool("KALSHIWEB_HSTS_PRELOAD", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy: scripts only from our own static files (no inline script, no eval); htmx's one
# injected <style> carries the request's nonce (base.html's htmx-config). 'self' covers the page's WebSocket.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

# Prometheus metrics at /metrics, only with `Authorization: Bearer <token>` (404 while unset).
KALSHIWEB_METRICS_TOKEN = envstr("KALSHIWEB_METRICS_TOKEN")
# Where every process on this host writes its counters (prometheus_client multiprocess mode; see
# kalshiweb/metrics.py). Emptied by `make run` at start.
KALSHIWEB_METRICS_DIR = envstr("PROMETHEUS_MULTIPROC_DIR", str(VAR_DIR / "metrics"))
KALSHIWEB_MAX_MARKETS_PER_SOCKET = envint("KALSHIWEB_MAX_MARKETS_PER_SOCKET", 200)
# Browser sockets one user may hold open at once, across every web process (0: no limit).
KALSHIWEB_MAX_SOCKETS_PER_USER = envint("KALSHIWEB_MAX_SOCKETS_PER_USER", 20)
# The GraphQL API (kalshiweb/graphql): requests a minute per API token (per user for the session); 0: no limit.
KALSHIWEB_API_RATE_PER_MINUTE = envint("KALSHIWEB_API_RATE_PER_MINUTE", 120)
# The largest command a page may send on its socket (characters); larger ones are refused unparsed.
KALSHIWEB_SOCKET_MAX_COMMAND_BYTES = envint("KALSHIWEB_SOCKET_MAX_COMMAND_BYTES", 16384)
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
# Two-factor login (trading.twofactor): off (each user may turn it on), staff (required for staff) or all.
KALSHIWEB_REQUIRE_2FA = envchoice("KALSHIWEB_REQUIRE_2FA", "off", ("off", "staff", "all"))

# How often the deployment key's connection to the exchange is diagnosed for the top bar (markets.exchange_health).
KALSHIWEB_EXCHANGE_PROBE_SECONDS = envint("KALSHIWEB_EXCHANGE_PROBE_SECONDS", 30)
# How often the feed leader reads Kalshi's upcoming series fee changes (each is applied at its time: markets.fee_schedule).
KALSHIWEB_FEE_POLL_SECONDS = envint("KALSHIWEB_FEE_POLL_SECONDS", 300)
# The portfolio page: a snapshot older than this is shown stale and refreshed; at most one refresh of an account
# from Kalshi per window; an equity point at most this often.
KALSHIWEB_PORTFOLIO_STALE_AFTER_SECONDS = envint("KALSHIWEB_PORTFOLIO_STALE_AFTER_SECONDS", 60)
KALSHIWEB_PORTFOLIO_REFRESH_WINDOW_SECONDS = envint("KALSHIWEB_PORTFOLIO_REFRESH_WINDOW_SECONDS", 10)
KALSHIWEB_PORTFOLIO_EQUITY_EVERY_SECONDS = envint("KALSHIWEB_PORTFOLIO_EQUITY_EVERY_SECONDS", 300)
CELERY_BEAT_SCHEDULE = {
    "sync-markets": {"task": "markets.tasks.sync_markets", "schedule": envint("KALSHIWEB_SYNC_SECONDS", 300)},
    "reconcile-stuck-orders": {"task": "trading.tasks.reconcile_stuck_orders", "schedule": 15.0},
    "probe-exchange": {"task": "markets.tasks.probe_exchange", "schedule": KALSHIWEB_EXCHANGE_PROBE_SECONDS},
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
# An order not sent this long after it was placed (e.g. the worker was down) is never sent: it becomes expired.
KALSHIWEB_ORDER_SUBMIT_MAX_AGE_SECONDS = envint("KALSHIWEB_ORDER_SUBMIT_MAX_AGE_SECONDS", 30)

# Fernet key that encrypts traders' Kalshi private keys at rest (not SECRET_KEY). Default: var/fernet_key.
KALSHIWEB_FERNET_KEY = envstr("KALSHIWEB_FERNET_KEY")

# text (a terminal) or json (one object a line, for a log pipeline); both carry the request id (kalshiweb.logs).
LOGGING = logging_config(envstr("KALSHIWEB_LOG_FORMAT", "text"), envstr("KALSHIWEB_LOG_LEVEL", "INFO"))

# Errors to Sentry when SENTRY_DSN is set (secrets scrubbed: kalshiweb.errors_reporting).
SENTRY_DSN = envstr("SENTRY_DSN", "")
if SENTRY_DSN:
    from kalshiweb.errors_reporting import init_sentry  # only with a DSN: it loads sentry_sdk

    init_sentry(SENTRY_DSN, environment=KALSHI_ENV, release=envstr("KALSHIWEB_RELEASE", "") or None)

# E-mail (alerts that ask for one), as Django 6.1's MAILERS: only when a host is set. Without one there is no
# mailer, and the alerts page does not offer e-mail (nothing is sent, nothing pretends to be).
_EMAIL_HOST = envstr("KALSHIWEB_EMAIL_HOST", "")
MAILERS = (
    {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": _EMAIL_HOST,
                "port": envint("KALSHIWEB_EMAIL_PORT", 587),
                "username": envstr("KALSHIWEB_EMAIL_USER", ""),
                "password": envstr("KALSHIWEB_EMAIL_PASSWORD", ""),
                "use_tls": envbool("KALSHIWEB_EMAIL_TLS", True),
                "timeout": 10,
            },
        }
    }
    if _EMAIL_HOST
    else {}
)
DEFAULT_FROM_EMAIL = envstr("KALSHIWEB_EMAIL_FROM", "kalshiweb <kalshiweb@localhost>")
if not MAILERS:  # deliberate: no mail server, no e-mail (the check would warn that sending would fail)
    SILENCED_SYSTEM_CHECKS = [*globals().get("SILENCED_SYSTEM_CHECKS", []), "mail.W001"]
