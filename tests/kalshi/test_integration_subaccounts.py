"""KalshiClient's subaccount endpoints (issue #15, item 6) against the simulator over real loopback HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from kalshiweb.kalshi import BadRequest, NotFound, OutcomeUnknown
from kalshiweb.simulator.testing import RunningSimulator, start_simulator

from .test_integration_rest import CountingTransport, make_client, open_ticker


@pytest.fixture(scope="module")
def sim() -> Iterator[RunningSimulator]:
    with start_simulator(seed=1, activity=0.0, rate_limit_tier="basic") as running:
        yield running


D = Decimal


async def test_create_fund_and_trade_in_a_subaccount(sim: RunningSimulator) -> None:
    account = sim.add_account(D("1000"))
    async with make_client(sim, account) as client:
        number = await client.create_subaccount()
        assert number == 1
        await client.transfer_between_subaccounts(from_subaccount=0, to_subaccount=1, amount_cents=25_000)
        balances = {b.subaccount_number: b.balance for b in await client.get_subaccount_balances()}
        assert balances == {0: D("750"), 1: D("250")}
        assert (await client.get_balance(subaccount=1)).balance == D("250")
        assert (await client.get_balance()).balance == D("750")

        ticker = await open_ticker(client)
        placed = await client.create_order(ticker, "bid", 2, D("0.02"), subaccount=1)
        mine = await client.get_orders(subaccount=1)
        assert [o.order_id for o in mine.items] == [placed.order_id]
        assert [o.subaccount_number for o in mine.items] == [1]
        assert (await client.get_orders(subaccount=0)).items == ()
        assert (await client.get_balance(subaccount=1)).balance == D("249.96")
        with pytest.raises(NotFound):  # addressed through the wrong subaccount
            await client.cancel_order(placed.order_id)
        await client.cancel_order(placed.order_id, subaccount=1)
        assert (await client.get_balance(subaccount=1)).balance == D("250")

        transfers = await client.get_subaccount_transfers()
        assert [(t.from_subaccount, t.to_subaccount, t.amount_cents) for t in transfers.items] == [
            (0, 1, 25_000)
        ]

        await client.update_subaccount_netting(1, enabled=False)
        netting = {n.subaccount_number: n.enabled for n in await client.get_subaccount_netting()}
        assert netting == {0: True, 1: False}


async def test_a_bad_transfer_is_a_clear_error(sim: RunningSimulator) -> None:
    account = sim.add_account(D("10"))
    async with make_client(sim, account) as client:
        await client.create_subaccount()
        with pytest.raises(BadRequest, match="available"):
            await client.transfer_between_subaccounts(from_subaccount=0, to_subaccount=1, amount_cents=5_000)
        assert (await client.get_subaccount_transfers()).items == ()


async def test_a_lost_transfer_answer_is_repeated_with_the_same_id_and_applies_once(
    sim: RunningSimulator,
) -> None:
    account = sim.add_account(D("100"))
    transport = CountingTransport()
    async with make_client(sim, account, transport=transport, timeout=0.5) as client:
        await client.create_subaccount()
        sim.faults.fail_next(
            1, "timeout_after_accept", path_prefix="/portfolio/subaccounts/transfer", hang_seconds=2.0
        )
        with pytest.raises(OutcomeUnknown) as exc_info:
            await client.transfer_between_subaccounts(from_subaccount=0, to_subaccount=1, amount_cents=1_000)
        cid = exc_info.value.client_order_id
        assert cid
        again = await client.transfer_between_subaccounts(
            from_subaccount=0, to_subaccount=1, amount_cents=1_000, client_transfer_id=cid
        )
        assert again == cid
        assert transport.sent.count(("POST", "/trade-api/v2/portfolio/subaccounts/transfer")) == 2
        balances = {b.subaccount_number: b.balance for b in await client.get_subaccount_balances()}
        assert balances == {0: D("90"), 1: D("10")}
        assert len((await client.get_subaccount_transfers()).items) == 1
