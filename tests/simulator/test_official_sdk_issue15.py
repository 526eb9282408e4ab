"""Kalshi's official SDK (kalshi-python-sync 3.34, strict pydantic models) against the simulator's subaccount,
combo and RFQ operations (issue #15, items 6 and 9): every answer must be one the SDK accepts."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest

from kalshiweb.simulator.testing import RunningSimulator, start_simulator

from .simhelp import EVENT, add_markets

kalshi = pytest.importorskip("kalshi_python_sync")
from kalshi_python_sync import Configuration, KalshiClient  # noqa: E402
from kalshi_python_sync.api.communications_api import CommunicationsApi  # noqa: E402
from kalshi_python_sync.api.multivariate_api import MultivariateApi  # noqa: E402
from kalshi_python_sync.api.portfolio_api import PortfolioApi  # noqa: E402

TICKERS = [f"KXSDK15-{i}" for i in range(3)]


@pytest.fixture(scope="module")
def sim() -> Iterator[RunningSimulator]:
    with start_simulator(seed=5, activity=0.0, rate_limit_tier=None, catalog=False) as running:
        add_markets(running, TICKERS, event=EVENT)
        yield running


def client_for(sim: RunningSimulator) -> KalshiClient:
    key_id, private_pem = sim.add_account(Decimal("1000"))
    config = Configuration(host=sim.rest_base)
    config.api_key_id = key_id
    config.private_key_pem = private_pem.decode()
    return KalshiClient(config)


def test_subaccounts(sim: RunningSimulator) -> None:
    api = PortfolioApi(client_for(sim))
    assert api.create_subaccount().subaccount_number == 1
    api.apply_subaccount_transfer(
        client_transfer_id=str(uuid.uuid4()), from_subaccount=0, to_subaccount=1, amount_cents=500
    )
    balances = api.get_subaccount_balances().subaccount_balances
    assert [(b.subaccount_number, b.balance) for b in balances] == [(0, "995.0000"), (1, "5.0000")]
    transfers = api.get_subaccount_transfers().transfers
    assert [(t.from_subaccount, t.to_subaccount, t.amount_cents) for t in transfers] == [(0, 1, 500)]
    api.update_subaccount_netting(subaccount_number=1, enabled=False)
    netting = api.get_subaccount_netting().netting_configs
    assert [(n.subaccount_number, n.enabled) for n in netting] == [(0, True), (1, False)]


def test_combos_rfqs_and_quotes(sim: RunningSimulator) -> None:
    alice, bob = client_for(sim), client_for(sim)
    mv = MultivariateApi(alice)
    collection = mv.get_multivariate_event_collections().multivariate_contracts[0]
    assert (
        mv.get_multivariate_event_collection(collection.collection_ticker).multivariate_contract.size_min == 2
    )
    combo = mv.create_market_in_multivariate_event_collection(
        collection.collection_ticker,
        selected_markets=[
            {"market_ticker": TICKERS[0], "event_ticker": EVENT, "side": "yes"},
            {"market_ticker": TICKERS[1], "event_ticker": EVENT, "side": "yes"},
        ],
    )
    comms, theirs = CommunicationsApi(alice), CommunicationsApi(bob)
    assert comms.get_communications_id().communications_id
    rfq_id = comms.create_rfq(market_ticker=combo.market_ticker, contracts_fp="2.00", rest_remainder=False).id
    assert comms.get_rfq(rfq_id).rfq.status == "open"
    assert any(r.id == rfq_id for r in comms.get_rfqs().rfqs)
    quote_id = theirs.create_quote(rfq_id=rfq_id, yes_bid="0.2000", no_bid="0.7000", rest_remainder=False).id
    assert comms.get_rfq_quote(rfq_id, quote_id).quote.status == "open"
    assert comms.get_quote(quote_id).quote.id == quote_id
    comms.accept_rfq_quote(rfq_id, quote_id, accepted_side="yes")
    theirs.confirm_rfq_quote(rfq_id, quote_id)
    quote = comms.get_rfq_quote(rfq_id, quote_id).quote
    assert quote.status == "executed"
    quotes = comms.get_quotes(rfq_id=rfq_id).quotes
    assert {q.id for q in quotes} >= {quote_id}
    other = comms.create_rfq(market_ticker=combo.market_ticker, contracts_fp="1.00", rest_remainder=False).id
    time.sleep(0.3)  # the bot quotes it
    bot_quotes = comms.get_quotes(rfq_id=other).quotes
    assert bot_quotes
    comms.delete_rfq(other)
    assert comms.get_rfq(other).rfq.status == "closed"
