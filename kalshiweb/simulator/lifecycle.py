"""The market catalog and each market's lifecycle: series, events and markets, and the status changes
initialized -> active (<-> inactive) -> closed -> determined -> finalized, each announced as a
`market_lifecycle_v2` event.

`run_lifecycle` moves markets along by the clock (open, close, determine after
`determination_delay_seconds`, settle after `settlement_timer_seconds`); the other writes are the admin
and test switches that do the same on demand. Closing cancels resting orders through the matcher;
settling pays out through the ledger.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from kalshiweb.simulator.core import Core, ticker_state
from kalshiweb.simulator.events import ChannelBroadcast
from kalshiweb.simulator.grid import ranges_for
from kalshiweb.simulator.ledger import Ledger
from kalshiweb.simulator.matching import Matcher
from kalshiweb.simulator.model import (
    ACTIVE,
    CLOSED,
    DETERMINED,
    FINALIZED,
    INACTIVE,
    INITIALIZED,
    ONE,
    ZERO,
    Event,
    ExchangeError,
    Market,
    Series,
    json_number,
    unix,
)


class Lifecycle:
    def __init__(self, core: Core, ledger: Ledger, matcher: Matcher) -> None:
        self._core = core
        self._ledger = ledger
        self._matcher = matcher
        self.series: dict[str, Series] = {}
        self.events: dict[str, Event] = {}
        # event_ticker -> (fee_type, multiplier or None = the series'); filled by the server's fee changes
        self.event_fee_overrides: dict[str, tuple[str, Decimal | None]] = {}
        core.fee_schedule = self.fee_schedule
        # The clock's work (every tick, 10 a second) goes over the markets the clock can still move: a finalized
        # market leaves this index, so an exchange that has settled thousands of markets ticks as fast as a new
        # one. The 24-hour volume rolls at most once a second of exchange time.
        self._moving: dict[str, Market] = {}
        self._rolled_at: datetime | None = None

    def fee_schedule(self, m: Market) -> tuple[str, Decimal]:
        """The fee type and multiplier `m` trades under now: its series', or its event's override."""
        series = self.series.get(m.series_ticker)
        fee_type, multiplier = (
            (series.fee_type, series.fee_multiplier) if series else ("quadratic", Decimal(1))
        )
        override = self.event_fee_overrides.get(m.event_ticker)
        if override is not None:
            fee_type = override[0]
            multiplier = multiplier if override[1] is None else override[1]
        return fee_type, Decimal(multiplier)

    # ------------------------------------------------------------------ catalog

    def add_series(self, s: Series) -> Series:
        if s.last_updated is None:
            s.last_updated = self._core.now
        self.series[s.ticker] = s
        return s

    def add_event(self, e: Event) -> Event:
        if e.last_updated is None:
            e.last_updated = self._core.now
        new = e.event_ticker not in self.events
        self.events[e.event_ticker] = e
        if new:
            self._core.emit(
                ChannelBroadcast(("market_lifecycle_v2",), "event_lifecycle", self.event_lifecycle_msg(e))
            )
        return e

    @staticmethod
    def event_lifecycle_msg(e: Event) -> dict[str, object]:
        """The `event_lifecycle` msg announcing a new event (issue #15 breadth)."""
        msg: dict[str, object] = {
            "event_ticker": e.event_ticker,
            "exchange_index": 0,
            "title": e.title,
            "subtitle": e.sub_title,
            "collateral_return_type": e.collateral_return_type,
            "series_ticker": e.series_ticker,
        }
        if e.strike_date is not None:
            msg["strike_date"] = int(e.strike_date.timestamp())
        if e.strike_period:
            msg["strike_period"] = e.strike_period
        return msg

    def add_market(self, m: Market) -> Market:
        if m.ticker in self._core.markets:
            raise ExchangeError(409, "market_already_exists", f"market {m.ticker!r} already exists")
        if not m.market_id:
            m.market_id = self._core.new_id()
        m.created_time = m.created_time or min(self._core.now, m.open_time)
        m.updated_time = m.updated_time or m.created_time
        m.expected_expiration_time = m.expected_expiration_time or m.close_time
        m.latest_expiration_time = m.latest_expiration_time or (m.close_time + timedelta(days=7))
        if m.status == ACTIVE and self._core.now < m.open_time:
            m.status = INITIALIZED
        self._core.markets[m.ticker] = m
        self._moving[m.ticker] = m
        ev = self.events.get(m.event_ticker)
        if ev is not None and m.ticker not in ev.markets:
            ev.markets.append(m.ticker)
        self._core.record_quote(m)
        m.last_ticker_state = ticker_state(m)
        self._core.lifecycle(
            m,
            "created",
            exchange_index=0,
            open_ts=unix(m.open_time),
            close_ts=unix(m.close_time),
            additional_metadata=self._additional_metadata(m),
            price_level_structure=m.price_level_structure,
            price_ranges=[
                {"start": f"{r.start:.4f}", "end": f"{r.end:.4f}", "step": f"{r.step:.4f}"}
                for r in m.price_ranges
            ],
        )
        return m

    def _additional_metadata(self, m: Market) -> dict[str, object]:
        ev = self.events.get(m.event_ticker)
        meta: dict[str, object] = {
            "name": ev.title if ev else m.title,
            "title": m.title,
            "yes_sub_title": m.yes_sub_title,
            "no_sub_title": m.no_sub_title,
            "rules_primary": m.rules_primary,
            "rules_secondary": m.rules_secondary,
            "can_close_early": m.can_close_early,
            "event_ticker": m.event_ticker,
            "expected_expiration_ts": unix(m.expected_expiration_time or m.close_time),
        }
        if m.strike_type:
            meta["strike_type"] = m.strike_type
        if m.floor_strike is not None:
            meta["floor_strike"] = json_number(m.floor_strike)
        if m.cap_strike is not None:
            meta["cap_strike"] = json_number(m.cap_strike)
        return meta

    # ------------------------------------------------------------------ reads

    def roll_volume_24h(self) -> None:
        if self._rolled_at is not None and timedelta(0) <= self._core.now - self._rolled_at < timedelta(
            seconds=1
        ):
            return
        self._rolled_at = self._core.now
        cutoff = self._core.now - timedelta(hours=24)
        for m in self._core.markets.values():
            if not m.trade_history or m.trade_history[0].created_time > cutoff:
                continue  # nothing has aged out (or no trades): the running total is right
            i = bisect_right(m.trade_history, cutoff, key=lambda t: t.created_time)
            volume = sum((t.count for t in m.trade_history[i:]), ZERO)
            if volume != m.volume_24h:
                before = ticker_state(m)
                m.volume_24h = volume
                self._core.touch(m, before)

    def run_lifecycle(self) -> None:
        for m in list(self._moving.values()):
            if m.status == FINALIZED:
                del self._moving[m.ticker]
                continue
            if m.status == INITIALIZED and self._core.now >= m.open_time:
                before = ticker_state(m)
                m.status = ACTIVE
                self._core.touch(m, before)
            if m.status in (ACTIVE, INACTIVE) and self._core.now >= m.close_time:
                self.close_market(m.ticker)
            if m.status == CLOSED and self._core.now >= m.close_time + timedelta(
                seconds=m.determination_delay_seconds
            ):
                result = m.scheduled_result or (
                    "yes" if self._core.rng.random() < float(m.fair_value) else "no"
                )
                self.determine_market(m.ticker, result)
            if (
                m.status == DETERMINED
                and m.determination_ts is not None
                and self._core.now >= m.determination_ts + timedelta(seconds=m.settlement_timer_seconds)
            ):
                self._settle(m)

    def close_market(self, ticker: str) -> None:
        m = self._core.get_market(ticker)
        if m.status not in (ACTIVE, INACTIVE, INITIALIZED):
            return
        before = ticker_state(m)
        for order in [o for q in (*m.yes_book.values(), *m.no_book.values()) for o in q]:
            self._matcher.cancel_resting(m, order, "CloseCancel")
        m.status = CLOSED
        if self._core.now < m.close_time:
            m.close_time = self._core.now
            self._core.lifecycle(m, "close_date_updated", close_ts=unix(m.close_time))
        m.updated_time = self._core.now
        self._core.touch(m, before)

    def determine_market(self, ticker: str, result: str) -> None:
        if result not in ("yes", "no"):
            raise ExchangeError(400, "invalid_parameters", "result must be 'yes' or 'no'")
        m = self._core.get_market(ticker)
        if m.status in (DETERMINED, FINALIZED):
            return
        if m.status != CLOSED:
            self.close_market(ticker)
        before = ticker_state(m)
        m.status = DETERMINED
        m.result = result
        m.settlement_value = ONE if result == "yes" else ZERO
        m.expiration_value = result
        m.determination_ts = self._core.now
        self._core.lifecycle(
            m,
            "determined",
            determination_ts=unix(self._core.now),
            result=result,
            settlement_value=f"{m.settlement_value:.4f}",
        )
        self._core.touch(m, before)

    def settle_market(self, ticker: str, result: str) -> None:
        """Force close, determine and settle `ticker` now (for tests and admin use)."""
        self.determine_market(ticker, result)
        m = self._core.get_market(ticker)
        if m.status == DETERMINED:
            self._settle(m)

    def _settle(self, m: Market) -> None:
        before = ticker_state(m)
        self._ledger.pay_out(m)
        m.status = FINALIZED
        m.settlement_ts = self._core.now
        m.updated_time = self._core.now
        self._core.lifecycle(m, "settled", settled_ts=unix(self._core.now))
        self._core.touch(m, before)

    def pause_market(self, ticker: str) -> None:
        m = self._core.get_market(ticker)
        if m.status != ACTIVE:
            return
        before = ticker_state(m)
        for order in [o for q in (*m.yes_book.values(), *m.no_book.values()) for o in q]:
            if order.cancel_order_on_pause:
                self._matcher.cancel_resting(m, order, "HaltCancel")
        m.status = INACTIVE
        self._core.lifecycle(m, "deactivated", is_deactivated=True)
        self._core.touch(m, before)

    def resume_market(self, ticker: str) -> None:
        m = self._core.get_market(ticker)
        if m.status != INACTIVE:
            return
        before = ticker_state(m)
        m.status = ACTIVE
        self._core.lifecycle(m, "activated", is_deactivated=False)
        self._core.touch(m, before)

    def set_close_time(self, ticker: str, close_time: datetime) -> None:
        m = self._core.get_market(ticker)
        m.close_time = close_time.astimezone(UTC)
        m.updated_time = self._core.now
        self._core.lifecycle(m, "close_date_updated", close_ts=unix(m.close_time))

    def set_price_level_structure(self, ticker: str, structure: str) -> None:
        """Switch a market to another price grid (resting orders stay where they are)."""
        m = self._core.get_market(ticker)
        try:
            m.price_ranges = ranges_for(structure)
        except KeyError:
            raise ExchangeError(
                400, "invalid_parameters", f"unknown price level structure {structure!r}"
            ) from None
        m.price_level_structure = structure
        m.updated_time = self._core.now
        self._core.lifecycle(
            m,
            "price_level_structure_updated",
            price_level_structure=structure,
            price_ranges=[
                {"start": f"{r.start:.4f}", "end": f"{r.end:.4f}", "step": f"{r.step:.4f}"}
                for r in m.price_ranges
            ],
        )

    def update_market_metadata(
        self,
        ticker: str,
        *,
        yes_sub_title: str | None = None,
        strike_type: str | None = None,
        floor_strike: Decimal | None = None,
        cap_strike: Decimal | None = None,
    ) -> None:
        """Change a market's subtitle or strike and announce it (`metadata_updated`)."""
        m = self._core.get_market(ticker)
        data: dict[str, object] = {}
        if yes_sub_title is not None:
            m.yes_sub_title = yes_sub_title
            data["yes_sub_title"] = yes_sub_title
        if strike_type is not None:
            m.strike_type = strike_type
            data["strike_type"] = strike_type
        if floor_strike is not None:
            m.floor_strike = Decimal(floor_strike)
            data["floor_strike"] = json_number(m.floor_strike)
        if cap_strike is not None:
            m.cap_strike = Decimal(cap_strike)
            data["cap_strike"] = json_number(m.cap_strike)
        if data:
            m.updated_time = self._core.now
            self._core.lifecycle(m, "metadata_updated", **data)

    # ------------------------------------------------------------------ invariants
