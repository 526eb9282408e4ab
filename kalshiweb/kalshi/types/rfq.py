"""Combos and RFQs of Kalshi's REST API (issue #15, item 9): multivariate event collections, RFQs, quotes."""

from __future__ import annotations

from typing import Any

import msgspec

from .rest import Wire
from .scalars import Count, Dollars, OptDollars, Timestamp


class SelectedLeg(Wire, kw_only=True):
    OBJ = "TickerPair"
    market_ticker: str
    event_ticker: str
    side: str


class AssociatedEvent(Wire, kw_only=True):
    ticker: str
    is_yes_only: bool
    active_quoters: list[str]
    size_min: int | None = None
    size_max: int | None = None


class Collection(Wire, kw_only=True):
    OBJ = "MultivariateEventCollection"
    collection_ticker: str
    series_ticker: str
    title: str
    description: str
    open_date: Timestamp
    close_date: Timestamp
    associated_events: list[AssociatedEvent]
    associated_event_tickers: list[str]
    is_ordered: bool
    is_single_market_per_event: bool
    is_all_yes: bool
    size_min: int
    size_max: int
    functional_description: str


class ComboMarket(Wire, kw_only=True):
    OBJ = "CreateMarketInMultivariateEventCollectionResponse"
    event_ticker: str
    market_ticker: str
    market: Any = None


class Rfq(Wire, kw_only=True):
    OBJ = "RFQ"
    id: str
    creator_id: str
    market_ticker: str
    contracts: Count = msgspec.field(name="contracts_fp")
    status: str
    created: Timestamp = msgspec.field(name="created_ts")
    target_cost: OptDollars | None = msgspec.field(name="target_cost_dollars", default=None)
    mve_collection_ticker: str | None = None
    mve_selected_legs: list[SelectedLeg] | None = None
    rest_remainder: bool | None = None
    cancellation_reason: str | None = None
    creator_subaccount: int | None = None


class Quote(Wire, kw_only=True):
    OBJ = "Quote"
    id: str
    rfq_id: str
    creator_id: str
    rfq_creator_id: str
    market_ticker: str
    contracts: Count = msgspec.field(name="contracts_fp")
    yes_bid: Dollars = msgspec.field(name="yes_bid_dollars")
    no_bid: Dollars = msgspec.field(name="no_bid_dollars")
    created: Timestamp = msgspec.field(name="created_ts")
    updated: Timestamp = msgspec.field(name="updated_ts")
    status: str
    accepted_side: str | None = None
    cancellation_reason: str | None = None
    rfq_creator_order_id: str | None = None
    creator_order_id: str | None = None
