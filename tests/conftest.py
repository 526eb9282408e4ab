"""Shared fixtures: the simulator over loopback, a daphne server on the test database, headless Chromium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.keypool import KeyPool

# Every simulator the suite starts is checked against Kalshi's OpenAPI/AsyncAPI files (tests/spec/plugin.py).
from tests.spec.plugin import pytest_sessionfinish, spec_conformance  # noqa: F401
from tests.static_once import collected_static  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent


REAL_ARGON2 = "django.contrib.auth.hashers.Argon2PasswordHasher"
FAST_ARGON2 = "tests.helpers.FastArgon2PasswordHasher"


# A failed test that ran real processes (daphne, the feed) or a browser page carries the end of their logs and
# the page's console in its report: CI runs on a clone that is gone afterwards, with its var directory.
LOG_TAIL_LINES = 60


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 200 * lines))
            return "\n".join(f.read().decode("utf-8", "replace").splitlines()[-lines:])
    except OSError as exc:
        return f"(cannot read {path}: {exc})"


def note_log(request: pytest.FixtureRequest, name: str, path: Path) -> None:
    """Name a log file whose end goes into this test's report if it fails."""
    logs = request.node.__dict__.setdefault("kw_logs", {})
    logs[name] = path


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.failed and call.when == "call":
        for name, path in item.__dict__.get("kw_logs", {}).items():
            report.sections.append((f"end of {name} ({path})", _tail(path)))
        console = item.__dict__.get("kw_console")
        if console:
            report.sections.append(("browser console and page errors", "\n".join(console[-LOG_TAIL_LINES:])))
    return report


def pytest_configure(config: pytest.Config) -> None:
    """Hash test passwords with Argon2 at its cheapest parameters (≈0.3 s a hash saved, and most tests make a
    user). Only the Argon2 entry of the project's list is swapped, so a settings.py that stopped using Argon2
    still fails tests/web/test_ops_security.py."""
    from django.conf import settings
    from django.contrib.auth.hashers import get_hashers, get_hashers_by_algorithm

    settings.PASSWORD_HASHERS = [FAST_ARGON2 if h == REAL_ARGON2 else h for h in settings.PASSWORD_HASHERS]
    get_hashers.cache_clear()
    get_hashers_by_algorithm.cache_clear()


@pytest.fixture(scope="session", autouse=True)
def simulator_key_pool(request: pytest.FixtureRequest) -> Iterator[KeyPool]:
    """Simulator accounts (`sim.add_account()`) get their RSA keys from tests/keypool.py's pool, read back
    from pytest's cache instead of generated each run. A test that calls generate_rsa_key_pair itself still
    gets a freshly generated key."""
    from kalshiweb.simulator import testing

    cache = getattr(request.config, "cache", None)
    folder = None
    if cache is not None:
        folder = cache.mkdir("kalshiweb-rsa-keys") / (os.environ.get("PYTEST_XDIST_WORKER") or "main")
    real = testing.generate_rsa_key_pair
    pool = KeyPool(folder, real)
    testing.generate_rsa_key_pair = pool
    try:
        yield pool
    finally:
        testing.generate_rsa_key_pair = real


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early with code {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.3).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on port {port} after {timeout}s")


def chromium_path() -> str | None:
    candidates = [os.environ.get("CHROMIUM_PATH", ""), "/usr/bin/chromium", shutil.which("chromium") or ""]
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


@pytest.fixture
def browser() -> Iterator[object]:
    """Headless Chromium for one test. Not session-wide: Playwright's sync API keeps an event loop
    running in the main thread while it is open, which would break later tests that call asyncio.run()."""
    path = chromium_path()
    if path is None:
        if os.environ.get("KALSHIWEB_REQUIRE_BROWSER"):
            pytest.fail("KALSHIWEB_REQUIRE_BROWSER is set but no Chromium was found")
        pytest.skip(
            "no Chromium installed (apt-get install chromium, or set CHROMIUM_PATH): browser tests skipped"
        )
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in this thread; the ORM calls the tests
    # make between page actions are still plain synchronous code.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=path,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-dev-shm-usage",
            ],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: object, request: pytest.FixtureRequest) -> Iterator[object]:
    context = browser.new_context()  # type: ignore[attr-defined]
    pg = context.new_page()
    console: list[str] = request.node.__dict__.setdefault("kw_console", [])
    started = time.monotonic()

    def seen(kind: str, text: str) -> None:
        console.append(f"{time.monotonic() - started:7.2f}s {kind}: {text}")

    pg.on("console", lambda message: seen(message.type, message.text))
    pg.on("pageerror", lambda error: seen("pageerror", str(error)))
    pg.on("requestfailed", lambda req: seen("requestfailed", f"{req.method} {req.url} {req.failure}"))
    yield pg
    context.close()


@pytest.fixture
def daphne_server(transactional_db: None, settings: object, request: pytest.FixtureRequest) -> Iterator[str]:
    """The real ASGI app under daphne, started as the Procfile does (`python -m kalshiweb.serve`, so with
    kalshiweb.daphne_fastpath installed), in a subprocess, on the test database. Yields its base URL."""
    from django.db import connection

    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        database_url = f"sqlite:///{db['NAME']}"
    else:
        database_url = f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        # Whatever exchange this test points at (the simulator, when sim_settings came first).
        "KALSHI_API_BASE": settings.KALSHI_API_BASE,  # type: ignore[attr-defined]
        "KALSHI_WS_URL": settings.KALSHI_WS_URL,  # type: ignore[attr-defined]
    }
    log_path = Path(os.environ["KALSHIWEB_VAR_DIR"]) / f"daphne-{port}.log"
    note_log(request, "daphne log", log_path)
    log_file = log_path.open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kalshiweb.serve",
            "--server",
            "daphne",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=ROOT,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for_port(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log_file.close()
        print(f"daphne log: {log_path}")


@pytest.fixture(scope="module")
def sim() -> Iterator[object]:
    """The built-in exchange simulator on a random loopback port, still (no background activity)."""
    from kalshiweb.simulator.testing import start_simulator

    with start_simulator(seed=1, activity=0.0, rate_limit_tier=None) as running:
        yield running


@pytest.fixture
def sim_settings(sim: object, settings: object) -> object:
    """Point the app's Kalshi settings at the simulator, with a fresh funded account key."""
    key_id, pem = sim.add_account()  # type: ignore[attr-defined]
    key_path = Path(settings.VAR_DIR) / f"key-{key_id}.pem"  # type: ignore[attr-defined]
    key_path.write_bytes(pem)
    settings.KALSHI_API_BASE = sim.rest_base  # type: ignore[attr-defined]
    settings.KALSHI_WS_URL = sim.ws_url  # type: ignore[attr-defined]
    settings.KALSHI_API_KEY_ID = key_id  # type: ignore[attr-defined]
    settings.KALSHI_PRIVATE_KEY_PATH = str(key_path)  # type: ignore[attr-defined]
    return settings


@pytest.fixture
def celery_worker(transactional_db: None) -> Iterator[object]:
    """A real Celery worker (solo pool, in a thread) consuming from the real Redis broker."""
    from celery.contrib.testing.worker import start_worker

    from kalshiweb.celery import app

    app.conf.broker_url = os.environ["REDIS_URL"]
    # The worker waits for messages with BRPOP, and stopping it waits for the BRPOP to return: 1 s by
    # default, which was most of each worker test's teardown. 0.1 s costs Redis ten idle round trips a second.
    app.conf.broker_transport_options = {**app.conf.broker_transport_options, "polling_interval": 0.1}
    with start_worker(
        app, pool="solo", perform_ping_check=False, shutdown_timeout=10, loglevel="WARNING"
    ) as worker:
        yield worker


@pytest.fixture
def trader(sim: object, sim_settings: object, transactional_db: None) -> object:
    """Alice, a trader linked to a funded simulator account (key stored encrypted)."""
    from tests.factories import make_user
    from trading.models import KalshiAccount, TraderProfile

    key_id, pem = sim.add_account()  # type: ignore[attr-defined]
    account = KalshiAccount(name=f"sim-{key_id[:8]}", environment="simulator", api_key_id=key_id)
    account.set_private_key(pem)
    account.save()
    user = make_user("alice")
    TraderProfile.objects.create(user=user, account=account)
    user.kalshi_account = account  # type: ignore[attr-defined]
    user.sim_user_id = sim.user_id(key_id)  # type: ignore[attr-defined]
    return user


def database_url() -> str:
    from django.db import connection

    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    return (
        f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )


@pytest.fixture
def feed_process(sim, sim_settings, daphne_server, request):
    from markets.sync import sync_markets

    sync_markets()
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "KALSHI_API_BASE": sim.rest_base,
        "KALSHI_WS_URL": sim.ws_url,
        "KALSHI_API_KEY_ID": sim_settings.KALSHI_API_KEY_ID,
        "KALSHI_PRIVATE_KEY_PATH": sim_settings.KALSHI_PRIVATE_KEY_PATH,
    }
    import redis

    from markets.feed import HEALTH_KEY

    client = redis.Redis.from_url(sim_settings.REDIS_URL)
    client.delete("kw:feed:leader", HEALTH_KEY)
    log_path = Path(os.environ["KALSHIWEB_VAR_DIR"]) / "feed.log"
    note_log(request, "feed log", log_path)
    log_file = log_path.open("ab")
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "kalshi_feed", "--no-sync", "--lease-ttl-ms", "2000"],
        cwd=ROOT,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    yield proc
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log_file.close()
    client.delete("kw:feed:leader", "kw:ws:refuse_until")


@pytest.fixture(autouse=True)
def fresh_channel_layer() -> Iterator[None]:
    """A new channel layer per test: channels-redis binds its receive loop to the first event loop that uses
    it, and each async test (and each async_to_sync call) runs on a loop of its own."""
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture(autouse=True)
def clean_app_keys() -> Iterator[None]:
    """Each test starts with none of the app's Redis state (cached balances, quotes, books, leases…): database
    ids repeat across tests, so a key left by one test could otherwise describe another test's account."""
    import redis

    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    try:
        keys = list(client.scan_iter(match="kw:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
    yield


@pytest.fixture(autouse=True)
def close_sync_thread_connections() -> Iterator[None]:
    """After each test, close the database connections of asgiref's one thread for thread-sensitive
    `sync_to_async` calls (database_sync_to_async in async tests and consumers). That thread outlives the test:
    a connection a database test opened there would otherwise still be open in the next test, and in a test
    without database access Channels' `close_old_connections` on it fails with "Database access not allowed"
    (found when `make test` first ran tests/trading/test_submission.py before tests/markets/test_consumer.py
    on one worker)."""
    yield
    from asgiref.sync import SyncToAsync
    from django.db import connections

    executor = SyncToAsync.single_thread_executor
    if getattr(executor, "_threads", None):  # only once the thread exists
        executor.submit(connections.close_all).result(timeout=30)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """pytest-django's, and before the test database is dropped, close PostgreSQL's connection pool (with
    DATABASE_URL on PostgreSQL): its idle connections would otherwise keep the database from being dropped."""
    yield
    from django.db import connections

    with django_db_blocker.unblock():
        for conn in connections.all(initialized_only=True):
            if conn.alias in getattr(conn, "_connection_pools", {}):
                conn.close_pool()  # type: ignore[attr-defined]
