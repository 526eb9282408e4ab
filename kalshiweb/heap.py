"""The start-up heap of a long-running process, moved out of the garbage collector's reach.

A Django process holds ~180,000 container objects once it has loaded its apps, URL patterns, templates and
libraries, and keeps nearly all of them for life. CPython's full collection (generation 2) walks every one of
them each time it runs — about once per thousand requests here — and stops the process while it does:
133-149 ms measured in the order view's process (`tests/benchmarks/bench_place_view.py`, docs/benchmarks.md),
i.e. one order in a thousand waits that long before its row is even written. `gc.freeze()` puts what exists at
that moment in a permanent generation no collection scans: the same full collection then took 12-15 ms.
Cycles made later are still collected; what start-up made is never garbage anyway.

Called once the process has loaded what it serves: at the end of `kalshiweb.asgi` (daphne), in each Celery
worker process (`kalshiweb.celery`), and by `kalshi_feed` before it connects.
"""

from __future__ import annotations

import gc


def freeze_startup_heap() -> int:
    """Collect what start-up left as garbage, then freeze the rest; returns how many objects are frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
