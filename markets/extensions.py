"""Where the apps above `markets` plug into it. They register in their AppConfig.ready(); markets imports none
of them (the layers in .importlinter)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from kalshiweb.http import TraderRequest
from markets.models import Market

# Adds to the full market page's context (the trading app: the order ticket, the trader's orders and fills).
MarketPagePanel = Callable[[TraderRequest, Market], dict[str, Any]]
# Makes a coroutine function the feed runs while it leads (the trading app: the accounts' private streams).
LeaderTaskFactory = Callable[[], Callable[[], Coroutine[Any, Any, None]]]

# The trader's net YES contracts (negative: NO) per market, for the tickers asked (the trading app: their fills).
PositionsOf = Callable[[Any, list[str]], dict[str, Any]]

_market_page_panels: dict[str, MarketPagePanel] = {}
_positions_of: list[PositionsOf] = []
_feed_leader_tasks: dict[str, LeaderTaskFactory] = {}


def add_market_page_panel(name: str, panel: MarketPagePanel) -> None:
    _market_page_panels[name] = panel


def market_page_panels(request: TraderRequest, market: Market) -> dict[str, Any]:
    context: dict[str, Any] = {}
    for panel in _market_page_panels.values():
        context.update(panel(request, market))
    return context


def set_positions_provider(provider: PositionsOf) -> None:
    _positions_of[:] = [provider]


def positions_of(user: Any, tickers: list[str]) -> dict[str, Any]:
    """{ticker: net YES contracts} of the trader's holdings among `tickers` ({} when no app provides them)."""
    return _positions_of[0](user, tickers) if _positions_of and tickers else {}


def add_feed_leader_task(name: str, factory: LeaderTaskFactory) -> None:
    _feed_leader_tasks[name] = factory


def feed_leader_tasks() -> list[Callable[[], Coroutine[Any, Any, None]]]:
    return [factory() for factory in _feed_leader_tasks.values()]
