"""Each long-running process freezes its start-up heap (kalshiweb/heap.py), so a full garbage collection does not
walk the ~180,000 objects it loaded and stop the process for ~140 ms (docs/benchmarks.md). Checked in a fresh
interpreter per process kind, as each starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def frozen_after(code: str) -> int:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "kalshiweb.settings"}
    result = subprocess.run(
        [sys.executable, "-c", f"import gc\n{code}\nprint(gc.get_freeze_count())"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return int(result.stdout.strip().splitlines()[-1])


def test_django_alone_freezes_nothing() -> None:
    # The control: the counts below come from the processes' start-up hooks, not from Django.
    assert frozen_after("import django; django.setup()") == 0


def test_the_web_process_freezes_what_it_loaded_with_its_urls_and_views() -> None:
    frozen = frozen_after("import kalshiweb.asgi; import sys; assert 'trading.views' in sys.modules")
    assert frozen > 50_000


def test_a_celery_worker_process_freezes_its_heap_when_it_starts() -> None:
    code = (
        "import django; django.setup()\n"
        "from kalshiweb.celery import app\n"
        "from celery.signals import worker_process_init\n"
        "worker_process_init.send(sender=None)"
    )
    assert frozen_after(code) > 50_000
