"""State behind the simulator's fee-change, discovery and live-data endpoints (issue #15 items 4 and 8).

Fee changes: a series' schedule (fee type and multiplier) changes at `scheduled_ts`; `apply_due(now)`
moves every change whose time has come onto the series (the listing keeps it as history). Event fee
overrides are announced the same way. Milestones, structured targets, incentive programs and live data are
plain records the tests and the `/_sim/` switches add; nothing here reads the wall clock.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from kalshiweb.simulator.model import Series, json_number

FEE_TYPES = ("quadratic", "quadratic_with_maker_fees", "quadratic_with_combo_maker_fees", "flat")
INCENTIVE_TYPES = ("liquidity", "volume", "margin_maker_volume")


@dataclass
class SeriesFeeChange:
    id: str
    series_ticker: str
    fee_type: str
    fee_multiplier: Decimal
    scheduled_ts: datetime
    applied: bool = False


@dataclass
class EventFeeChange:
    id: str
    event_ticker: str
    series_ticker: str
    fee_type_override: str
    fee_multiplier_override: Decimal | None
    scheduled_ts: datetime
    applied: bool = False


@dataclass
class Milestone:
    id: str
    category: str
    type: str
    title: str
    start_date: datetime
    last_updated_ts: datetime
    related_event_tickers: list[str] = field(default_factory=list)
    primary_event_tickers: list[str] = field(default_factory=list)
    competition: str = ""
    end_date: datetime | None = None
    notification_message: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    source_id: str | None = None


@dataclass
class StructuredTarget:
    id: str
    name: str
    type: str
    last_updated_ts: datetime
    competition: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    source_id: str = ""


@dataclass
class IncentiveProgram:
    id: str
    market_ticker: str
    incentive_type: str
    incentive_description: str
    start_date: datetime
    end_date: datetime
    period_reward: int  # centi-cents, as Kalshi's int64 field
    paid_out: bool = False
    target_size_fp: str | None = None


@dataclass
class LiveData:
    milestone_id: str
    type: str
    details: dict[str, Any]
    periods: list[dict[str, Any]] = field(default_factory=list)  # play-by-play: [{"events": [...]}]


class Discovery:
    """Thread-safe: tests add records from their thread while the server loop reads."""

    def __init__(self, event_fee_overrides: dict[str, tuple[str, Decimal | None]] | None = None) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.series_fee_changes: list[SeriesFeeChange] = []
        self.event_fee_changes: list[EventFeeChange] = []
        # shared with the engine's lifecycle (which charges by it) when given
        self.event_fee_overrides = event_fee_overrides if event_fee_overrides is not None else {}
        self.milestones: dict[str, Milestone] = {}
        self.structured_targets: dict[str, StructuredTarget] = {}
        self.incentive_programs: list[IncentiveProgram] = []
        self.live_data: dict[str, LiveData] = {}
        self.multivariate_events: set[str] = set()
        self.sports: dict[str, dict[str, Any]] = {}  # sport -> {"scopes": [...], "competitions": {...}}

    def next_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids)}"

    # -- fees -----------------------------------------------------------------------------------------------

    def schedule_series_fee_change(
        self, series_ticker: str, fee_type: str, fee_multiplier: Decimal, at: datetime
    ) -> SeriesFeeChange:
        if fee_type not in FEE_TYPES:
            raise ValueError(f"fee_type must be one of {', '.join(FEE_TYPES)}")
        change = SeriesFeeChange(self.next_id("sfc"), series_ticker, fee_type, Decimal(fee_multiplier), at)
        with self._lock:
            self.series_fee_changes.append(change)
        return change

    def schedule_event_fee_change(
        self,
        event_ticker: str,
        series_ticker: str,
        fee_type: str,
        fee_multiplier: Decimal | None,
        at: datetime,
    ) -> EventFeeChange:
        """An event-level override from `at`: `fee_multiplier` None keeps the series' multiplier. (The spec
        types `fee_type_override` as a non-nullable enum, so an override is always a fee type here.)"""
        if fee_type not in FEE_TYPES:
            raise ValueError(f"fee_type must be one of {', '.join(FEE_TYPES)}")
        change = EventFeeChange(
            self.next_id("efc"), event_ticker, series_ticker, fee_type, fee_multiplier, at
        )
        with self._lock:
            self.event_fee_changes.append(change)
        return change

    def apply_due(
        self, now: datetime, series: dict[str, Series]
    ) -> tuple[list[SeriesFeeChange], list[EventFeeChange]]:
        """Put every change whose time has come into effect; returns the ones applied now (to announce)."""
        done_series: list[SeriesFeeChange] = []
        done_events: list[EventFeeChange] = []
        with self._lock:
            for sc in sorted(self.series_fee_changes, key=lambda c: c.scheduled_ts):
                if not sc.applied and sc.scheduled_ts <= now and sc.series_ticker in series:
                    target = series[sc.series_ticker]
                    target.fee_type, target.fee_multiplier = sc.fee_type, sc.fee_multiplier
                    target.last_updated = now
                    sc.applied = True
                    done_series.append(sc)
            for ec in sorted(self.event_fee_changes, key=lambda c: c.scheduled_ts):
                if not ec.applied and ec.scheduled_ts <= now:
                    self.event_fee_overrides[ec.event_ticker] = (
                        ec.fee_type_override,
                        ec.fee_multiplier_override,
                    )
                    ec.applied = True
                    done_events.append(ec)
        return done_series, done_events

    # -- discovery records ------------------------------------------------------------------------------------

    def add_milestone(self, milestone: Milestone) -> Milestone:
        with self._lock:
            self.milestones[milestone.id] = milestone
        return milestone

    def add_structured_target(self, target: StructuredTarget) -> StructuredTarget:
        with self._lock:
            self.structured_targets[target.id] = target
        return target

    def add_incentive_program(self, program: IncentiveProgram) -> IncentiveProgram:
        if program.incentive_type not in INCENTIVE_TYPES:
            raise ValueError(f"incentive_type must be one of {', '.join(INCENTIVE_TYPES)}")
        with self._lock:
            self.incentive_programs.append(program)
        return program

    def set_live_data(self, data: LiveData) -> LiveData:
        with self._lock:
            self.live_data[data.milestone_id] = data
        return data

    def add_sport(self, sport: str, scopes: list[str], competitions: dict[str, list[str]]) -> None:
        with self._lock:
            self.sports[sport] = {
                "scopes": list(scopes),
                "competitions": {c: {"scopes": list(s)} for c, s in competitions.items()},
            }

    def milestone_of_event(self, event_ticker: str) -> Milestone | None:
        with self._lock:
            for m in self.milestones.values():
                if event_ticker in m.primary_event_tickers or event_ticker in m.related_event_tickers:
                    return m
        return None


def event_fee_update_msg(c: EventFeeChange) -> dict[str, object]:
    return {
        "event_ticker": c.event_ticker,
        "fee_type_override": c.fee_type_override,
        "fee_multiplier_override": (
            None if c.fee_multiplier_override is None else json_number(c.fee_multiplier_override)
        ),
    }
