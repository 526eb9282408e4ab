"""Bad input never produces a 500 and never takes the server down."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kalshiweb.simulator.testing import RunningSimulator, start_simulator

from .simhelp import TICKERS, Trader, add_markets

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)
FIELDS = [
    "ticker",
    "side",
    "count",
    "price",
    "time_in_force",
    "self_trade_prevention_type",
    "client_order_id",
    "expiration_time",
    "post_only",
    "reduce_only",
    "subaccount",
    "reduce_by",
    "reduce_to",
    "orders",
    "order_id",
    "updated_client_order_id",
    "cancel_order_on_pause",
    "order_group_id",
]
bodies = st.one_of(
    st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=8),
    json_values,
    st.binary(max_size=30).map(lambda b: b.decode("latin-1")),
)
PATHS = [
    ("POST", "/portfolio/events/orders"),
    ("POST", "/portfolio/events/orders/batched"),
    ("DELETE", "/portfolio/events/orders/batched"),
    ("POST", "/portfolio/events/orders/x/amend"),
    ("POST", "/portfolio/events/orders/x/decrease"),
]
QUERY_PATHS = [
    "/markets",
    "/markets/trades",
    "/events",
    "/portfolio/orders",
    "/portfolio/fills",
    "/portfolio/positions",
    "/portfolio/settlements",
    f"/markets/{TICKERS[0]}/orderbook",
    f"/series/KXSIM/markets/{TICKERS[0]}/candlesticks",
    "/markets/candlesticks",
    "/markets/orderbooks",
]
QUERY_NAMES = [
    "limit",
    "cursor",
    "status",
    "ticker",
    "tickers",
    "min_ts",
    "max_ts",
    "depth",
    "start_ts",
    "end_ts",
    "period_interval",
    "market_tickers",
    "with_nested_markets",
    "count_filter",
    "settlement_status",
    "min_close_ts",
    "event_ticker",
]


@pytest.fixture(scope="module")
def sim() -> Iterator[RunningSimulator]:
    with start_simulator(catalog=False, rate_limit_tier=None) as running:
        add_markets(running)
        yield running


@pytest.fixture(scope="module")
def trader(sim: RunningSimulator) -> Iterator[Trader]:
    t = Trader(sim)
    yield t
    t.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(route=st.sampled_from(PATHS), body=bodies)
def test_write_bodies_never_500(trader: Trader, route: tuple[str, str], body: Any) -> None:
    method, path = route
    content = body if isinstance(body, str) else json.dumps(body)
    response = trader.request(method, path, body=content)
    assert response.status_code < 500, response.text
    assert "error" in response.json() or response.status_code in (200, 201)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    path=st.sampled_from(QUERY_PATHS),
    params=st.dictionaries(
        st.sampled_from(QUERY_NAMES), st.text(max_size=10) | st.integers().map(str), max_size=5
    ),
)
def test_query_strings_never_500(trader: Trader, path: str, params: dict[str, str]) -> None:
    response = trader.get(path, **params)
    assert response.status_code < 500, response.text


def test_the_server_still_answers(sim: RunningSimulator) -> None:
    assert httpx.get(sim.rest_base + "/exchange/status").status_code == 200
