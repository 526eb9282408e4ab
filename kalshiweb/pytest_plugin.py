"""Loaded with `-p kalshiweb.pytest_plugin` before Django settings are read.

When REDIS_URL is unset it starts a private redis-server so the suite needs no system Redis.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

from kalshiweb.devredis import ensure_redis_url
from kalshiweb.env import without_password

if not os.environ.get("REDIS_URL"):
    ensure_redis_url(Path(tempfile.mkdtemp(prefix="kalshiweb-redis-")))
    print(
        f"kalshiweb: REDIS_URL unset, started embedded redis-server at {without_password(os.environ['REDIS_URL'])}"
    )
# A queue of our own, so a `make run` worker on the same Redis never eats the suite's tasks.
os.environ.setdefault("KALSHIWEB_CELERY_QUEUE", f"kalshiweb-test-{uuid.uuid4().hex[:8]}")
os.environ.setdefault("KALSHIWEB_VAR_DIR", tempfile.mkdtemp(prefix="kalshiweb-var-"))
# The suite serves static files from static/ as they are (no collectstatic); tests/web/test_ops_static.py
# runs the production storage on its own.
os.environ.setdefault("KALSHIWEB_STATIC_MANIFEST", "false")
