"""Prometheus metrics, aggregated over every process on the host (web, Celery worker, feed).

prometheus_client's multiprocess mode: each process writes its counters into memory-mapped files under
KALSHIWEB_METRICS_DIR (PROMETHEUS_MULTIPROC_DIR), and /metrics (kalshiweb.ops) adds them up. Updating a metric
is a write into a mapped file (microseconds, no I/O round trip), so hot paths stay cheap. What other
processes publish in Redis anyway (the feed's health, the Celery queue) is read when /metrics is scraped.

This module sets PROMETHEUS_MULTIPROC_DIR before prometheus_client is imported: import prometheus_client only
through it.
"""

from __future__ import annotations

import atexit
import os
import re
import time
from pathlib import Path
from typing import Any

from django.conf import settings

os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", settings.KALSHIWEB_METRICS_DIR)
Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)

from prometheus_client import (  # noqa: E402
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily  # noqa: E402

__all__ = ["GaugeMetricFamily", "exposition"]

ORDERS_SUBMITTED = Counter(
    "kalshiweb_orders_submitted",
    "Orders the worker tried to submit, by outcome (accepted, rejected, unknown, retried).",
    ["outcome"],
)
ORDER_SUBMIT_SECONDS = Histogram(
    "kalshiweb_order_submit_seconds",
    "From the order's POST (its row's created_at) to the worker sending the signed request to the exchange.",
    buckets=(0.005, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
BROWSER_SOCKETS = Gauge(
    "kalshiweb_browser_sockets", "Open browser WebSockets (market data).", multiprocess_mode="livesum"
)
EXCHANGE_REQUESTS = Counter(
    "kalshiweb_exchange_requests",
    "REST requests to Kalshi (or the simulator) by endpoint and HTTP status ('error': no response).",
    ["endpoint", "status"],
)
EXCHANGE_RATE_LIMITED = Counter(
    "kalshiweb_exchange_rate_limited", "Exchange answers with HTTP 429, by endpoint.", ["endpoint"]
)

_FIXED_SEGMENT = re.compile(r"^[a-z_]+$")


def endpoint_label(path: str) -> str:
    """A path with its variable parts (tickers, order ids) as {id}: a bounded set of label values."""
    parts = [p for p in path.split("?", 1)[0].split("/") if p]
    return "/" + "/".join(p if _FIXED_SEGMENT.match(p) else "{id}" for p in parts)


def exchange_response(method: str, path: str, status: int | None) -> None:
    """kalshiweb.kalshi.rest's response observer: one per request sent (status None: no answer)."""
    endpoint = f"{method} {endpoint_label(path)}"
    EXCHANGE_REQUESTS.labels(endpoint=endpoint, status=str(status) if status is not None else "error").inc()
    if status == 429:
        EXCHANGE_RATE_LIMITED.labels(endpoint=endpoint).inc()


def order_sending(order: Any) -> None:
    """The worker is about to send an order's signed request: on its first attempt, the time since the POST
    made the order (a retry after a 429 or an unreachable exchange is not a second sample)."""
    if getattr(order, "attempts", 1) <= 1:
        ORDER_SUBMIT_SECONDS.observe(max(0.0, time.time() - order.created_at.timestamp()))


def order_submitted(outcome: str) -> None:
    ORDERS_SUBMITTED.labels(outcome=outcome).inc()


def socket_opened(consumer: Any) -> None:
    consumer.kw_metered = True
    BROWSER_SOCKETS.inc()


def socket_closed(consumer: Any) -> None:
    if getattr(consumer, "kw_metered", False):
        consumer.kw_metered = False
        BROWSER_SOCKETS.dec()


def _forget_dead_processes() -> None:
    """Live gauges (open sockets) of processes that died without exiting cleanly (killed, crashed) stop
    counting: their pid no longer runs on this host."""
    for path in Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).glob("gauge_live*_*.db"):
        try:
            pid = int(path.stem.rsplit("_", 1)[1])
        except ValueError:
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid)
        except PermissionError:
            pass  # alive, another user's


def exposition(*collectors: Any) -> tuple[bytes, str]:
    """Every process's metrics on this host, added up, plus `collectors` (read now): (body, content type)."""
    _forget_dead_processes()
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    for collector in collectors:
        registry.register(collector)
    return generate_latest(registry), CONTENT_TYPE_LATEST


@atexit.register
def _process_exit() -> None:
    # This process's live gauges (its open sockets) stop counting; its counters stay in the sum.
    multiprocess.mark_process_dead(os.getpid())
