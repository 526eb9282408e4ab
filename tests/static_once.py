"""`collectstatic` once per test run, shared by every test (and every xdist worker) that needs collected files.

A production `collectstatic` (content-hashed names, gzip and brotli copies) costs 5-10 s of CPU, and
tests/web/test_ops_security.py and tests/web/test_ops_static.py each ran one. They only read what it wrote, so
the first of them to ask runs it (in a subprocess, with the production variables, as `make run` does) into a
folder under the run's shared temporary directory; the others, in this worker or another, wait on a file lock
and reuse it. tests/web/test_ops_static.py still runs `prepare_static_and_metrics` (collectstatic in-process)
on its own, since that test is about the set-up step itself.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

PRODUCTION_ENV = {
    "DJANGO_DEBUG": "false",
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(60),
    "DJANGO_ALLOWED_HOSTS": "desk.example.com",
    "KALSHIWEB_HTTPS": "true",
}


def production_env(var_dir: Path, **extra: str) -> dict[str, str]:
    """The environment without the suite's DJANGO_/KALSHIWEB_ variables, with the production ones."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "KALSHIWEB_"))}
    return {**base, "KALSHIWEB_VAR_DIR": str(var_dir), **PRODUCTION_ENV, **extra}


def _shared_root(factory: pytest.TempPathFactory) -> Path:
    base = factory.getbasetemp()
    # Under xdist each worker's basetemp is a folder of the run's own (pytest-N/popen-gwM): share its parent.
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def collected_static(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A STATIC_ROOT that a production `manage.py collectstatic` filled (hashed, compressed). Read only."""
    shared = _shared_root(tmp_path_factory)
    root = shared / "kalshiweb-collected-static"
    done = root / ".collected"
    with (shared / "kalshiweb-collected-static.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            var_dir = shared / "kalshiweb-collectstatic-var"
            var_dir.mkdir(exist_ok=True)
            result = subprocess.run(
                [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
                cwd=ROOT,
                env=production_env(var_dir, KALSHIWEB_STATIC_ROOT=str(root)),
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert result.returncode == 0, result.stderr
            assert (root / "staticfiles.json").exists()
            done.touch()
    return root
