"""Loaded with `-p kalshiweb.pytest_plugin` before Django settings are read.

When REDIS_URL is unset it starts a private redis-server so the suite needs no system Redis.

Under pytest-xdist (`make test` runs `-n auto`) every worker process gets its own state: its own
redis-server (or, with REDIS_URL set, its own Redis db: the URL's db plus the worker's number), its own
var directory (so its own SQLite test database, keys and logs), and its own Celery queue. pytest-django
already suffixes the test database's name per worker (`_gw0`, `_gw1`…), which covers PostgreSQL too.
"""

from __future__ import annotations

import os
import re
import tempfile
import uuid
from pathlib import Path

from kalshiweb.devredis import start_embedded
from kalshiweb.env import without_password

# Set (to "1") by the process that started the embedded redis-server; xdist workers inherit the controller's
# environment and, seeing it, start one of their own instead of sharing the controller's.
EMBEDDED_MARK = "KALSHIWEB_TEST_EMBEDDED_REDIS"
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1"… in an xdist worker, "" otherwise


def worker_number(worker: str = WORKER) -> int:
    return int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0


def redis_url_for_worker(url: str, number: int, databases: int = 16) -> str:
    """`url` with its db moved up by `number` (redis://host:6379/12 → /13 for gw1). Fails loudly when the
    server's databases (16 by default) run out rather than letting two workers share one."""
    match = re.match(r"^(?P<base>rediss?://[^/]*)(?:/(?P<db>\d*))?(?P<rest>\?.*)?$", url)
    if not match:
        raise RuntimeError(f"REDIS_URL {url!r} is not a redis:// URL with an optional /db")
    db = int(match["db"] or 0) + number
    if db >= databases:
        raise RuntimeError(
            f"REDIS_URL's db plus the xdist worker number is {db}: Redis has {databases} dbs by default. "
            "Pick a lower REDIS_URL db or fewer workers (-n)."
        )
    return f"{match['base']}/{db}{match['rest'] or ''}"


def _start_redis() -> str:
    url, _proc = start_embedded(Path(tempfile.mkdtemp(prefix="kalshiweb-redis-")))
    os.environ["REDIS_URL"] = url
    os.environ[EMBEDDED_MARK] = "1"
    print(f"kalshiweb: REDIS_URL unset, started embedded redis-server at {without_password(url)}")
    return url


if not os.environ.get("REDIS_URL"):
    _start_redis()
elif WORKER and os.environ.get(EMBEDDED_MARK):
    _start_redis()  # the controller's embedded server: this worker wants one of its own
elif WORKER:
    os.environ["REDIS_URL"] = redis_url_for_worker(os.environ["REDIS_URL"], worker_number())

# A queue of our own, so a `make run` worker on the same Redis never eats the suite's tasks.
os.environ.setdefault("KALSHIWEB_CELERY_QUEUE", f"kalshiweb-test-{uuid.uuid4().hex[:8]}")
os.environ.setdefault("KALSHIWEB_VAR_DIR", tempfile.mkdtemp(prefix="kalshiweb-var-"))
if WORKER:
    # Both inherited from the controller (which set them, or was given them): one per worker.
    os.environ["KALSHIWEB_CELERY_QUEUE"] += f"-{WORKER}"
    shared_var = os.environ["KALSHIWEB_VAR_DIR"]
    worker_var = Path(shared_var) / WORKER
    worker_var.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.environ["KALSHIWEB_VAR_DIR"] = str(worker_var)
    # kalshiweb.metrics exports PROMETHEUS_MULTIPROC_DIR (var/metrics) when imported, so the controller
    # passes its own down: a worker sharing it would count the other worker's orders (and see a test there
    # empty it).
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").startswith(shared_var):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(worker_var / "metrics")
# The suite serves static files from static/ as they are (no collectstatic); tests/web/test_ops_static.py
# runs the production storage on its own.
os.environ.setdefault("KALSHIWEB_STATIC_MANIFEST", "false")
