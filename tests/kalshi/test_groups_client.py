"""The client's order-group and account/limits endpoints against the simulator over loopback HTTP, the
`order_group_updates` message, both forms of the `ok` reply (with and without `seq`), and per-endpoint costs
charged to the token bucket."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from kalshiweb.kalshi import BadRequest, NotFound
from kalshiweb.kalshi.messages import Ok, OrderGroupUpdate, parse_message
from kalshiweb.kalshi.ratelimit import DEFAULT_COST
from kalshiweb.kalshi.types.groups import CostTable
from kalshiweb.simulator.testing import RunningSimulator, start_simulator
from tests.kalshi.test_integration_rest import make_client, open_ticker

D = Decimal


@pytest.fixture(scope="module")
def sim() -> Iterator[RunningSimulator]:
    with start_simulator(seed=3, activity=0.0, rate_limit_tier="basic") as running:
        yield running


@pytest.fixture
def account(sim: RunningSimulator) -> tuple[str, bytes]:
    return sim.add_account(D("1000"))


async def test_order_group_round_trip(sim: RunningSimulator, account) -> None:
    async with make_client(sim, account) as client:
        ticker = await open_ticker(client)
        created = await client.create_order_group(5)
        assert created.subaccount == 0
        gid = created.order_group_id
        placed = await client.create_order(ticker, "bid", 2, D("0.0100"), order_group_id=gid)
        detail = await client.get_order_group(gid)
        assert detail.orders == [placed.order_id] and detail.contracts_limit == D(5)
        assert [g.id for g in await client.get_order_groups()] == [gid]

        await client.update_order_group_limit(gid, 9)
        assert (await client.get_order_group(gid)).contracts_limit == D(9)
        await client.trigger_order_group(gid)
        assert (await client.get_order(placed.order_id)).status == "canceled"
        with pytest.raises(BadRequest) as exc:
            await client.create_order(ticker, "bid", 1, D("0.0100"), order_group_id=gid)
        assert exc.value.code == "order_group_triggered"
        await client.reset_order_group(gid)
        await client.create_order(ticker, "bid", 1, D("0.0100"), order_group_id=gid)
        await client.delete_order_group(gid)
        with pytest.raises(NotFound):
            await client.get_order_group(gid)
        with pytest.raises(ValueError):
            await client.create_order_group(D("1.5"))


async def test_account_and_limits_reads(sim: RunningSimulator, account) -> None:
    async with make_client(sim, account) as client:
        ticker = await open_ticker(client)
        assert (await client.get_total_resting_order_value()).total == 0
        await client.create_order(ticker, "bid", 10, D("0.0300"))
        value = await client.get_total_resting_order_value()
        assert value.total == D("0.30") and value.breakdown[0].balance == D("0.30")
        stamp = await client.get_user_data_timestamp()
        assert stamp.tzinfo is not None
        progress = (await client.get_volume_progress()).volume_progress
        assert progress[0].goals and progress[0].trailing_30d_volume >= 0
        costs = await client.get_endpoint_costs()
        assert costs.default_cost == 10
        assert ("DELETE", "/trade-api/v2/portfolio/events/orders/{order_id}", 2) in {
            (c.method, c.path, c.cost) for c in costs.endpoint_costs
        }


class CountingLimiter:
    def __init__(self) -> None:
        self.taken: list[tuple[str, int]] = []

    async def acquire(self, bucket: str, cost: int = DEFAULT_COST) -> float:
        self.taken.append((bucket, cost))
        return 0.0


async def test_the_bucket_is_charged_the_exchanges_endpoint_costs(sim: RunningSimulator, account) -> None:
    limiter = CountingLimiter()
    async with make_client(sim, account, limiter=limiter) as client:
        ticker = await open_ticker(client)
        placed = await client.create_order(ticker, "bid", 1, D("0.0100"))
        limiter.taken.clear()
        await client.cancel_order(placed.order_id)
        assert limiter.taken == [("write", DEFAULT_COST)]  # before the table is loaded: the default
        table = await client.load_endpoint_costs()
        assert table.cost("DELETE", f"/portfolio/events/orders/{placed.order_id}") == 2
        placed = await client.create_order(ticker, "bid", 1, D("0.0100"))
        limiter.taken.clear()
        await client.cancel_order(placed.order_id)
        assert limiter.taken == [("write", 2)]


def test_cost_table_matches_templates_with_or_without_the_prefix() -> None:
    table = CostTable(
        10, [("DELETE", "/trade-api/v2/portfolio/events/orders/{order_id}", 2), ("GET", "/markets", 1)]
    )
    assert table.cost("DELETE", "/portfolio/events/orders/abc") == 2
    assert table.cost("delete", "portfolio/events/orders/abc?x=1") == 2
    assert table.cost("DELETE", "/portfolio/events/orders") == 10
    assert table.cost("DELETE", "/portfolio/events/orders/abc/amend") == 10
    assert table.cost("GET", "/markets") == 1 and table.cost("GET", "/markets/X") == 10


def test_order_group_update_and_both_ok_forms_parse() -> None:
    msg = parse_message(
        {
            "type": "order_group_updates",
            "sid": 3,
            "seq": 2,
            "msg": {
                "event_type": "created",
                "order_group_id": "og",
                "contracts_limit_fp": "5.00",
                "ts_ms": 1,
            },
        }
    )
    assert isinstance(msg, OrderGroupUpdate)
    assert (msg.event_type, msg.order_group_id, msg.contracts_limit, msg.seq) == ("created", "og", D(5), 2)
    without = parse_message({"type": "ok", "id": 4, "sid": 3, "msg": {"market_tickers": ["A"]}})
    with_seq = parse_message({"type": "ok", "id": 5, "sid": 3, "seq": 7, "msg": {"market_tickers": ["A"]}})
    assert isinstance(without, Ok) and isinstance(with_seq, Ok)
    assert without.seq is None and with_seq.seq == 7
