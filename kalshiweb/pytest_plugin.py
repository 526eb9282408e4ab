"""Loaded with `-p kalshiweb.pytest_plugin` before Django settings are read.

When REDIS_URL is unset it starts a private redis-server so the suite needs no system Redis.

Under pytest-xdist (`make test` runs `-n auto`) every worker process gets its own state: its own
redis-server (or, with REDIS_URL set, its own Redis db: the URL's db plus the worker's number), its own
var directory (so its own SQLite test database, keys and logs), and its own Celery queue. pytest-django
already suffixes the test database's name per worker (`_gw0`, `_gw1`…), which covers PostgreSQL too.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

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


# --- Scheduling (`make test`'s xdist) ------------------------------------------------------------------------
# About half of the suite's wall time is waiting (sockets, subprocess daphne/Celery, Chromium, timers), so two
# workers per core finish sooner on a quiet machine; but on a 2-core machine with PostgreSQL the timing-bound
# end-to-end tests (browser waits, a poll-vs-push race) then failed in 3 of 1,300 in a CI run (2026-12-05), so
# `-n auto` starts one worker per core. KALSHIWEB_TEST_WORKERS_PER_CPU=2 gives two.
WORKERS_PER_CPU = "KALSHIWEB_TEST_WORKERS_PER_CPU"
# Seconds each test file took (setup + call + teardown), kept in pytest's cache (.pytest_cache) by the last
# runs; a file it does not know yet is estimated from tests/file_seconds.json (committed), then its test count.
DURATIONS_KEY = "kalshiweb/file-seconds"
SEED_DURATIONS = Path(__file__).resolve().parent.parent / "tests" / "file_seconds.json"
SECONDS_PER_UNKNOWN_TEST = 0.5


@pytest.hookimpl(tryfirst=True)  # before xdist's own (one per core)
def pytest_xdist_auto_num_workers(config: Any) -> int | None:
    per_cpu = float(os.environ.get(WORKERS_PER_CPU, "1"))
    if per_cpu <= 0:
        raise RuntimeError(f"{WORKERS_PER_CPU} must be a positive number, not {per_cpu}")
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, round(cpus * per_cpu))


def file_seconds(config: Any) -> dict[str, float]:
    known: dict[str, float] = {}
    if SEED_DURATIONS.exists():
        known.update(json.loads(SEED_DURATIONS.read_text()))
    cache = getattr(config, "cache", None)
    if cache is not None:
        known.update(cache.get(DURATIONS_KEY, {}))
    return known


def heaviest_files_first(files: dict[str, int], known: dict[str, float]) -> list[str]:
    """The test files (path: number of tests) in decreasing expected seconds: longest processing time first,
    so the last files to start are short ones and no worker idles at the end while another runs a long one."""

    def expected(path: str) -> float:
        return known.get(path, files[path] * SECONDS_PER_UNKNOWN_TEST)

    return sorted(files, key=lambda path: -expected(path))


def pytest_xdist_make_scheduler(config: Any, log: Any) -> Any:
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class HeaviestFilesFirst(LoadFileScheduling):
        """xdist's loadfile (a file's tests all go to one worker), handing out the files longest first. Only the
        queue of files is reordered: the collections stay as the workers sent them (xdist addresses a test by
        its index in its worker's collection)."""

        ordered = False

        def _assign_work_unit(self, node: Any) -> None:
            if not self.ordered:
                self.ordered = True
                files = {scope: len(tests) for scope, tests in self.workqueue.items()}
                for scope in heaviest_files_first(files, file_seconds(config)):
                    self.workqueue.move_to_end(scope)
            super()._assign_work_unit(node)

    return HeaviestFilesFirst(config, log)


_seconds: defaultdict[str, float] = defaultdict(float)


def pytest_runtest_logreport(report: Any) -> None:
    if not WORKER:  # the controller (or a run without xdist) adds up what every worker reports
        _seconds[report.nodeid.split("::", 1)[0]] += report.duration


def pytest_sessionfinish(session: Any) -> None:
    cache = getattr(session.config, "cache", None)
    if WORKER or cache is None or not _seconds:
        return
    merged = {**cache.get(DURATIONS_KEY, {}), **{path: round(s, 2) for path, s in _seconds.items()}}
    cache.set(DURATIONS_KEY, merged)
