"""`make run`'s embedded Redis asks for a password that only the owner can read, and var/ is the owner's only:
another local user can neither connect to Redis (and publish into `kw:md:*`) nor read the database."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from kalshiweb.devredis import start_embedded

ROOT = Path(__file__).resolve().parent.parent.parent


# What a new user's shell has: none of the suite's own services, and no metrics directory of this test
# process's, which `make run`'s set-up would empty (its own var/metrics is the one it should empty).
NOT_A_NEW_USERS = {"REDIS_URL", "DATABASE_URL", "KALSHI_API_KEY_ID", "PROMETHEUS_MULTIPROC_DIR"}


def make_run_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in NOT_A_NEW_USERS}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_embedded_redis_requires_its_password(tmp_path):
    url, proc = start_embedded(tmp_path / "redis")
    try:
        parsed = redis.connection.parse_url(url)
        password = parsed.get("password")
        assert password and len(password) >= 32
        anonymous = redis.Redis(host="127.0.0.1", port=parsed["port"], socket_timeout=2)
        with pytest.raises(redis.AuthenticationError):
            anonymous.publish("kw:md:KXANY-1", "<img src=x onerror=alert(1)>")
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(host="127.0.0.1", port=parsed["port"], password="guess").ping()
        assert redis.Redis.from_url(url).ping()
        # The password is in a 0600 file, not on the command line that `ps` shows every local user.
        assert password.encode() not in Path(f"/proc/{proc.pid}/cmdline").read_bytes()
        config = tmp_path / "redis" / "redis.conf"
        assert mode(config) == 0o600 and password in config.read_text()
    finally:
        proc.terminate()
        proc.wait(5)


def test_make_run_keeps_var_and_everything_in_it_to_its_owner(tmp_path):
    var = tmp_path / "var"
    var.mkdir(mode=0o755)
    var.chmod(0o755)
    stale = var / "redis.url"  # as an older run left it: world-readable
    stale.write_text("redis://127.0.0.1:1/0")
    stale.chmod(0o644)
    env = make_run_env()
    env.update(
        KALSHIWEB_VAR_DIR=str(var), KALSHI_ENV="simulator", DJANGO_SETTINGS_MODULE="kalshiweb.settings"
    )
    from kalshiweb import metrics

    metrics.exchange_response("GET", "/exchange/status", 200)  # this process's counters are on disk now
    ours = set(Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).glob("*.db"))
    assert ours
    out = subprocess.run(
        [sys.executable, "-m", "kalshiweb.bootstrap", "prepare"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    # It emptied its own var/metrics, not this process's (a CI run lost a later test's counters to it).
    assert ours <= set(Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).glob("*.db"))
    assert (var / "metrics").is_dir()
    assert mode(var) == 0o700
    files = [p for p in var.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert {"db.sqlite3", "redis.url", "redis.conf", "secret_key"} <= names
    readable = {str(p.relative_to(var)): oct(mode(p)) for p in files if mode(p) & 0o077}
    assert not readable, readable
    url = (var / "redis.url").read_text()
    password = redis.connection.parse_url(url).get("password")
    assert password and f"requirepass {password}" in (var / "redis.conf").read_text()
    assert password not in out  # the console banner names the file, not the password
    assert "redis.url" in out


def test_make_run_against_kalshi_checks_the_connection_first_and_starts_anyway(tmp_path):
    env = make_run_env()
    env.update(
        KALSHIWEB_VAR_DIR=str(tmp_path / "var"),
        KALSHI_ENV="demo",
        KALSHI_API_BASE="https://external-api.demo.kalshi.invalid/trade-api/v2",
        DJANGO_SETTINGS_MODULE="kalshiweb.settings",
    )
    out = subprocess.run(
        [sys.executable, "-m", "kalshiweb.bootstrap", "prepare"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert "Checking the connection to Kalshi" in out
    assert "FAIL  dns      Exchange unreachable (DNS lookup of external-api.demo.kalshi.invalid failed" in out
    assert "kalshiweb starts anyway" in out and "kalshiweb is starting at" in out
