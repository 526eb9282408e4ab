"""Wire types of issue #15's breadth operations: fee changes, event metadata, search, incentive programs,
structured targets, milestones, live data and API keys (OpenAPI 3.28 schemas of the same names)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

from .rest import Candlestick, Wire
from .scalars import Number, OptTimestamp, Timestamp


class SeriesFeeChange(Wire, kw_only=True):
    OBJ = "SeriesFeeChange"
    id: str
    series_ticker: str
    fee_type: str
    fee_multiplier: Number
    scheduled: Timestamp = msgspec.field(name="scheduled_ts")


class EventFeeChange(Wire, kw_only=True):
    OBJ = "EventFeeChange"
    id: str
    event_ticker: str
    series_ticker: str
    fee_type_override: str | None
    fee_multiplier_override: Number | None
    scheduled: Timestamp = msgspec.field(name="scheduled_ts")


class MarketMetadata(Wire, kw_only=True):
    market_ticker: str
    image_url: str
    color_code: str


class SettlementSource(Wire, kw_only=True):
    name: str = ""
    url: str = ""


class EventMetadata(Wire, kw_only=True):
    OBJ = "GetEventMetadataResponse"
    image_url: str
    settlement_sources: tuple[SettlementSource, ...]
    market_details: tuple[MarketMetadata, ...]
    featured_image_url: str = ""
    competition: str | None = None
    competition_scope: str | None = None


class EventCandlesticks(Wire, kw_only=True):
    OBJ = "GetEventCandlesticksResponse"
    market_tickers: tuple[str, ...]
    market_candlesticks: tuple[tuple[Candlestick, ...], ...]
    adjusted_end_ts: int

    def by_market(self) -> dict[str, tuple[Candlestick, ...]]:
        return dict(zip(self.market_tickers, self.market_candlesticks, strict=True))


class SportFilters(Wire, kw_only=True):
    scopes: tuple[str, ...]
    competitions: dict[str, Any]


class SportsFilters(Wire, kw_only=True):
    OBJ = "GetFiltersBySportsResponse"
    filters_by_sports: dict[str, SportFilters]
    sport_ordering: tuple[str, ...]


class IncentiveProgram(Wire, kw_only=True):
    OBJ = "IncentiveProgram"
    id: str
    market_id: str
    market_ticker: str
    incentive_type: str
    incentive_description: str
    start_date: Timestamp
    end_date: Timestamp
    period_reward: int  # centi-cents
    paid_out: bool
    discount_factor_bps: int | None = None
    target_size_fp: str | None = None
    max_reward_per_account: int | None = None

    @property
    def period_reward_dollars(self) -> Decimal:
        return Decimal(self.period_reward) / 10000


class StructuredTarget(Wire, kw_only=True):
    OBJ = "StructuredTarget"
    id: str = ""
    name: str = ""
    type: str = ""
    details: dict[str, Any] = msgspec.field(default_factory=dict)
    source_id: str = ""
    source_ids: dict[str, str] = msgspec.field(default_factory=dict)
    last_updated: OptTimestamp | None = msgspec.field(name="last_updated_ts", default=None)


class Milestone(Wire, kw_only=True):
    OBJ = "Milestone"
    id: str
    category: str
    type: str
    start_date: Timestamp
    related_event_tickers: tuple[str, ...]
    title: str
    notification_message: str
    details: dict[str, Any]
    primary_event_tickers: tuple[str, ...]
    last_updated: Timestamp = msgspec.field(name="last_updated_ts")
    end_date: OptTimestamp | None = None
    source_id: str | None = None


class LiveData(Wire, kw_only=True):
    OBJ = "LiveData"
    type: str
    details: dict[str, Any]
    milestone_id: str = ""
    is_historical: bool | None = None


class WeatherPoint(Wire, kw_only=True):
    t: int
    status: str
    v: Number | None = None
    contributors: int | None = None


class WeatherIndex(Wire, kw_only=True):
    OBJ = "GetWeatherIndexResponse"
    city: str
    units: str
    timeseries: tuple[WeatherPoint, ...]
    config_version: str = ""


class ApiKey(Wire, kw_only=True):
    OBJ = "ApiKey"
    api_key_id: str
    name: str
    scopes: tuple[str, ...]
    subaccount: int | None = None


class GeneratedApiKey(Wire, kw_only=True):
    OBJ = "GenerateApiKeyResponse"
    api_key_id: str
    private_key: str = msgspec.field(name="private_key")

    def __repr__(self) -> str:  # never print the private key
        return f"GeneratedApiKey(api_key_id={self.api_key_id!r}, private_key=<hidden>)"
