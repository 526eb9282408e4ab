"""Operations endpoints: /healthz (liveness), /readyz (dependencies), /metrics (Prometheus), and the client
address used by the login lockout."""

from __future__ import annotations

import hmac
import logging
import math
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from kalshiweb.celery import app
from kalshiweb.exchange import make_client, run_blocking
from kalshiweb.metrics import GaugeMetricFamily, exposition
from markets.live import HEALTH_KEY, _parse

log = logging.getLogger(__name__)

CHECK_TIMEOUT = 2.0
EXCHANGE_CACHE_KEY = "kw:ops:exchange"
EXCHANGE_CACHE_SECONDS = 5
FEED_LEASE_KEY = "kw:feed:leader"


def client_ip(request: HttpRequest) -> str | None:
    """The login lockout's client address: the TCP peer, or behind KALSHIWEB_PROXY_COUNT proxies the address
    the outermost of them saw (they each append one to X-Forwarded-For; anything before that the client may
    have written itself)."""
    count = settings.KALSHIWEB_PROXY_COUNT
    if count > 0:
        forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
        if len(forwarded) >= count:
            return forwarded[-count]
    return request.META.get("REMOTE_ADDR")


# --- liveness ---------------------------------------------------------------------------------------------


@never_cache
@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    """The process answers: no database, Redis or exchange touched."""
    return HttpResponse("ok\n", content_type="text/plain")


# --- readiness --------------------------------------------------------------------------------------------


def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=CHECK_TIMEOUT, socket_connect_timeout=CHECK_TIMEOUT)


def check_database() -> dict[str, Any]:
    postgres = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()" if postgres else "SELECT 1")
        row = cursor.fetchone()
    # On PostgreSQL, the server process behind this request's connection (the same one again: pooled).
    return {"vendor": connection.vendor, **({"backend_pid": row[0]} if postgres and row else {})}


def check_redis() -> dict[str, Any]:
    client = _redis(settings.REDIS_URL)
    try:
        client.ping()
    finally:
        client.close()
    return {}


def check_broker() -> dict[str, Any]:
    url = settings.CELERY_BROKER_URL
    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    if url.startswith(("redis://", "rediss://", "unix://")):
        client = _redis(url)
        try:
            return {"queue": queue, "queue_length": int(client.llen(queue))}
        finally:
            client.close()
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=CHECK_TIMEOUT)
    return {"queue": queue}


def check_feed() -> dict[str, Any]:
    """The kalshi_feed leader: the lease is held, its health (written every second) is fresh, its upstream
    socket is connected. The age of its last upstream message is reported (a quiet market may send none)."""
    client = _redis(settings.REDIS_URL)
    try:
        lease_ttl_ms, raw = client.pttl(FEED_LEASE_KEY), client.get(HEALTH_KEY)
    finally:
        client.close()
    health = _parse(HEALTH_KEY, raw) or {}
    now = time.time()
    reported = health.get("ts")
    message_age = health.get("last_message_age")
    result: dict[str, Any] = {
        "lease_holder": health.get("name") if lease_ttl_ms > 0 else None,
        "lease_ttl_ms": max(int(lease_ttl_ms), 0),
        "health_age": round(now - reported, 3) if isinstance(reported, int | float) else None,
        "connected": bool(health.get("connected")),
        "last_message_age": round(message_age + (now - reported), 3)
        if isinstance(message_age, int | float) and isinstance(reported, int | float)
        else None,
        "watched": health.get("watched"),
    }
    if lease_ttl_ms <= 0:
        raise CheckFailed("no kalshi_feed holds the lease", result)
    if result["health_age"] is None or result["health_age"] > 10:
        raise CheckFailed("the feed leader has not reported its health for over 10 s", result)
    if not result["connected"]:
        raise CheckFailed("the feed is not connected to the exchange", result)
    return result


def check_exchange() -> dict[str, Any]:
    """GET /exchange/status, at most once per EXCHANGE_CACHE_SECONDS for all web processes together (probes
    must not spend the exchange's rate limit)."""
    try:
        cached = cache.get(EXCHANGE_CACHE_KEY)
    except Exception:  # Redis down: it is reported as such, ask the exchange anyway
        cached = None
    if isinstance(cached, dict):
        if cached.get("error"):
            raise CheckFailed(cached["error"], {"url": settings.KALSHI_API_BASE})
        return cached

    async def status() -> Any:
        async with make_client(timeout=CHECK_TIMEOUT, connect_timeout=CHECK_TIMEOUT, max_attempts=1) as c:
            return await c.get_exchange_status()

    try:
        answer = run_blocking(status)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"[:300]
        _remember({"error": error})
        raise CheckFailed(error, {"url": settings.KALSHI_API_BASE}) from None
    result = {
        "url": settings.KALSHI_API_BASE,
        "exchange_active": bool(getattr(answer, "exchange_active", False)),
        "trading_active": bool(getattr(answer, "trading_active", False)),
    }
    _remember(result)
    return result


def _remember(result: dict[str, Any]) -> None:
    try:
        cache.set(EXCHANGE_CACHE_KEY, result, EXCHANGE_CACHE_SECONDS)
    except Exception:
        log.debug("could not cache the exchange status", exc_info=True)


class CheckFailed(Exception):
    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.details = details or {}


CHECKS: dict[str, Callable[[], dict[str, Any]]] = {
    "database": check_database,
    "redis": check_redis,
    "broker": check_broker,
    "feed": check_feed,
    "exchange": check_exchange,
}


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """200 with every dependency's state, or 503 naming those that failed."""
    checks: dict[str, Any] = {}
    failed: list[str] = []
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            entry = {"ok": True, **check()}
        except CheckFailed as exc:
            entry = {"ok": False, "error": str(exc), **exc.details}
        except Exception as exc:
            entry = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
        entry["seconds"] = round(time.perf_counter() - started, 4)
        if not entry["ok"]:
            failed.append(name)
        checks[name] = entry
    body = {"status": "ok" if not failed else "unavailable", "failed": failed, "checks": checks}
    return JsonResponse(body, status=503 if failed else 200)


# --- metrics ----------------------------------------------------------------------------------------------


class _ScrapeTimeCollector:
    """What is read when /metrics is scraped: the feed's health and the Celery queue, from Redis."""

    def collect(self) -> Iterator[Any]:
        age = GaugeMetricFamily(
            "kalshiweb_feed_message_age_seconds",
            "Seconds since the feed leader's last upstream message (NaN: no leader or no message yet).",
        )
        connected = GaugeMetricFamily(
            "kalshiweb_feed_connected",
            "1 when a feed leader holds the lease and its upstream socket is open.",
        )
        try:
            feed = check_feed()
        except CheckFailed as exc:
            feed = {**exc.details, "connected": False}
        except Exception:
            feed = {"connected": False}
        message_age = feed.get("last_message_age")
        age.add_metric([], float(message_age) if message_age is not None else math.nan)
        connected.add_metric([], 1.0 if feed.get("connected") else 0.0)
        yield age
        yield connected

        queue = GaugeMetricFamily(
            "kalshiweb_celery_queue_length", "Tasks waiting in the Celery queue.", labels=["queue"]
        )
        try:
            broker = check_broker()
        except Exception:
            broker = {}
        if "queue_length" in broker:
            queue.add_metric([broker["queue"]], float(broker["queue_length"]))
        yield queue


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    token = settings.KALSHIWEB_METRICS_TOKEN
    if not token:
        return HttpResponse("Not Found\n", status=404, content_type="text/plain")
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        response = HttpResponse("Unauthorized\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    body, content_type = exposition(_ScrapeTimeCollector())
    return HttpResponse(body, content_type=content_type)


# --- set-up -----------------------------------------------------------------------------------------------


def _static_sources_fingerprint() -> str:
    import hashlib

    from django.contrib.staticfiles.finders import get_finders

    digest = hashlib.sha256(settings.STORAGES["staticfiles"]["BACKEND"].encode())
    for finder in get_finders():
        for path, storage in sorted(finder.list([]), key=lambda item: item[0]):
            stat = Path(storage.path(path)).stat()
            digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def prepare_static_and_metrics() -> None:
    """`make run`, before any process starts: collect the hashed, compressed static files (production
    static storage), and empty the metrics directory (the files of processes from a previous run)."""
    from django.core.management import call_command

    if settings.KALSHIWEB_STATIC_MANIFEST:
        # Hashing and compressing everything takes seconds: only when a source file changed since last time.
        stamp = Path(settings.STATIC_ROOT) / ".kw-sources"
        sources = _static_sources_fingerprint()
        if not (stamp.exists() and stamp.read_text() == sources):
            call_command("collectstatic", interactive=False, verbosity=0)
            stamp.write_text(sources)
    metrics_dir = Path(settings.KALSHIWEB_METRICS_DIR)
    if metrics_dir.is_dir():
        for path in metrics_dir.glob("*.db"):
            path.unlink(missing_ok=True)
    else:
        metrics_dir.mkdir(parents=True, exist_ok=True)
