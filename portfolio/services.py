"""The portfolio's actions: refreshing an account's snapshot from Kalshi (single-flight), building what the
page shows from stored fills, settlements and live quotes, and pushing it to the trader's open pages.

Stale-while-revalidate: pages render the stored snapshot at once; when it is older than STALE_AFTER the
page says so and asks for a refresh, which runs in Celery. `portfolio.tasks.request_refresh` takes a Redis lock
(`SET NX EX`) per account, so any number of tabs, polls and beats cause at most one Kalshi refresh per
REFRESH_WINDOW seconds, and every request goes through the account's shared token bucket (`client_for`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.utils import timezone

from markets import live, presence
from markets.models import Market
from portfolio import archive, cash, pnl
from portfolio.models import EquityPoint, PortfolioSnapshot, Settlement
from portfolio.pnl import Mark
from trading.balance import cached_balance, store_balance
from trading.fills import sync_fills
from trading.lifecycle import notify_user
from trading.models import Fill, KalshiAccount, TraderProfile

log = logging.getLogger(__name__)

STALE_AFTER = settings.KALSHIWEB_PORTFOLIO_STALE_AFTER_SECONDS
REFRESH_WINDOW = settings.KALSHIWEB_PORTFOLIO_REFRESH_WINDOW_SECONDS
EQUITY_EVERY = timedelta(seconds=settings.KALSHIWEB_PORTFOLIO_EQUITY_EVERY_SECONDS)
ZERO = Decimal(0)
# Kalshi reports costs and P&L to 1e-4 dollars; we call a difference of more than a cent a mismatch.
CROSS_CHECK_TOLERANCE = Decimal("0.01")


def now() -> datetime:
    """The clock (one place, so tests can freeze it)."""
    return timezone.now()


def lock_key(account_id: int) -> str:
    return f"kw:portfolio:refresh:{account_id}"


def followup_key(account_id: int) -> str:
    return f"kw:portfolio:refresh-followup:{account_id}"


def refresh_in_flight(account_id: int) -> bool:
    try:
        return bool(live.client().exists(lock_key(account_id)))
    except Exception:
        return False


# ------------------------------------------------------------------------------------------- refresh


def refresh(account: KalshiAccount, client: Any, *, at: datetime | None = None) -> PortfolioSnapshot:
    """Read balance, positions, new settlements and new fills from Kalshi and store them."""
    balance = client.get_balance()
    positions: dict[str, dict[str, str]] = {}
    cursor = None
    while True:
        page = client.get_positions(limit=1000, cursor=cursor)
        for p in page.market_positions:
            positions[p.ticker] = {
                "position": str(p.position),
                "market_exposure": str(p.market_exposure),
                "realized_pnl": str(p.realized_pnl),
                "fees_paid": str(p.fees_paid),
                "total_traded": str(p.total_traded),
            }
        cursor = page.cursor
        if not cursor or not page.market_positions:
            break
    # Settlements and fills since the newest we hold (a minute of overlap; both writes are idempotent).
    last_settled = (
        Settlement.objects.filter(account=account)
        .order_by("-settled_time")
        .values_list("settled_time", flat=True)
        .first()
    )
    for s in client.iter_settlements(min_ts=_since(last_settled)):
        store_settlement(account, s)
    sync_fills(account, client, source="portfolio refresh")  # both sides of the historical cutoff
    if cash.due(account.pk) and cash.sync(account, client):  # at most every cash.SYNC_EVERY seconds
        cash.push(account)  # new deposits or withdrawals: the cash panel of the open portfolio pages
    if archive.due(account.pk):  # markets we traded that settled before Kalshi's cutoff, never listed here
        archive.import_archived(account, client)
    when = at or now()
    # The snapshot and its equity point become visible together: a reader never sees one without the other.
    with transaction.atomic():
        snapshot, _ = PortfolioSnapshot.objects.update_or_create(
            account=account,
            defaults={
                "balance": balance.balance,
                "portfolio_value": Decimal(balance.portfolio_value_cents) / 100,
                "positions": positions,
                "as_of": when,
                "last_error": "",
                "last_error_at": None,
            },
        )
        last_point = (
            EquityPoint.objects.filter(account=account).order_by("-at").values_list("at", flat=True).first()
        )
        if last_point is None or when - last_point >= EQUITY_EVERY:
            EquityPoint.objects.get_or_create(
                account=account,
                at=when,
                defaults={"balance": snapshot.balance, "portfolio_value": snapshot.portfolio_value},
            )
    store_balance(account, balance.balance)
    return snapshot


def record_refresh_error(account: KalshiAccount, message: str, *, at: datetime | None = None) -> None:
    PortfolioSnapshot.objects.filter(account=account).update(
        last_error=message[:300], last_error_at=at or now()
    )


def _since(when: datetime | None) -> int:
    return int((when or datetime(2020, 1, 1, tzinfo=UTC)).timestamp()) - 60


def store_settlement(account: KalshiAccount, s: Any) -> Settlement:
    row, _ = Settlement.objects.update_or_create(
        account=account,
        ticker=s.ticker,
        defaults={
            "event_ticker": s.event_ticker,
            "market_result": s.market_result,
            "yes_count": s.yes_count,
            "yes_total_cost": s.yes_total_cost,
            "no_count": s.no_count,
            "no_total_cost": s.no_total_cost,
            "revenue": Decimal(s.revenue_cents) / 100,
            "fee_cost": s.fee_cost,
            "value_cents": s.value_cents,
            "settled_time": s.settled_time,
        },
    )
    return row


# --------------------------------------------------------------------------------------- what we show


def equity_points(account: KalshiAccount, limit: int = 500) -> list[Any]:
    """The equity chart's points: the stored ones (one per EQUITY_EVERY), then Kalshi's latest figures when they
    are newer, so the chart starts with the second refresh instead of EQUITY_EVERY later."""
    points: list[Any] = list(EquityPoint.objects.filter(account=account).order_by("-at")[:limit])[::-1]
    snapshot = PortfolioSnapshot.objects.filter(account=account).first()
    if snapshot is not None and (not points or snapshot.as_of > points[-1].at):
        points.append(
            EquityPoint(
                account=account,
                at=snapshot.as_of,
                balance=snapshot.balance,
                portfolio_value=snapshot.portfolio_value,
            )
        )
    return points


def equity_series(points: list[Any]) -> list[dict[str, Any]]:
    """The equity points for the chart script: one a second at most (the chart's time axis is in whole
    seconds; the later point of a second wins), totals as decimal text."""
    by_second: dict[int, str] = {}
    for point in points:
        by_second[int(point.at.timestamp())] = format(point.total.normalize(), "f")
    return [{"time": t, "value": v} for t, v in sorted(by_second.items())]


def fills_of(account: KalshiAccount, user: Any = None) -> QuerySet[Fill]:
    """The account's fills a view covers: one trader's own (the fills of their orders), or with no user the
    whole account (staff), including fills of orders placed outside the app, which belong to no trader."""
    fills = Fill.objects.filter(account=account)
    return fills if user is None else fills.filter(user=user)


def ledger_for(account: KalshiAccount, user: Any = None) -> pnl.Ledger:
    """Replay the stored fills (one trader's, or with no user the account's) and settlements in time order.

    A settlement closes whatever the trader holds in that market at its result, so a trader's P&L is the
    P&L of their own fills."""
    events: list[tuple[datetime, int, int, pnl.Trade | tuple[str, str, Decimal | None]]] = []
    tickers: set[str] = set()
    for f in (
        fills_of(account, user)
        .order_by("created_time", "pk")
        .values_list("pk", "ticker", "book_side", "yes_price", "count", "fee", "created_time")
    ):
        pk, ticker, book_side, yes_price, count, fee, created = f
        tickers.add(ticker)
        events.append((created, 0, pk, pnl.Trade(ticker, book_side, yes_price, count, fee)))
    settlements = Settlement.objects.filter(account=account)
    if user is not None:
        settlements = settlements.filter(ticker__in=tickers)
    for s in settlements.values_list("pk", "ticker", "market_result", "value_cents", "settled_time"):
        pk, ticker, result, value_cents, settled = s
        if result in ("yes", "no"):
            events.append((settled, 1, pk, (ticker, result, None)))
        elif result == "scalar" and value_cents is not None and 0 <= value_cents <= 100:
            events.append((settled, 1, pk, (ticker, result, Decimal(value_cents) / 100)))
        # Any other result (no value reported, a result Kalshi adds later) is not guessed at: the position
        # stays open and marked, and the settlement still shows in the list with Kalshi's revenue.
    events.sort(key=lambda e: (e[0], e[1], e[2]))
    return pnl.build_ledger(e[3] for e in events)


def live_positions(account_id: int) -> dict[str, dict[str, Decimal]]:
    """The feed's latest `market_positions` per ticker (Kalshi's own figures, fresher than the snapshot)."""
    try:
        raw = live.client().hgetall(f"kw:positions:{account_id}")
    except Exception:
        return {}
    out = {}
    for key, value in raw.items():
        try:
            data = json.loads(value)
            out[key.decode() if isinstance(key, bytes) else key] = {
                "position": Decimal(data["position"]),
                "market_exposure": Decimal(data["position_cost"]),
                "realized_pnl": Decimal(data["realized_pnl"]),
                "fees_paid": Decimal(data["fees_paid"]),
            }
        except (ValueError, KeyError, TypeError, ArithmeticError):
            continue
    return out


@dataclass
class Row:
    pnl: pnl.MarketPnl
    market: Any  # markets.Market or None
    mark: Mark
    value: Decimal | None
    unrealized: Decimal | None
    mismatch: str = ""

    @property
    def ticker(self) -> str:
        return self.pnl.ticker

    @property
    def title(self) -> str:
        if self.market is None:
            return self.ticker
        return self.market.yes_sub_title or self.market.title or self.ticker

    @property
    def close_time(self) -> datetime | None:
        return self.market.close_time if self.market is not None else None


@dataclass
class EventGroup:
    event_ticker: str
    title: str
    mutually_exclusive: bool
    rows: list[Row] = field(default_factory=list)
    payoffs: list[pnl.Outcome] | None = None

    @property
    def cost(self) -> Decimal:
        return sum((r.pnl.cost for r in self.rows), ZERO)

    @property
    def value(self) -> Decimal | None:
        values = [r.value for r in self.rows if r.value is not None]
        return None if len(values) < len(self.rows) else sum(values, ZERO)

    @property
    def unrealized(self) -> Decimal | None:
        values = [r.unrealized for r in self.rows if r.unrealized is not None]
        return None if len(values) < len(self.rows) else sum(values, ZERO)

    @property
    def max_loss(self) -> Decimal:
        return pnl.max_loss([r.pnl for r in self.rows], self.payoffs)


@dataclass
class PortfolioView:
    account: KalshiAccount
    snapshot: PortfolioSnapshot | None
    groups: list[EventGroup]
    ledger: pnl.Ledger
    balance: Decimal | None
    balance_as_of: datetime | None
    stale: bool
    newer_fills: int
    age_seconds: int | None
    refreshing: bool
    refreshable: bool
    at: datetime
    account_wide: bool = False  # the whole account's fills (staff); otherwise one trader's own

    @property
    def rows(self) -> list[Row]:
        return [r for g in self.groups for r in g.rows]

    @property
    def tickers(self) -> list[str]:
        return [r.ticker for r in self.rows]

    @property
    def positions_value(self) -> Decimal:
        return sum((r.value for r in self.rows if r.value is not None), ZERO)

    @property
    def portfolio_value(self) -> Decimal | None:
        return None if self.balance is None else self.balance + self.positions_value

    @property
    def unrealized(self) -> Decimal:
        return sum((r.unrealized for r in self.rows if r.unrealized is not None), ZERO)

    @property
    def unmarked(self) -> int:
        return sum(1 for r in self.rows if r.value is None)

    @property
    def mark_sources(self) -> str:
        sources = sorted({r.mark.source for r in self.rows if r.mark.source})
        return " / ".join(sources)

    @property
    def realized(self) -> Decimal:
        return self.ledger.realized

    @property
    def fees(self) -> Decimal:
        return self.ledger.fees

    @property
    def exposure(self) -> Decimal:
        return sum((r.pnl.cost for r in self.rows), ZERO)

    @property
    def max_loss(self) -> Decimal:
        return sum((g.max_loss for g in self.groups), ZERO)

    @property
    def mismatches(self) -> list[Row]:
        return [r for r in self.rows if r.mismatch]


def cross_check(mine: pnl.MarketPnl, kalshi: dict[str, Decimal] | None) -> str:
    """Compare our figures from stored fills with Kalshi's; "" when they agree."""
    if kalshi is None:
        return "Kalshi reports no position here yet" if mine.position else ""
    problems = []
    if kalshi["position"] != mine.position:
        problems.append(f"position {kalshi['position'].normalize():f} at Kalshi")
    if abs(kalshi["market_exposure"] - mine.cost) > CROSS_CHECK_TOLERANCE:
        problems.append(f"exposure ${kalshi['market_exposure']:.2f} at Kalshi")
    if abs(kalshi["realized_pnl"] - mine.realized) > CROSS_CHECK_TOLERANCE:
        problems.append(f"realized ${kalshi['realized_pnl']:.2f} at Kalshi")
    return "; ".join(problems)


def build_view(account: KalshiAccount, user: Any = None, *, at: datetime | None = None) -> PortfolioView:
    """What one trader sees (their own fills' positions and P&L, and the account's balance), or with no user
    the account-wide view for staff (every fill, checked against Kalshi's account positions)."""
    at = at or now()
    snapshot = PortfolioSnapshot.objects.filter(account=account).first()
    ledger = ledger_for(account, user)
    # Fills after the snapshot are in our positions but not in Kalshi's balance: the snapshot is behind.
    newer_fills = (
        Fill.objects.filter(account=account, created_time__gt=snapshot.as_of).count() if snapshot else 0
    )
    stale = snapshot is None or snapshot.is_stale(at, STALE_AFTER) or newer_fills > 0
    # Kalshi's own figures to check ours against: the snapshot while it is current, otherwise what the
    # feed last heard (`market_positions`) on top of it. Kalshi knows the account, not the trader: only the
    # account-wide view can be checked against them.
    kalshi_figures = {
        t: {k: Decimal(v) for k, v in row.items()}
        for t, row in (snapshot.positions if snapshot else {}).items()
    }
    if stale:
        kalshi_figures.update(live_positions(account.pk))
    check = user is None
    held = ledger.open_positions()
    markets = Market.objects.select_related("event").in_bulk([p.ticker for p in held])
    groups: dict[str, EventGroup] = {}
    for position in sorted(held, key=lambda p: p.ticker):
        market = markets.get(position.ticker)
        quote = live.get_quote(position.ticker)
        if quote is None and market is not None:
            quote = {"yes_bid": market.yes_bid, "yes_ask": market.yes_ask, "last_price": market.last_price}
        mark = pnl.mark_from_quote(quote)
        row = Row(position, market, mark, position.value_at(mark.price), position.unrealized_at(mark.price))
        row.mismatch = (
            cross_check(position, kalshi_figures.get(position.ticker))
            if check and (kalshi_figures or snapshot)
            else ""
        )
        event = market.event if market is not None else None
        key = (
            event.event_ticker
            if event is not None
            else (market.event_id if market is not None and market.event_id else position.ticker)
        )
        group = groups.get(key)
        if group is None:
            group = groups[key] = EventGroup(
                key,
                (event.title if event is not None else "") or key,
                bool(event and event.mutually_exclusive),
            )
        group.rows.append(row)
    for group in groups.values():
        if group.mutually_exclusive:
            labels = {r.ticker: r.title for r in group.rows}
            all_markets = set(
                Market.objects.filter(event_id=group.event_ticker).values_list("ticker", flat=True)
            )
            include_other = not all_markets or not all_markets <= {r.ticker for r in group.rows}
            group.payoffs = pnl.event_payoffs(
                [r.pnl for r in group.rows], labels, include_other=include_other
            )
    balance, balance_as_of = (snapshot.balance, snapshot.as_of) if snapshot else (None, None)
    age = int((at - snapshot.as_of).total_seconds()) if snapshot else None
    return PortfolioView(
        account=account,
        snapshot=snapshot,
        groups=sorted(groups.values(), key=lambda g: g.event_ticker),
        ledger=ledger,
        balance=balance,
        balance_as_of=balance_as_of,
        stale=stale,
        newer_fills=newer_fills,
        age_seconds=age,
        refreshing=stale and refresh_in_flight(account.pk),
        refreshable=account.has_key,
        at=at,
        account_wide=user is None,
    )


# ------------------------------------------------------------------------------------------ pushing

# Makes every open ticket re-read its "Position · Balance" line (static/js/live.js turns it into a body event).
BALANCE_CHANGED = '<div id="kw-signal" hx-swap-oob="true" data-event="kw:balance-changed" hidden></div>'


def render_live(view: PortfolioView, *, oob: bool = False) -> str:
    return render_to_string(
        "portfolio/portfolio.html#portfolio-live", {"view": view, "oob": oob, "stale_after": STALE_AFTER}
    )


def push(account: KalshiAccount) -> None:
    """Send each trader of this account who has a page open their own re-rendered figures (after commit); the
    portfolio's figures are rendered only for traders with a portfolio page open (markets.presence): one row
    per position, on every fill and position update of the account, in the feed process. A page opened later
    renders them itself. A staff page showing the account-wide view re-reads it on any message
    (static/js/portfolio.js)."""
    profiles = list(TraderProfile.objects.filter(account=account).select_related("user"))
    views_of = presence.open_views_of([p.user_id for p in profiles])
    watching = [(p, views_of[p.user_id]) for p in profiles]
    watching = [(p, views) for p, views in watching if views is None or views]
    if not watching:
        return
    # The account's balance in every page's top bar, and a signal for the ticket's "Position · Balance".
    shared = [
        render_to_string(
            "portfolio/_topbar_balance.html", {"balance": cached_balance(account)[0], "oob": True}
        ),
        BALANCE_CHANGED,
    ]
    for profile, views in watching:
        if views is None or "portfolio" in views:
            html = render_live(build_view(account, profile.user), oob=True)
            notify_user(profile.user_id, html, views=("portfolio",))  # only the portfolio page shows them
        notify_user(profile.user_id, shared)


def exposure_by_account() -> list[dict[str, Any]]:
    """For staff: every account's exposure and P&L from its stored fills, with its snapshot's age."""
    out = []
    snapshots = {s.account_id: s for s in PortfolioSnapshot.objects.all()}
    for account in KalshiAccount.objects.order_by("name"):
        ledger = ledger_for(account)
        snapshot = snapshots.get(account.pk)
        out.append(
            {
                "account": account,
                "positions": len(ledger.open_positions()),
                "exposure": ledger.cost,
                "realized": ledger.realized,
                "fees": ledger.fees,
                "snapshot": snapshot,
                "kalshi_exposure": sum(
                    (Decimal(r["market_exposure"]) for r in snapshot.positions.values()), ZERO
                )
                if snapshot
                else None,
            }
        )
    return out
