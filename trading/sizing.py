"""Sizing from the trader's own probability: the edge against the book, the Kelly fraction and the size.

A YES contract bought at the ask `a` (plus the taker fee per contract) pays $1 with the trader's probability p:
the edge is p − cost and the Kelly fraction of the bankroll is (p − cost) / (1 − cost). A NO contract is the same
with 1 − p against the NO ask (1 − the YES bid). The panel suggests the side with the positive edge, a fraction
of Kelly (the trader's setting, half Kelly by default) and whole contracts for the available balance. Decimal
throughout; nothing here sends an order (the button only fills the ticket in the browser).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_http_methods

from kalshiweb.http import TraderRequest
from trading import services
from trading.balance import get_balance
from trading.brackets_models import SizingSetting
from trading.preview import TAKER_FEE_RATE, taker_fee
from trading.views import TICKET_MARKETS, live_state

ONE = Decimal(1)
HUNDRED = Decimal(100)
DEFAULT_MULTIPLIER = Decimal("0.50")
MAX_MULTIPLIER = Decimal("1.00")


class SizingError(ValueError):
    """A bad input; the message is shown to the trader next to the field."""


@dataclass(frozen=True)
class Sizing:
    side: str  # "yes" or "no": the side to buy; "" when neither has an edge
    price: Decimal | None  # its ask
    cost: Decimal | None  # the ask plus the taker fee per contract
    edge: Decimal  # probability − cost, per contract in dollars (negative: no edge on either side)
    kelly: Decimal  # the full Kelly fraction of the balance (0 when there is no edge)
    multiplier: Decimal
    fraction: Decimal  # kelly × multiplier
    stake: Decimal | None  # dollars, given a balance
    contracts: Decimal  # whole contracts
    fee: Decimal  # the taker fee of those contracts
    yes_edge: Decimal | None
    no_edge: Decimal | None

    @staticmethod
    def _pct(value: Decimal | None) -> str:
        return "—" if value is None else f"{(value * HUNDRED).quantize(Decimal('0.1')):f}%"

    @staticmethod
    def _cents(value: Decimal | None) -> str:
        return "—" if value is None else f"{(value * HUNDRED).quantize(Decimal('0.1')):+f}¢"

    @property
    def edge_display(self) -> str:
        return self._cents(self.edge)

    @property
    def yes_edge_display(self) -> str:
        return self._cents(self.yes_edge)

    @property
    def no_edge_display(self) -> str:
        return self._cents(self.no_edge)

    @property
    def kelly_display(self) -> str:
        return self._pct(self.kelly)

    @property
    def fraction_display(self) -> str:
        return self._pct(self.fraction)

    @property
    def price_cents(self) -> str:
        return "" if self.price is None else f"{(self.price * HUNDRED).normalize():f}"


def parse_probability(raw: str) -> Decimal:
    """ "63", "63%", "63.5 %" → 0.63…: a percentage strictly between 0 and 100."""
    text = (raw or "").strip().rstrip("%").strip()
    if not text:
        raise SizingError("Type your probability that YES wins, e.g. 63 for 63%.")
    if not text.isascii() or not all(ch.isdigit() or ch == "." for ch in text):
        raise SizingError("Type a percentage with digits only, e.g. 63 or 63.5.")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise SizingError("Type a percentage with digits only, e.g. 63 or 63.5.") from None
    if not 0 < value < 100:
        raise SizingError("The probability must be between 0% and 100% (exclusive).")
    return value / HUNDRED


def parse_multiplier(raw: str | None, default: Decimal) -> Decimal:
    text = (raw or "").strip()
    if not text:
        return default
    try:
        value = Decimal(text) if text.isascii() else Decimal("NaN")
    except InvalidOperation:
        value = Decimal("NaN")
    if value.is_nan() or not 0 < value <= MAX_MULTIPLIER:
        raise SizingError("The Kelly fraction must be more than 0 and at most 1 (1 = full Kelly).")
    return value.quantize(Decimal("0.01"))


def fee_per_contract(price: Decimal) -> Decimal:
    return TAKER_FEE_RATE * price * (ONE - price)


def _kelly(p: Decimal, cost: Decimal) -> Decimal:
    if cost >= ONE or p <= cost:
        return Decimal(0)
    return (p - cost) / (ONE - cost)


def size(
    p_yes: Decimal,
    *,
    yes_bid: Decimal | None,
    yes_ask: Decimal | None,
    balance: Decimal | None,
    multiplier: Decimal = DEFAULT_MULTIPLIER,
) -> Sizing:
    """The suggestion for a trader who thinks YES wins with probability `p_yes`, against this book."""
    options: list[tuple[Decimal, str, Decimal, Decimal]] = []  # (edge, side, ask, cost)
    yes_edge = no_edge = None
    if yes_ask is not None and 0 < yes_ask < 1:
        cost = yes_ask + fee_per_contract(yes_ask)
        yes_edge = p_yes - cost
        options.append((yes_edge, "yes", yes_ask, cost))
    if yes_bid is not None and 0 < yes_bid < 1:
        no_ask = ONE - yes_bid
        cost = no_ask + fee_per_contract(no_ask)
        no_edge = (ONE - p_yes) - cost
        options.append((no_edge, "no", no_ask, cost))
    zero = Decimal(0)
    if not options:
        return Sizing("", None, None, zero, zero, multiplier, zero, None, zero, zero, None, None)
    edge, side, ask, cost = max(options, key=lambda o: o[0])
    if edge <= 0:
        return Sizing("", ask, cost, edge, zero, multiplier, zero, None, zero, zero, yes_edge, no_edge)
    kelly = _kelly(p_yes if side == "yes" else ONE - p_yes, cost)
    fraction = kelly * multiplier
    stake = contracts = fee = None
    if balance is not None and balance > 0:
        stake = (balance * fraction).quantize(Decimal("0.01"), rounding=ROUND_FLOOR)
        contracts = (stake / cost).to_integral_value(rounding=ROUND_FLOOR)
        # The fee is rounded up to the cent on the whole order: never suggest more than the stake buys.
        while contracts > 0 and contracts * ask + taker_fee(contracts, ask) > stake:
            contracts -= 1
        fee = taker_fee(contracts, ask)
    return Sizing(
        side,
        ask,
        cost,
        edge,
        kelly,
        multiplier,
        fraction,
        stake,
        contracts if contracts is not None else zero,
        fee if fee is not None else zero,
        yes_edge,
        no_edge,
    )


def _decimal(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def saved_multiplier(user: Any) -> Decimal:
    setting = SizingSetting.objects.filter(user=user).first()
    return setting.kelly_multiplier if setting else DEFAULT_MULTIPLIER


@require_http_methods(["GET", "POST"])
@login_required
def sizing(request: TraderRequest, ticker: str) -> HttpResponse:
    """GET without a probability: the panel. GET/POST with one: the result (POST with `save` also stores the
    Kelly fraction as the trader's setting)."""
    market = get_object_or_404(TICKET_MARKETS, ticker=ticker)
    params = request.POST if request.method == "POST" else request.GET
    default = saved_multiplier(request.user)
    if request.method == "GET" and "p" not in params:
        return render(request, "trading/_sizing_form.html", {"market": market, "multiplier": default})
    context: dict[str, Any] = {"market": market}
    status = 200
    try:
        p_yes = parse_probability(params.get("p", ""))
        multiplier = parse_multiplier(params.get("kelly"), default)
    except SizingError as exc:
        context["error"] = str(exc)
        status = 200 if request.htmx else 400
        return render(request, "trading/_sizing_result.html", context, status=status)
    if request.method == "POST" and params.get("save"):
        SizingSetting.objects.update_or_create(user=request.user, defaults={"kelly_multiplier": multiplier})
        context["saved"] = True
    state = live_state(request, market)
    quote = state.quote or {}
    profile = services.trader_profile(request.user)
    account = profile.account if profile else None
    balance = get_balance(account, cached=state.cached_balance) if account else None
    context["sizing"] = size(
        p_yes,
        yes_bid=_decimal(quote.get("yes_bid")),
        yes_ask=_decimal(quote.get("yes_ask")),
        balance=balance,
        multiplier=multiplier,
    )
    context["p"], context["balance"] = p_yes, balance
    s = context["sizing"]
    # The size at the best price (YES at the ask; NO at 1 − the YES bid, the bid's size): more than that would
    # pay worse prices than the edge was figured at.
    available = _decimal(quote.get("yes_ask_size" if s.side == "yes" else "yes_bid_size"))
    if s.side and available is not None and s.contracts > available:
        context["available"] = available
    return render(request, "trading/_sizing_result.html", context, status=status)
