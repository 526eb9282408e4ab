"""One request id follows an order: the POST's X-Request-ID is on the web process's log lines, on the Celery
worker's lines for its tasks (carried in the task headers), and on the feed process's line for its fill
(from the id stored on the order), written as JSON lines with KALSHIWEB_LOG_FORMAT=json."""

from __future__ import annotations

import io
import json
import logging
import os
import time
from decimal import Decimal as D
from pathlib import Path

import pytest
from django.test import Client

from kalshiweb import logs
from markets import live
from tests.helpers import open_cent_market, wait_until
from trading.models import Fill, Order


@pytest.fixture
def json_logs(monkeypatch):
    """Processes started after this (the feed) write JSON lines."""
    monkeypatch.setenv("KALSHIWEB_LOG_FORMAT", "json")


def test_the_request_id_follows_an_order_from_the_post_through_the_worker_to_the_fill(
    json_logs, sim, trader, feed_process, celery_worker, caplog
):
    ticker = open_cent_market(sim)
    yes, no = sim.call(sim.exchange.book, ticker)
    price = max((p for p, _ in yes), default=D("0.05")) + D("0.01")  # the best bid: the seller hits us first
    assert price < D(1) - max((p for p, _ in no), default=D("0.10")), "the test needs room inside the spread"
    book = {"bids": [], "asks": [], "spread": None, "stale": False, "ts": time.time()}
    live.client().set(live.book_key(ticker), json.dumps(book))
    wait_until(lambda: (live.feed_health() or {}).get("connected"), 20, "the feed connected")
    caplog.handler.addFilter(logs.RequestIdFilter())
    caplog.set_level(logging.INFO)

    client = Client()
    client.force_login(trader)
    given = "req-0123456789abcdef"
    response = client.post(
        f"/orders/market/{ticker}/place/",
        {
            "outcome": "yes",
            "action": "buy",
            "count": "3",
            "price_cents": str(int(price * 100)),
            "time_in_force": "gtc",
        },
        headers={"HX-Request": "true", "X-Request-ID": given},
    )
    assert response.status_code == 200, response.content.decode()[:500]
    assert response["X-Request-ID"] == given
    order = Order.objects.filter(user=trader).first()
    assert order is not None, response.content.decode()
    assert order.request_id == given
    wait_until(lambda: Order.objects.filter(pk=order.pk, status=Order.Status.RESTING).exists(), 20, "resting")

    seller_key, _ = sim.add_account()
    sim.call(
        sim.exchange.create_order,
        sim.user_id(seller_key),
        ticker=ticker,
        side="ask",
        count=D("3"),
        price=price,
        time_in_force="immediate_or_cancel",
    )
    wait_until(lambda: Fill.objects.filter(order=order).exists(), 20, "the fill from the feed")

    mine = [r for r in caplog.records if getattr(r, "request_id", None) == given]
    events = {getattr(r, "event", None) for r in mine}
    assert {"created", "submitting", "acknowledged"} <= events, events
    # Lines the worker logs while running the task, not only our audit lines: bound from the task's headers.
    assert any(r.name == "httpx" and "POST" in r.getMessage() for r in mine), [r.getMessage() for r in mine]

    feed_log = Path(os.environ["KALSHIWEB_VAR_DIR"]) / "feed.log"

    def fill_line():
        """The fill's audit line, from whichever process stored the fill first: the feed (its private stream
        or its REST catch-up: a JSON line in its log) or the worker here (the portfolio refresh that the order
        resting set off also reads the account's fills, and on a loaded host it can get there first)."""
        for r in caplog.records:
            if getattr(r, "event", None) == "fill" and getattr(r, "order_id", None) == order.pk:
                return {"request_id": getattr(r, "request_id", None), "level": r.levelname, "logger": r.name}
        for raw in io.StringIO(feed_log.read_text(errors="replace")):
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            if line.get("event") == "fill" and line.get("order_id") == order.pk:
                return line
        return None

    line = wait_until(fill_line, 10, "the fill's audit line (feed log or worker)")
    assert line["request_id"] == given
    assert line["level"] == "INFO" and line["logger"] == "trading.lifecycle"


def test_an_unusable_incoming_id_is_replaced(client):
    response = client.get("/login/", headers={"X-Request-ID": "<script>"})
    assert response["X-Request-ID"] != "<script>" and len(response["X-Request-ID"]) == 32


def test_the_json_formatter_writes_one_object_a_line_with_extras():
    record = logging.makeLogRecord(
        {"name": "x", "levelname": "WARNING", "msg": "order %s", "args": (7,), "order_id": 7}
    )
    token = logs.bind("abc12345")
    try:
        out = json.loads(logs.JsonFormatter().format(record))
    finally:
        logs.unbind(token)
    assert out["message"] == "order 7" and out["order_id"] == 7 and out["request_id"] == "abc12345"
