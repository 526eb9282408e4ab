"""On PostgreSQL, web processes use psycopg's connection pool, sized from the environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx
import pytest
from django.db import connection

from tests.conftest import ROOT

SHOW = "from django.conf import settings; import json; d = settings.DATABASES['default']; " + (
    "print(json.dumps({'pool': d.get('OPTIONS', {}).get('pool'), 'max_age': d['CONN_MAX_AGE']}))"
)


def database_settings(**env: str) -> dict:
    base = {k: v for k, v in os.environ.items() if not k.startswith("DATABASE_")}
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {SHOW}"],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "kalshiweb.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_postgresql_gets_a_pool_sized_from_the_environment():
    url = "postgres://kw@db.example:5432/kalshiweb"
    assert database_settings(DATABASE_URL=url) == {
        "pool": {"min_size": 1, "max_size": 10, "timeout": 10},
        "max_age": 0,
    }
    sized = database_settings(
        DATABASE_URL=url, DATABASE_POOL_MIN_SIZE="4", DATABASE_POOL_MAX_SIZE="32", DATABASE_POOL_TIMEOUT="3"
    )
    assert sized["pool"] == {"min_size": 4, "max_size": 32, "timeout": 3}
    # Off: with persistent connections instead (DATABASE_CONN_MAX_AGE), or a size of 0; never on SQLite.
    assert database_settings(DATABASE_URL=url, DATABASE_CONN_MAX_AGE="60")["pool"] is None
    assert database_settings(DATABASE_URL=url, DATABASE_POOL_MAX_SIZE="0")["pool"] is None
    assert database_settings(DATABASE_URL="sqlite:////tmp/x.sqlite3")["pool"] is None


@pytest.mark.django_db(transaction=True)
def test_requests_borrow_pooled_connections_on_postgresql(daphne_server):
    if connection.vendor != "postgresql":
        pytest.skip("the connection pool is PostgreSQL's (this run uses SQLite)")
    pids = set()
    for _ in range(10):
        database = httpx.get(f"{daphne_server}/readyz", timeout=30).json()["checks"]["database"]
        assert database["ok"]
        pids.add(database["backend_pid"])
    # Without the pool every request would open (and close) a connection of its own: 10 server processes.
    assert len(pids) <= 2
