"""Kalshi's official SDK (kalshi-python-sync, strict pydantic models) drives the simulator's order-group and
account/limits endpoints over real HTTP: every answer is one the SDK accepts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kalshiweb.simulator.testing import RunningSimulator, start_simulator

from .simhelp import EVENT, add_markets

pytest.importorskip("kalshi_python_sync")
from kalshi_python_sync import KalshiClient
from kalshi_python_sync.api.account_api import AccountApi
from kalshi_python_sync.api.exchange_api import ExchangeApi
from kalshi_python_sync.api.order_groups_api import OrderGroupsApi
from kalshi_python_sync.api.portfolio_api import PortfolioApi

from .test_official_sdk import client_for, order_args

TICKER = "KXSDKG-1"


@pytest.fixture(scope="module")
def sim() -> Iterator[RunningSimulator]:
    with start_simulator(seed=4, activity=0.0, rate_limit_tier=None, catalog=False) as running:
        add_markets(running, [TICKER], event=EVENT)
        yield running


@pytest.fixture(scope="module")
def alice(sim: RunningSimulator) -> KalshiClient:
    return client_for(sim)


def test_order_groups_through_the_sdk(alice: KalshiClient) -> None:
    groups = OrderGroupsApi(alice)
    created = groups.create_order_group(contracts_limit=5)
    gid = created.order_group_id
    placed = alice.create_order_v2(**order_args(TICKER, "bid", "2", "0.10", order_group_id=gid))
    detail = groups.get_order_group(gid)
    assert detail.orders == [placed.order_id] and detail.contracts_limit_fp == "5.00"
    assert [g.id for g in groups.get_order_groups().order_groups] == [gid]
    groups.update_order_group_limit(gid, contracts_limit_fp="7.00")
    assert groups.get_order_group(gid).contracts_limit_fp == "7.00"
    groups.trigger_order_group(gid)
    groups.reset_order_group(gid)
    groups.delete_order_group(gid)
    assert groups.get_order_groups().order_groups in (None, [])


def test_account_and_limits_through_the_sdk(alice: KalshiClient) -> None:
    alice.create_order_v2(**order_args(TICKER, "bid", "10", "0.03"))
    value = PortfolioApi(alice).get_portfolio_resting_order_total_value()
    assert value.total_resting_order_value == 30
    assert ExchangeApi(alice).get_user_data_timestamp().as_of_time is not None
    costs = AccountApi(alice).get_account_endpoint_costs()
    assert costs.default_cost == 10 and any(c.cost == 2 for c in costs.endpoint_costs)
    progress = AccountApi(alice).get_account_api_usage_level_volume_progress()
    assert progress.volume_progress[0].goals
