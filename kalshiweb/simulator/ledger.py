"""Accounts, positions and settlement: who holds what, and the money that moves when a market settles.

The order book moves cash for collateral and fills (matching.py); this module owns the accounts those
moves act on, keeps each position's cost basis and P&L (`apply_position`), and pays out winning contracts.
"""

from __future__ import annotations

from decimal import Decimal

from kalshiweb.simulator.core import Core
from kalshiweb.simulator.events import PositionUpdate
from kalshiweb.simulator.model import (
    ONE,
    ZERO,
    Account,
    ExchangeError,
    Market,
    Order,
    Position,
    Settlement,
    unix,
)

MAX_SUBACCOUNT = 63


def account_key(user_id: str, subaccount: int = 0) -> str:
    """The ledger's key of a member's account: the member's id for the primary (0), `id#n` for subaccount n."""
    return user_id if not subaccount else f"{user_id}#{subaccount}"


class Ledger:
    def __init__(self, core: Core, default_balance: Decimal) -> None:
        self._core = core
        self.default_balance = default_balance
        self.accounts: dict[str, Account] = {}
        self.fees_collected: Decimal = ZERO

    def add_account(self, user_id: str, balance: Decimal | None = None) -> Account:
        if user_id in self.accounts:
            return self.accounts[user_id]
        bal = self.default_balance if balance is None else Decimal(balance)
        acct = Account(
            user_id=user_id, balance=bal, deposited=bal, updated=self._core.now, markets=self._core.markets
        )
        self.accounts[user_id] = acct
        return acct

    def account(self, user_id: str) -> Account:
        try:
            return self.accounts[user_id]
        except KeyError:
            raise ExchangeError(404, "not_found", f"unknown account {user_id!r}") from None

    def sub_account(self, user_id: str, subaccount: int) -> Account:
        """The member's account number `subaccount` (0 = primary); 400 when it was never created."""
        if not subaccount:
            return self.account(user_id)
        self.account(user_id)
        acct = self.accounts.get(account_key(user_id, subaccount))
        if acct is None:
            raise ExchangeError(400, "invalid_parameters", f"subaccount {subaccount} does not exist")
        return acct

    def member_accounts(self, user_id: str) -> list[Account]:
        """The member's primary account and its subaccounts, by number."""
        primary = self.account(user_id)
        subs = [a for a in self.accounts.values() if a.user_id == user_id and a.subaccount]
        return [primary, *sorted(subs, key=lambda a: a.subaccount)]

    def add_subaccount(self, user_id: str, subaccount: int) -> Account:
        self.account(user_id)
        acct = Account(
            user_id=user_id,
            balance=ZERO,
            deposited=ZERO,
            updated=self._core.now,
            markets=self._core.markets,
            subaccount=subaccount,
        )
        self.accounts[account_key(user_id, subaccount)] = acct
        return acct

    def for_order(self, order: Order) -> Account:
        """The account an order trades for (its member's subaccount)."""
        return self.accounts[account_key(order.user_id, order.subaccount)]

    def deposit(self, user_id: str, amount: Decimal) -> None:
        acct = self.account(user_id)
        acct.balance += amount
        acct.deposited += amount

    def position(self, user_id: str, ticker: str, subaccount: int = 0) -> Position:
        acct = self.sub_account(user_id, subaccount)
        pos = acct.positions.get(ticker)
        if pos is None:
            m = self._core.get_market(ticker)
            pos = Position(
                user_id=user_id, ticker=ticker, event_ticker=m.event_ticker, last_updated=self._core.now
            )
            acct.positions[ticker] = pos
        return pos

    def portfolio_value(self, user_id: str) -> Decimal:
        return self.account(user_id).portfolio_value

    @property
    def open_contracts(self) -> Decimal:
        return sum((m.open_interest for m in self._core.markets.values()), ZERO)

    def apply_position(
        self, acct: Account, m: Market, outcome: str, q: Decimal, price: Decimal, fee: Decimal
    ) -> Position:
        """Book `q` contracts of `outcome` bought at `price` (plus `fee`) into `acct`'s position in `m`.

        Buying the leg opposite to what is held nets the pair out: $1 per pair goes back to the balance.
        """
        pos = acct.positions.get(m.ticker)
        if pos is None:
            pos = Position(acct.user_id, m.ticker, m.event_ticker)
            acct.positions[m.ticker] = pos
        old = pos.position
        held = -old if outcome == "yes" else old  # contracts of the opposite leg we hold
        close = min(q, max(held, ZERO))
        if close:
            avg = pos.cost / held
            basis = avg * close
            fee_basis = pos.position_fee_cost * close / held
            pos.cost -= basis
            pos.position_fee_cost -= fee_basis
            pos.realized_pnl += close * (ONE - price) - basis
            acct.balance += close  # a YES+NO pair is worth exactly $1
        opened = q - close
        if opened:
            pos.cost += opened * price
        pos.position_fee_cost += fee * opened / q
        pos.position = old + q if outcome == "yes" else old - q
        if not pos.position:
            pos.cost = ZERO
            pos.position_fee_cost = ZERO
        pos.fees_paid += fee
        pos.total_traded += q * price
        pos.volume += q
        pos.last_updated = self._core.now
        pos.settled = False
        m.open_interest += max(pos.position, ZERO) - max(old, ZERO)
        return pos

    def pay_out(self, m: Market) -> None:
        """Settle every account's position in the determined market `m` at its result."""
        now = self._core.now
        value = 100 if m.result == "yes" else 0
        for acct in self.accounts.values():
            pos = acct.positions.get(m.ticker)
            if pos is None or pos.settled:
                continue
            yes_count = max(pos.position, ZERO)
            no_count = max(-pos.position, ZERO)
            payout = yes_count if m.result == "yes" else no_count
            acct.balance += payout
            s = Settlement(
                user_id=acct.user_id,
                ticker=m.ticker,
                event_ticker=m.event_ticker,
                market_result=m.result,
                yes_count=yes_count,
                yes_total_cost=pos.cost if yes_count else ZERO,
                no_count=no_count,
                no_total_cost=pos.cost if no_count else ZERO,
                revenue=payout,
                settled_time=now,
                fee_cost=pos.fees_paid,
                value=value,
            )
            acct.settlements.insert(0, s)
            pos.realized_pnl += payout - pos.cost
            pos.position = ZERO
            pos.cost = ZERO
            pos.position_fee_cost = ZERO
            pos.settled = True
            pos.last_updated = now
            acct.updated = now
            self._core.emit(PositionUpdate(acct.user_id, m.ticker, acct.subaccount))
        m.open_interest = ZERO
        m.oi_history.append((unix(now), ZERO))

    def check_invariants(self) -> None:
        """The money and contracts add up (see engine.py's module doc)."""
        accounts = self.accounts.values()
        cash = sum((a.balance + a.reserved for a in accounts), ZERO)
        deposits = sum((a.deposited for a in accounts), ZERO)
        assert cash + self.open_contracts + self.fees_collected == deposits, (
            cash,
            self.open_contracts,
            deposits,
        )
        for a in accounts:
            assert a.balance >= 0, (a.user_id, a.subaccount, a.balance)
            assert set(a.open_orders) == {oid for oid, o in a.orders.items() if o.is_resting}, a.user_id
            assert all(o.subaccount == a.subaccount for o in a.orders.values()), (a.user_id, a.subaccount)
        for m in self._core.markets.values():
            longs = sum(
                (
                    a.positions[m.ticker].position
                    for a in accounts
                    if m.ticker in a.positions and a.positions[m.ticker].position > 0
                ),
                ZERO,
            )
            shorts = sum(
                (
                    -a.positions[m.ticker].position
                    for a in accounts
                    if m.ticker in a.positions and a.positions[m.ticker].position < 0
                ),
                ZERO,
            )
            assert longs == shorts == m.open_interest, (m.ticker, longs, shorts, m.open_interest)
