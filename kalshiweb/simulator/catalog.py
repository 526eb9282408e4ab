"""The default market catalog: a seeded, deterministic set of Kalshi-style series, events and markets.

Times are relative to the exchange's `now`. Most markets are open with market-maker liquidity around a
fair value and a few hours of trade history; one BTC hourly event closes within the hour and yesterday's
NYC temperature event is already settled, so `advance()` has lifecycle work to do from the start.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol

from kalshiweb.simulator import bots
from kalshiweb.simulator.core import ticker_state
from kalshiweb.simulator.grid import ranges_for
from kalshiweb.simulator.model import ACTIVE, CLOSED, FINALIZED, INITIALIZED, ONE, Event, Market, Series


class Venue(bots.Venue, Protocol):
    """What the catalog needs from an exchange (`engine.Exchange` is one): the bots' view, plus the
    catalog writes and a settable clock (the history is traded in the past)."""

    @property
    def now(self) -> datetime: ...
    @now.setter
    def now(self, value: datetime) -> None: ...
    @property
    def series(self) -> dict[str, Series]: ...

    def add_series(self, s: Series) -> Series: ...
    def add_event(self, e: Event) -> Event: ...
    def add_market(self, m: Market) -> Market: ...


HISTORY = timedelta(hours=3)
HISTORY_STEP = timedelta(minutes=10)


@dataclass
class _Strike:
    suffix: str
    yes_sub_title: str
    no_sub_title: str
    fair: float
    strike_type: str
    floor: Decimal | None = None
    cap: Decimal | None = None


def _cdf(x: float, mu: float, sigma: float) -> float:
    return 0.5 * (1 + math.erf((x - mu) / (sigma * math.sqrt(2))))


def _fair(p: float) -> Decimal:
    return min(Decimal("0.97"), max(Decimal("0.03"), Decimal(str(round(p, 2)))))


def _brackets(mu: float, sigma: float, lo: float, width: float, n: int, unit: str) -> list[_Strike]:
    """Mutually exclusive ranges: below lo, n-2 brackets of `width`, above the top."""
    out = [
        _Strike(
            f"T{_num(lo - 0.5)}",
            f"{lo - 1:g}{unit} or below",
            f"Above {lo - 1:g}{unit}",
            _cdf(lo - 0.5, mu, sigma),
            "less",
            cap=Decimal(str(lo - 0.5)),
        )
    ]
    for i in range(n - 2):
        a = lo + i * width
        b = a + width - 1
        p = _cdf(b + 0.5, mu, sigma) - _cdf(a - 0.5, mu, sigma)
        out.append(
            _Strike(
                f"B{_num(a + 0.5)}",
                f"{a:g}{unit} to {b:g}{unit}",
                f"Not {a:g}-{b:g}{unit}",
                p,
                "between",
                Decimal(str(a)),
                Decimal(str(b)),
            )
        )
    top = lo + (n - 2) * width
    out.append(
        _Strike(
            f"T{_num(top - 0.5)}",
            f"{top:g}{unit} or above",
            f"Below {top:g}{unit}",
            1 - _cdf(top - 0.5, mu, sigma),
            "greater",
            floor=Decimal(str(top - 0.5)),
        )
    )
    return out


def _thresholds(mu: float, sigma: float, strikes: list[float], fmt: str) -> list[_Strike]:
    return [
        _Strike(
            f"T{_num(k)}",
            f"Above {fmt.format(k)}",
            f"{fmt.format(k)} or below",
            1 - _cdf(k, mu, sigma),
            "greater",
            floor=Decimal(str(k)),
        )
        for k in strikes
    ]


def _num(x: float) -> str:
    """12.50 -> '12.5', 92749.99 -> '92749.99', 50.0 -> '50' (Kalshi strike suffix style)."""
    return f"{x:.2f}".rstrip("0").rstrip(".")


def _day(dt: datetime) -> str:
    return dt.strftime("%y%b%d").upper()


def build_catalog(ex: Venue) -> None:
    now = ex.now
    rng = ex.rng
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    tomorrow = today + timedelta(days=1)
    yesterday = today - timedelta(days=1)
    listed = now - HISTORY - timedelta(hours=1)

    def series(
        ticker: str, title: str, category: str, frequency: str, tags: list[str], source: tuple[str, str]
    ) -> None:
        ex.add_series(
            Series(
                ticker=ticker,
                title=title,
                category=category,
                frequency=frequency,
                tags=tags,
                settlement_sources=[{"name": source[0], "url": source[1]}],
                contract_url=f"https://kalshi.com/markets/{ticker.lower()}",
                contract_terms_url=f"https://kalshi-public-docs.s3.amazonaws.com/contract_terms/{ticker}.pdf",
                last_updated=listed,
            )
        )

    def event(
        series_ticker: str,
        event_ticker: str,
        title: str,
        sub_title: str,
        close: datetime,
        strikes: list[_Strike],
        *,
        exclusive: bool,
        rules: str,
        structure: str = "linear_cent",
        can_close_early: bool = False,
        title_fmt: str = "{title}",
    ) -> list[Market]:
        s = ex.series[series_ticker]
        ex.add_event(
            Event(
                event_ticker=event_ticker,
                series_ticker=series_ticker,
                title=title,
                sub_title=sub_title,
                category=s.category,
                mutually_exclusive=exclusive,
                strike_date=close,
                settlement_sources=list(s.settlement_sources),
                last_updated=listed,
            )
        )
        made = []
        for k in strikes:
            m = Market(
                ticker=f"{event_ticker}-{k.suffix}",
                event_ticker=event_ticker,
                series_ticker=series_ticker,
                title=title_fmt.format(title=title, yes=k.yes_sub_title.replace("Above", "above")),
                yes_sub_title=k.yes_sub_title,
                no_sub_title=k.no_sub_title,
                open_time=min(listed, close - timedelta(hours=2)),
                close_time=close,
                created_time=min(listed, close - timedelta(hours=2)),
                rules_primary=rules.format(yes=k.yes_sub_title, close=close.strftime("%b %d, %Y %H:%M UTC")),
                rules_secondary="The outcome is determined from the settlement source listed for this series. "
                "If the source is delayed, the market may settle later.",
                can_close_early=can_close_early,
                price_level_structure=structure,
                price_ranges=ranges_for(structure),
                strike_type=k.strike_type,
                floor_strike=k.floor,
                cap_strike=k.cap,
                fair_value=_fair(k.fair),
                settlement_timer_seconds=300,
            )
            made.append(ex.add_market(m))
        return made

    series(
        "KXHIGHNY",
        "Highest temperature in NYC today",
        "Climate and Weather",
        "daily",
        ["Weather", "Temperature"],
        ("National Weather Service", "https://www.weather.gov/wrh/climate?wfo=okx"),
    )
    series(
        "KXHIGHCHI",
        "Highest temperature in Chicago today",
        "Climate and Weather",
        "daily",
        ["Weather", "Temperature"],
        ("National Weather Service", "https://www.weather.gov/wrh/climate?wfo=lot"),
    )
    series(
        "KXFED",
        "Fed funds rate",
        "Economics",
        "custom",
        ["Fed", "Interest rates"],
        ("Federal Reserve", "https://www.federalreserve.gov/monetarypolicy/openmarket.htm"),
    )
    series(
        "KXCPIYOY",
        "Inflation (CPI year over year)",
        "Economics",
        "monthly",
        ["CPI", "Inflation"],
        ("Bureau of Labor Statistics", "https://www.bls.gov/cpi/"),
    )
    series(
        "KXGDP",
        "US GDP growth",
        "Economics",
        "quarterly",
        ["GDP"],
        ("Bureau of Economic Analysis", "https://www.bea.gov/data/gdp"),
    )
    series(
        "KXBTCD",
        "Bitcoin price today",
        "Crypto",
        "hourly",
        ["BTC", "Crypto"],
        ("CF Benchmarks", "https://www.cfbenchmarks.com/data/indices/BRTI"),
    )
    series(
        "KXINXU",
        "S&P 500 daily close",
        "Financials",
        "daily",
        ["S&P 500", "Indices"],
        ("S&P Dow Jones Indices", "https://www.spglobal.com/spdji/en/indices/equity/sp-500/"),
    )
    series(
        "KXNFLGAME",
        "Pro football game winner",
        "Sports",
        "weekly",
        ["Football"],
        ("NFL", "https://www.nfl.com/scores/"),
    )
    series(
        "KXAPPROVAL",
        "Presidential approval rating",
        "Politics",
        "monthly",
        ["Approval"],
        ("RealClearPolling", "https://www.realclearpolling.com/"),
    )
    series(
        "KXGOVSHUT",
        "Government shutdown",
        "Politics",
        "custom",
        ["Congress"],
        ("U.S. Office of Personnel Management", "https://www.opm.gov/"),
    )

    temp_rules = (
        "If the highest temperature recorded in {where} on {day} is {{yes}}, then the market resolves to Yes."
    )
    for day, close in (
        (today, today + timedelta(days=1, hours=4, minutes=59)),
        (tomorrow, tomorrow + timedelta(days=1, hours=4, minutes=59)),
    ):
        mu = 50 + rng.uniform(-3, 3)
        event(
            "KXHIGHNY", f"KXHIGHNY-{_day(day)}", f"Highest temperature in NYC on {day:%b %d, %Y}?", f"On {day:%b %d, %Y}",
            close, _brackets(mu, 2.2, 47, 2, 7, "°"), exclusive=True,
            rules=temp_rules.format(where="Central Park, New York", day=f"{day:%b %d, %Y}"),
            title_fmt="Will the high temp in NYC be {yes} on " + f"{day:%b %d, %Y}?",
        )  # fmt: skip
    mu = 41 + rng.uniform(-3, 3)
    event(
        "KXHIGHCHI", f"KXHIGHCHI-{_day(today)}", f"Highest temperature in Chicago on {today:%b %d, %Y}?", f"On {today:%b %d, %Y}",
        today + timedelta(days=1, hours=5, minutes=59), _brackets(mu, 2.5, 38, 2, 6, "°"), exclusive=True,
        rules=temp_rules.format(where="Chicago Midway", day=f"{today:%b %d, %Y}"),
        title_fmt="Will the high temp in Chicago be {yes} on " + f"{today:%b %d, %Y}?",
    )  # fmt: skip

    fed_close = today + timedelta(days=16, hours=18)
    event(
        "KXFED", f"KXFED-{fed_close:%y}{fed_close.strftime('%b').upper()}", "Fed funds rate after the December meeting",
        f"Upper bound after {fed_close:%b %d}", fed_close,
        _thresholds(3.88, 0.15, [3.50, 3.75, 4.00, 4.25, 4.50], "{:.2f}%"), exclusive=False,
        rules="If the upper bound of the federal funds target range after the meeting is {yes}, then the market resolves to Yes.",
        title_fmt="Fed funds rate {yes} after the December meeting?",
    )  # fmt: skip
    cpi_close = today + timedelta(days=15, hours=13, minutes=30)
    event(
        "KXCPIYOY", f"KXCPIYOY-{cpi_close:%y}{(cpi_close - timedelta(days=30)).strftime('%b').upper()}", "CPI inflation year over year",
        "November CPI release", cpi_close, _thresholds(2.85, 0.2, [2.5, 2.7, 2.9, 3.1, 3.3], "{:.1f}%"), exclusive=False,
        rules="If year-over-year CPI inflation, as first released by the BLS, is {yes}, then the market resolves to Yes.",
        title_fmt="CPI inflation {yes}?",
    )  # fmt: skip
    gdp_close = today + timedelta(days=65, hours=13, minutes=30)
    event(
        "KXGDP", f"KXGDP-{gdp_close:%y}{gdp_close.strftime('%b').upper()}{gdp_close:%d}", "US GDP growth in Q4",
        "Advance estimate", gdp_close, _thresholds(1.9, 0.8, [0.5, 1.0, 1.5, 2.0, 2.5, 3.0], "{:.1f}%"), exclusive=False,
        rules="If the advance estimate of real GDP growth (annualized) is {yes}, then the market resolves to Yes.",
        title_fmt="Q4 GDP growth {yes}?",
    )  # fmt: skip

    btc = 93000 + rng.uniform(-2000, 2000)
    next_hour = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    for close, sigma in ((next_hour, 350.0), (today + timedelta(days=1, hours=22), 1500.0)):
        base = round(btc / 250) * 250
        strikes = [base + 250 * i for i in range(-4, 4)]
        event(
            "KXBTCD", f"KXBTCD-{_day(close)}{close:%H}", f"Bitcoin price on {close:%b %d, %Y} at {close:%H:%M} UTC?",
            f"{close:%b %d, %H:%M} UTC", close,
            _thresholds(btc, sigma, [float(k) - 0.01 for k in strikes], "${:,.2f}"), exclusive=False,
            rules="If the CF Benchmarks Bitcoin Real-Time Index (60-second average) at {close} is {yes}, then the market resolves to Yes.",
            structure="deci_cent", title_fmt="Bitcoin {yes} at " + f"{close:%H:%M} UTC?",
        )  # fmt: skip

    inx = 6650 + rng.uniform(-40, 40)
    inx_close = today + timedelta(days=1, hours=21) if now.hour >= 21 else today + timedelta(hours=21)
    base = round(inx / 25) * 25
    event(
        "KXINXU", f"KXINXU-{_day(inx_close)}H1600", f"S&P 500 close on {inx_close:%b %d, %Y}?", "At 4:00 PM ET", inx_close,
        _thresholds(inx, 35.0, [base + 25 * i - 0.01 for i in range(-3, 3)], "{:,.2f}"), exclusive=False,
        rules="If the S&P 500 closes {yes} on the settlement date, then the market resolves to Yes.",
        structure="tapered_deci_cent", title_fmt="S&P 500 close {yes}?",
    )  # fmt: skip

    games = [
        ("KC", "Kansas City", "BUF", "Buffalo"),
        ("PHI", "Philadelphia", "DAL", "Dallas"),
        ("DET", "Detroit", "GB", "Green Bay"),
    ]
    for i, (a, an, b, bn) in enumerate(games):
        kickoff = today + timedelta(
            days=6 - today.weekday() + (0 if today.weekday() < 6 else 7), hours=18 + 3 * i
        )
        pa = 0.35 + rng.uniform(0, 0.3)
        event(
            "KXNFLGAME", f"KXNFLGAME-{_day(kickoff)}{a}{b}", f"{an} at {bn}", "Professional Football Game",
            kickoff + timedelta(hours=4),
            [_Strike(a, an, an, pa, "custom"), _Strike(b, bn, bn, 1 - pa, "custom")], exclusive=True,
            rules="If {yes} wins the game, then the market resolves to Yes.", can_close_early=True,
            title_fmt=f"{an} at {bn} Winner?",
        )  # fmt: skip

    appr_close = today + timedelta(days=30)
    event(
        "KXAPPROVAL", f"KXAPPROVAL-{_day(appr_close)}", f"Presidential approval on {appr_close:%b %d}?", "RCP average",
        appr_close, _thresholds(42.5, 1.5, [40, 41, 42, 43, 44], "{:g}%"), exclusive=False,
        rules="If the approval rating on the RealClearPolling average is {yes} on the settlement date, then the market resolves to Yes.",
        title_fmt="Approval rating {yes}?",
    )  # fmt: skip
    shut_close = datetime(today.year, 12, 31, 23, 59, tzinfo=today.tzinfo)
    if shut_close <= now + timedelta(days=2):
        shut_close = shut_close.replace(year=today.year + 1)
    event(
        "KXGOVSHUT", f"KXGOVSHUT-{_day(shut_close)}", f"Government shutdown before {shut_close:%b %d, %Y}?", "Federal funding lapse",
        shut_close, [_Strike("YES", "Shutdown", "No shutdown", 0.18, "custom")], exclusive=False,
        rules="If a lapse in federal appropriations causes a shutdown before {close}, then the market resolves to Yes.",
        can_close_early=True, title_fmt="Will the government shut down?",
    )  # fmt: skip

    # Lifecycle fodder: a BTC hourly event that closed an hour ago (awaiting determination) and yesterday's
    # NYC temperature, already settled.
    closed_at = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    closed_markets = event(
        "KXBTCD", f"KXBTCD-{_day(closed_at)}{closed_at:%H}", f"Bitcoin price on {closed_at:%b %d, %Y} at {closed_at:%H:%M} UTC?",
        f"{closed_at:%b %d, %H:%M} UTC", closed_at,
        _thresholds(btc, 300.0, [float(round(btc / 250) * 250 + 250 * i) - 0.01 for i in (-1, 0, 1)], "${:,.2f}"),
        exclusive=False, structure="deci_cent",
        rules="If the CF Benchmarks Bitcoin Real-Time Index (60-second average) at {close} is {yes}, then the market resolves to Yes.",
        title_fmt="Bitcoin {yes} at " + f"{closed_at:%H:%M} UTC?",
    )  # fmt: skip
    settled_close = yesterday + timedelta(days=1, hours=4, minutes=59)
    settled_markets = event(
        "KXHIGHNY", f"KXHIGHNY-{_day(yesterday)}", f"Highest temperature in NYC on {yesterday:%b %d, %Y}?",
        f"On {yesterday:%b %d, %Y}", settled_close, _brackets(51, 2.0, 47, 2, 7, "°"), exclusive=True,
        rules=temp_rules.format(where="Central Park, New York", day=f"{yesterday:%b %d, %Y}"),
        title_fmt="Will the high temp in NYC be {yes} on " + f"{yesterday:%b %d, %Y}?",
    )  # fmt: skip
    for m in closed_markets:
        m.status = CLOSED
        m.scheduled_result = "yes" if m.fair_value > Decimal("0.5") else "no"
    winner = max(settled_markets, key=lambda m: m.fair_value)
    for m in settled_markets:
        m.open_time = m.created_time = settled_close - timedelta(days=2)
        m.status = FINALIZED
        m.result = "yes" if m is winner else "no"
        m.settlement_value = ONE if m is winner else Decimal(0)
        m.expiration_value = "51"
        m.determination_ts = settled_close + timedelta(minutes=2)
        m.settlement_ts = settled_close + timedelta(minutes=7)
        m.last_price = Decimal("0.99") if m is winner else Decimal("0.01")
        m.volume = m.volume_24h = Decimal(rng.randint(2000, 40000))
        m.dollar_volume = m.volume * Decimal("0.3")

    _seed_history(ex, now)


def _seed_history(ex: Venue, now: datetime) -> None:
    """Quote and trade the open markets for a few simulated hours before `now`, so books, last prices and
    candlesticks have something in them."""
    live = [m for m in ex.markets.values() if m.status in (ACTIVE, INITIALIZED)]
    t = now - HISTORY
    first = True
    while t <= now:
        ex.now = t
        for m in live:
            if m.status == INITIALIZED and t >= m.open_time:
                m.status = ACTIVE
            if m.status != ACTIVE or t >= m.close_time:
                continue
            if first:
                m.previous_yes_bid = m.fair_value - Decimal("0.02")
                m.previous_yes_ask = m.fair_value + Decimal("0.02")
                m.previous_price = m.fair_value
            bots.drift_fair(ex, m, 0.006)
            bots.requote(ex, m)
            for _ in range(ex.rng.randint(0, 2)):
                bots.take(ex, m)
        first = False
        t += HISTORY_STEP
    ex.now = now
    for m in live:
        if m.status == ACTIVE and now < m.close_time:
            bots.requote(ex, m)
        m.last_ticker_state = ticker_state(m)
