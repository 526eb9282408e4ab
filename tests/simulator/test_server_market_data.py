"""Public market-data REST endpoints over loopback HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from kalshiweb.simulator.testing import RunningSimulator, start_simulator

from .simhelp import EVENT, SERIES, TICKERS, Trader, add_markets

EXTRA = [f"KXPAGE-{i:03d}" for i in range(23)]


@pytest.fixture(scope="module")
def sim() -> Iterator[RunningSimulator]:
    with start_simulator(catalog=False, rate_limit_tier=None) as running:
        add_markets(running)
        add_markets(running, EXTRA, event="KXSIM-PAGES")
        yield running


@pytest.fixture(scope="module")
def http(sim: RunningSimulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.rest_base, timeout=10) as client:
        yield client


def test_exchange_status(http: httpx.Client) -> None:
    body = http.get("/exchange/status").json()
    assert body["exchange_active"] is True and body["trading_active"] is True


def test_exchange_schedule(http: httpx.Client) -> None:
    body = http.get("/exchange/schedule").json()
    assert set(body["schedule"]) == {"standard_hours", "maintenance_windows"}


def test_pagination_walks_every_market_exactly_once(http: httpx.Client, sim: RunningSimulator) -> None:
    seen: list[str] = []
    cursor = ""
    pages = 0
    while True:
        params: dict[str, object] = {"limit": 4}
        if cursor:
            params["cursor"] = cursor
        body = http.get("/markets", params=params).json()
        assert isinstance(body["cursor"], str)
        seen += [m["ticker"] for m in body["markets"]]
        cursor = body["cursor"]
        pages += 1
        if not cursor:
            break
    assert sorted(seen) == sorted(TICKERS + EXTRA)
    assert len(seen) == len(set(seen))
    assert pages == -(-len(seen) // 4)


def test_market_pages_equal_the_single_market_bodies(http: httpx.Client) -> None:
    """A page is serialised from the page's tickers only: every item is what GET /markets/{ticker} says."""
    body = http.get("/markets", params={"limit": 5, "event_ticker": "KXSIM-PAGES"}).json()
    assert [m["ticker"] for m in body["markets"]] == EXTRA[:5]
    for item in body["markets"]:
        single = http.get(f"/markets/{item['ticker']}").json()["market"]
        assert item == single
    rest = http.get(
        "/markets", params={"limit": 1000, "event_ticker": "KXSIM-PAGES", "cursor": body["cursor"]}
    )
    assert [m["ticker"] for m in rest.json()["markets"]] == EXTRA[5:]
    assert rest.json()["cursor"] == ""
    # A time bound still reads the wire timestamps, with the other filters.
    close = min(int(time.time()) + 10**9, 2**31)
    bounded = http.get(
        "/markets", params={"event_ticker": EVENT, "max_close_ts": close, "limit": 1000}
    ).json()
    assert {m["ticker"] for m in bounded["markets"]} == set(TICKERS)


def test_markets_filters(http: httpx.Client) -> None:
    body = http.get("/markets", params={"event_ticker": EVENT}).json()
    assert {m["ticker"] for m in body["markets"]} == set(TICKERS)
    body = http.get("/markets", params={"series_ticker": SERIES, "status": "open", "limit": 1000}).json()
    assert {m["ticker"] for m in body["markets"]} == set(TICKERS + EXTRA)
    body = http.get("/markets", params={"tickers": f"{TICKERS[0]},{TICKERS[1]}"}).json()
    assert [m["ticker"] for m in body["markets"]] == TICKERS[:2]
    assert http.get("/markets", params={"status": "settled"}).json()["markets"] == []
    assert http.get("/markets", params={"max_close_ts": int(time.time())}).json()["markets"] == []
    assert http.get("/markets", params={"status": "bogus"}).status_code == 400
    assert http.get("/markets", params={"limit": 1001}).status_code == 400
    assert http.get("/markets", params={"limit": "ten"}).status_code == 400
    assert http.get("/markets", params={"cursor": "%%%"}).status_code == 400


def test_market_and_404(http: httpx.Client) -> None:
    assert http.get(f"/markets/{TICKERS[0]}").json()["market"]["ticker"] == TICKERS[0]
    response = http.get("/markets/NOPE")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_orderbooks(http: httpx.Client, sim: RunningSimulator) -> None:
    trader = Trader(sim)
    assert trader.order(TICKERS[1], "bid", "5", "0.30").status_code == 201
    assert trader.order(TICKERS[1], "bid", "7", "0.35").status_code == 201
    assert trader.order(TICKERS[1], "ask", "3", "0.60").status_code == 201
    book = http.get(f"/markets/{TICKERS[1]}/orderbook").json()["orderbook_fp"]
    assert book == {
        "yes_dollars": [["0.3000", "5.00"], ["0.3500", "7.00"]],
        "no_dollars": [["0.4000", "3.00"]],
    }
    depth1 = http.get(f"/markets/{TICKERS[1]}/orderbook", params={"depth": 1}).json()["orderbook_fp"]
    assert depth1["yes_dollars"] == [["0.3500", "7.00"]]
    many = http.get("/markets/orderbooks", params=[("tickers", TICKERS[1]), ("tickers", TICKERS[2])]).json()
    assert [b["ticker"] for b in many["orderbooks"]] == [TICKERS[1], TICKERS[2]]
    assert many["orderbooks"][1]["orderbook_fp"] == {"yes_dollars": [], "no_dollars": []}
    assert http.get("/markets/NOPE/orderbook").status_code == 404
    trader.close()


def test_trades(http: httpx.Client, sim: RunningSimulator) -> None:
    maker, taker = Trader(sim), Trader(sim)
    for _ in range(3):
        assert maker.order(TICKERS[2], "bid", "1", "0.50").status_code == 201
        assert taker.order(TICKERS[2], "ask", "1", "0.50").status_code == 201
    body = http.get("/markets/trades", params={"ticker": TICKERS[2], "limit": 2}).json()
    assert len(body["trades"]) == 2 and body["cursor"]
    rest = http.get(
        "/markets/trades", params={"ticker": TICKERS[2], "limit": 2, "cursor": body["cursor"]}
    ).json()
    assert len(rest["trades"]) == 1 and rest["cursor"] == ""
    ids = {t["trade_id"] for t in body["trades"] + rest["trades"]}
    assert len(ids) == 3
    assert (
        http.get("/markets/trades", params={"ticker": TICKERS[2], "min_ts": int(time.time()) + 60}).json()[
            "trades"
        ]
        == []
    )


def test_events_and_series(http: httpx.Client) -> None:
    events = http.get("/events", params={"with_nested_markets": "true"}).json()
    event = next(e for e in events["events"] if e["event_ticker"] == EVENT)
    assert {m["ticker"] for m in event["markets"]} == set(TICKERS)
    assert http.get("/events", params={"series_ticker": "NOPE"}).json()["events"] == []
    one = http.get(f"/events/{EVENT}").json()
    assert one["event"]["event_ticker"] == EVENT and len(one["markets"]) == len(TICKERS)
    assert http.get("/events/NOPE").status_code == 404
    assert http.get("/series").json()["series"][0]["ticker"] == SERIES
    assert http.get(f"/series/{SERIES}").json()["series"]["ticker"] == SERIES
    assert http.get("/series/NOPE").status_code == 404


def test_candlesticks(http: httpx.Client) -> None:
    now = int(time.time())
    path = f"/series/{SERIES}/markets/{TICKERS[0]}/candlesticks"
    body = http.get(path, params={"start_ts": now - 7200, "end_ts": now, "period_interval": 60}).json()
    assert body["ticker"] == TICKERS[0] and isinstance(body["candlesticks"], list)
    missing = http.get(path, params={"start_ts": now - 7200, "end_ts": now})
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "invalid_parameters"
    assert http.get(path, params={"start_ts": 0, "end_ts": now, "period_interval": 5}).status_code == 400
    batch = http.get(
        "/markets/candlesticks",
        params={
            "market_tickers": f"{TICKERS[0]},{TICKERS[1]}",
            "start_ts": now - 7200,
            "end_ts": now,
            "period_interval": 1,
        },
    ).json()
    assert [m["market_ticker"] for m in batch["markets"]] == TICKERS[:2]


def test_unknown_path_and_method(http: httpx.Client) -> None:
    response = http.get("/nope/nothing")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert http.put("/markets").status_code == 405
    assert httpx.get(f"http://{http.base_url.host}:{http.base_url.port}/elsewhere").status_code == 404
