"""The order book and matching: placing, amending, decreasing and canceling orders, and the fills.

Books are bids-only (protocol §5): each market holds YES bids and NO bids, keyed by the price of the leg
bought. A V2 `bid` at YES price p is a YES bid at p; an `ask` at p is a NO bid at 1 - p. A YES bid p and a
NO bid q cross when p + q >= 1; trades execute at the resting (maker) order's price, price-time priority.

A resting order holds its collateral (remaining x own price) in `Order.reserved`, taken from the balance
when it rests and given back when it leaves the book; the taker pays at the maker's price plus the taker
fee. Positions are booked by the ledger (`Ledger.apply_position`). Every request is validated and planned
(book.py) before anything changes, so an `ExchangeError` leaves no trace.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from kalshiweb.simulator import book, fees
from kalshiweb.simulator.core import Core, ticker_state
from kalshiweb.simulator.events import BookDelta, FillEvent, OrderUpdate, PositionUpdate, TradeEvent
from kalshiweb.simulator.grid import on_grid
from kalshiweb.simulator.ledger import Ledger
from kalshiweb.simulator.model import (
    ACTIVE,
    ASK,
    BID,
    CANCELED,
    COUNT_STEP,
    EXECUTED,
    FOK,
    GTC,
    IOC,
    MAX_TRADE_HISTORY,
    ONE,
    RESTING,
    STP_TYPES,
    TIME_IN_FORCE,
    ZERO,
    Account,
    ExchangeError,
    Fill,
    Market,
    Order,
    Trade,
    as_decimal,
    from_unix,
    unix,
)


class Matcher:
    def __init__(self, core: Core, ledger: Ledger) -> None:
        self._core = core
        self._ledger = ledger
        self._emit = core.emit
        self.orders: dict[str, Order] = {}
        self._trades: list[Trade] = []  # newest first
        self._client_ids: dict[tuple[str, str], str] = {}

    # ------------------------------------------------------------------ reads

    def trades(self, ticker: str | None = None) -> list[Trade]:
        if ticker is None:
            return list(self._trades)
        return list(reversed(self._core.get_market(ticker).trade_history))

    def get_order(self, user_id: str, order_id: str) -> Order:
        o = self.orders.get(order_id)
        if o is None or o.user_id != user_id:
            raise ExchangeError(404, "not_found", f"order {order_id!r} not found")
        return o

    def find_order_by_client_id(self, user_id: str, client_order_id: str) -> Order | None:
        oid = self._client_ids.get((user_id, client_order_id))
        return self.orders.get(oid) if oid else None

    def _check_price(self, m: Market, price: object) -> Decimal:
        p = as_decimal(price, "price", "invalid_order")
        if not on_grid(p, m.price_ranges):
            raise ExchangeError(
                400,
                "invalid_order",
                f"price {p} is not a valid price for {m.ticker}",
                m.price_level_structure,
            )
        return p

    @staticmethod
    def _check_count(count: object, what: str = "count") -> Decimal:
        c = as_decimal(count, what, "invalid_order_size")
        if c <= 0 or c % COUNT_STEP != 0:
            raise ExchangeError(400, "invalid_order_size", f"{what} must be a positive multiple of 0.01")
        return c

    # ------------------------------------------------------------------ order writes

    def create_order(
        self,
        user_id: str,
        *,
        ticker: str,
        side: str,
        count: Decimal,
        price: Decimal,
        time_in_force: str,
        self_trade_prevention_type: str = "taker_at_cross",
        client_order_id: str | None = None,
        expiration_time: int | None = None,
        post_only: bool = False,
        reduce_only: bool = False,
        cancel_order_on_pause: bool = False,
        order_group_id: str | None = None,
        subaccount: int = 0,
    ) -> Order:
        if not isinstance(subaccount, int) or not 0 <= subaccount <= 63:
            raise ExchangeError(400, "invalid_parameters", "subaccount must be between 0 and 63")
        acct = self._ledger.sub_account(user_id, subaccount)
        m = self._core.get_market(ticker)
        if side not in (BID, ASK):
            raise ExchangeError(400, "invalid_parameters", "side must be 'bid' or 'ask'")
        if time_in_force not in TIME_IN_FORCE:
            raise ExchangeError(400, "invalid_parameters", f"unknown time_in_force {time_in_force!r}")
        if self_trade_prevention_type not in STP_TYPES:
            raise ExchangeError(400, "invalid_parameters", "unknown self_trade_prevention_type")
        self._core.require_active(m)
        qty = self._check_count(count)
        p = self._check_price(m, price)
        exp: datetime | None = None
        if expiration_time is not None:
            if time_in_force == IOC:
                raise ExchangeError(
                    400, "invalid_order", "Cannot specify both immediate_or_cancel and expiration_ts"
                )
            if time_in_force != GTC:
                raise ExchangeError(
                    400, "invalid_order", "expiration_time is only valid with good_till_canceled"
                )
            exp = from_unix(expiration_time)
            if exp <= self._core.now:
                raise ExchangeError(400, "invalid_order", "Expiration timestamp must be in the future")
        if reduce_only and time_in_force != IOC:
            raise ExchangeError(400, "invalid_order", "reduce_only orders must be immediate_or_cancel")
        if post_only and time_in_force != GTC:
            raise ExchangeError(400, "invalid_order", "post_only orders must be good_till_canceled")
        if client_order_id is not None and (user_id, client_order_id) in self._client_ids:
            raise ExchangeError(409, "order_already_exists", "Order with this client_order_id already exists")

        order = Order(
            order_id="",  # assigned when stored, so a rejected order leaves no trace
            user_id=user_id,
            ticker=ticker,
            book_side=side,
            yes_price=p,
            initial_count=qty,
            remaining_count=qty,
            time_in_force=time_in_force,
            created_time=self._core.now,
            last_update_time=self._core.now,
            self_trade_prevention_type=self_trade_prevention_type,
            client_order_id=client_order_id,
            expiration_time=exp,
            post_only=post_only,
            reduce_only=reduce_only,
            cancel_order_on_pause=cancel_order_on_pause,
            order_group_id=order_group_id,
            subaccount=subaccount,
        )

        if reduce_only:
            held = acct.positions.get(ticker)
            pos = held.position if held else ZERO
            cap = max(-pos, ZERO) if side == BID else max(pos, ZERO)
            if cap < qty:
                order.initial_count = order.remaining_count = cap
            if cap <= 0:
                self._store_new(acct, order)
                self._finish_canceled(order, "ReduceOnlyCancel")
                return order

        if post_only and book.would_cross(m, order):
            self._store_new(acct, order)
            self._finish_canceled(order, "PostOnlyCrossCancel")
            return order

        plan = book.plan(m, order)
        if time_in_force == FOK and (plan.left > 0 or plan.stopped):
            self._store_new(acct, order)
            self._finish_canceled(order, None)
            return order

        book.check_affordable(
            acct, m, order, plan, available=acct.balance, schedule=self._core.fee_schedule(m)
        )
        self._store_new(acct, order)
        self._execute(m, acct, order, plan)
        return order

    def _store_new(self, acct: Account, order: Order) -> None:
        order.order_id = order.order_id or self._core.new_id()
        self.orders[order.order_id] = order
        acct.orders[order.order_id] = order
        if order.client_order_id is not None:
            self._client_ids[(order.user_id, order.client_order_id)] = order.order_id

    def _finish_canceled(self, order: Order, reason: str | None) -> None:
        order.status = CANCELED
        order.remaining_count = ZERO
        order.last_update_reason = reason
        order.last_update_time = self._core.now
        self._emit(OrderUpdate(order.user_id, order))

    def cancel_order(self, user_id: str, order_id: str) -> tuple[Order, Decimal]:
        order = self.get_order(user_id, order_id)
        m = self._core.get_market(order.ticker)
        self._core.require_active(m)
        if not order.is_resting:
            raise ExchangeError(404, "not_found", f"order {order_id!r} is not resting")
        before = ticker_state(m)
        reduced = self.cancel_resting(m, order, None)
        self._core.touch(m, before)
        return order, reduced

    def cancel_all(self, user_id: str, subaccount: int = 0) -> list[Order]:
        """Cancel every resting order of one of the member's (sub)accounts (the primary by default)."""
        out: list[Order] = []
        for order in list(self._ledger.sub_account(user_id, subaccount).open_orders.values()):
            m = self._core.markets[order.ticker]
            if m.status != ACTIVE:
                continue
            before = ticker_state(m)
            self.cancel_resting(m, order, None)
            self._core.touch(m, before)
            out.append(order)
        return out

    def decrease_order(
        self,
        user_id: str,
        order_id: str,
        *,
        reduce_by: Decimal | None = None,
        reduce_to: Decimal | None = None,
    ) -> Order:
        order = self.get_order(user_id, order_id)
        m = self._core.get_market(order.ticker)
        self._core.require_active(m)
        if (reduce_by is None) == (reduce_to is None):
            raise ExchangeError(
                400, "invalid_parameters", "exactly one of reduce_by or reduce_to is required"
            )
        if not order.is_resting:
            raise ExchangeError(400, "invalid_order", "order is not resting")
        if reduce_by is not None:
            by = self._check_count(reduce_by, "reduce_by")
        else:
            to = as_decimal(reduce_to, "reduce_to", "invalid_order_size")
            if to < 0 or to % COUNT_STEP != 0:
                raise ExchangeError(
                    400, "invalid_order_size", "reduce_to must be a non-negative multiple of 0.01"
                )
            by = order.remaining_count - to
            if by <= 0:
                raise ExchangeError(400, "invalid_order_size", "reduce_to must be below the remaining count")
        by = min(by, order.remaining_count)
        before = ticker_state(m)
        if by >= order.remaining_count:
            self.cancel_resting(m, order, "Decrease")
        else:
            acct = self._ledger.for_order(order)
            order.remaining_count -= by
            release = by * order.own_price
            order.reserved -= release
            acct.balance += release
            order.last_update_reason = "Decrease"
            order.last_update_time = self._core.now
            self._emit(
                BookDelta(
                    m.ticker,
                    order.outcome_side,
                    order.own_price,
                    -by,
                    user_id,
                    order.client_order_id,
                    order.subaccount,
                )
            )
            self._emit(OrderUpdate(user_id, order))
        self._core.touch(m, before)
        return order

    def amend_order(
        self,
        user_id: str,
        order_id: str,
        *,
        ticker: str,
        side: str,
        price: Decimal,
        count: Decimal,
        updated_client_order_id: str | None = None,
        expiration_time: int | None = None,
    ) -> Order:
        order = self.get_order(user_id, order_id)
        if ticker != order.ticker:
            raise ExchangeError(400, "order_ticker_mismatch", "ticker does not match the order")
        if side != order.book_side:
            raise ExchangeError(400, "order_side_mismatch", "side does not match the order")
        m = self._core.get_market(ticker)
        self._core.require_active(m)
        if not order.is_resting:
            raise ExchangeError(400, "invalid_order", "order is not resting")
        p = self._check_price(m, price)
        total = self._check_count(count)
        if total <= order.fill_count:
            raise ExchangeError(400, "invalid_order_size", "count must exceed the filled count")
        new_remaining = total - order.fill_count
        new_exp = order.expiration_time
        if expiration_time is not None:
            new_exp = from_unix(expiration_time)
            if new_exp == datetime.fromtimestamp(0, UTC):
                new_exp = None
            else:
                if new_exp <= self._core.now:
                    raise ExchangeError(400, "invalid_order", "Expiration timestamp must be in the future")
        if updated_client_order_id is not None and updated_client_order_id != order.client_order_id:
            if (user_id, updated_client_order_id) in self._client_ids:
                raise ExchangeError(
                    409, "order_already_exists", "Order with this client_order_id already exists"
                )
        acct = self._ledger.for_order(order)
        keeps_priority = p == order.yes_price and new_remaining <= order.remaining_count

        # Dry run on a copy to validate affordability before touching anything.
        probe = Order(**{**order.__dict__, "yes_price": p, "remaining_count": new_remaining})
        plan = book.plan(m, probe) if not keeps_priority else book.Plan([], [], False, new_remaining)
        if order.post_only and not keeps_priority and book.would_cross(m, probe):
            raise ExchangeError(400, "invalid_order", "a post-only order cannot be amended to cross the book")
        book.check_affordable(
            acct, m, probe, plan, available=acct.balance + order.reserved, schedule=self._core.fee_schedule(m)
        )

        before = ticker_state(m)
        if updated_client_order_id is not None and updated_client_order_id != order.client_order_id:
            if order.client_order_id is not None:
                self._client_ids.pop((user_id, order.client_order_id), None)
            order.client_order_id = updated_client_order_id
            self._client_ids[(user_id, updated_client_order_id)] = order.order_id
        order.expiration_time = new_exp
        order.last_update_reason = "Amend"
        order.last_update_time = self._core.now
        if keeps_priority:
            by = order.remaining_count - new_remaining
            if by:
                order.remaining_count = new_remaining
                release = by * order.own_price
                order.reserved -= release
                acct.balance += release
                self._emit(
                    BookDelta(
                        m.ticker,
                        order.outcome_side,
                        order.own_price,
                        -by,
                        user_id,
                        order.client_order_id,
                        order.subaccount,
                    )
                )
            self._emit(OrderUpdate(user_id, order))
            self._core.touch(m, before)
            return order
        # Lose priority: take the order off the book, then run it again as a taker at the new terms.
        self._unrest(m, order)
        order.yes_price = p
        order.remaining_count = new_remaining
        order.time_in_force = GTC
        self._emit(OrderUpdate(user_id, order))
        self._execute(m, acct, order, book.plan(m, order), before=before)
        return order

    def _execute(
        self,
        m: Market,
        acct: Account,
        order: Order,
        plan: book.Plan,
        before: tuple[object, ...] | None = None,
    ) -> None:
        if before is None:
            before = ticker_state(m)
        for maker in plan.maker_cancels:
            self.cancel_resting(m, maker, "SelfTradeCancel")
        for maker, q in plan.fills:
            self._fill(m, order, maker, q)
        if order.remaining_count == 0:
            order.status = EXECUTED
        elif plan.stopped:
            self._finish_canceled(order, "SelfTradeCancel")
        elif order.time_in_force == GTC:
            self._rest(m, acct, order)
        else:
            order.status = CANCELED
            order.remaining_count = ZERO
            order.last_update_time = self._core.now
            self._emit(OrderUpdate(order.user_id, order))
        self._core.touch(m, before)

    def _rest(self, m: Market, acct: Account, order: Order) -> None:
        order.status = RESTING
        order.reserved = order.remaining_count * order.own_price
        acct.balance -= order.reserved
        acct.open_orders[order.order_id] = order
        m.side(order.outcome_side).setdefault(order.own_price, []).append(order)
        self._emit(
            BookDelta(
                m.ticker,
                order.outcome_side,
                order.own_price,
                order.remaining_count,
                order.user_id,
                order.client_order_id,
                order.subaccount,
            )
        )
        self._emit(OrderUpdate(order.user_id, order))

    def _unrest(self, m: Market, order: Order) -> Decimal:
        """Take a resting order off the book and release its collateral; returns the count removed."""
        book = m.side(order.outcome_side)
        queue = book.get(order.own_price, [])
        if order in queue:
            queue.remove(order)
            if not queue:
                del book[order.own_price]
        acct = self._ledger.for_order(order)
        acct.balance += order.reserved
        acct.open_orders.pop(order.order_id, None)
        order.reserved = ZERO
        removed = order.remaining_count
        if removed:
            self._emit(
                BookDelta(
                    m.ticker,
                    order.outcome_side,
                    order.own_price,
                    -removed,
                    order.user_id,
                    order.client_order_id,
                    order.subaccount,
                )
            )
        return removed

    def cancel_resting(self, m: Market, order: Order, reason: str | None) -> Decimal:
        removed = self._unrest(m, order)
        self._finish_canceled(order, reason)
        return removed

    def _fill(self, m: Market, taker: Order, maker: Order, q: Decimal) -> None:
        yes_price = maker.yes_price
        fee, maker_fee = fees.schedule_fees(*self._core.fee_schedule(m), q, yes_price)
        trade_id = self._core.new_id()
        now = self._core.now

        # Maker: collateral becomes the contract.
        maker_acct = self._ledger.for_order(maker)
        cost_m = q * maker.own_price
        maker.reserved -= cost_m
        maker.remaining_count -= q
        maker.fill_count += q
        maker.maker_fill_cost += cost_m
        maker.maker_fees += maker_fee
        maker_acct.balance -= maker_fee
        maker.last_update_reason = "Trade"
        maker.last_update_time = now
        queue = m.side(maker.outcome_side)[maker.own_price]
        if not maker.remaining_count:
            maker.status = EXECUTED
            maker_acct.open_orders.pop(maker.order_id, None)
            queue.remove(maker)
            if not queue:
                del m.side(maker.outcome_side)[maker.own_price]

        # Taker pays at the maker's price plus the taker fee.
        taker_acct = self._ledger.for_order(taker)
        cost_t = q * (yes_price if taker.book_side == BID else ONE - yes_price)
        taker_acct.balance -= cost_t + fee
        taker.remaining_count -= q
        taker.fill_count += q
        taker.taker_fill_cost += cost_t
        taker.taker_fees += fee
        taker.last_update_reason = "Trade"
        taker.last_update_time = now
        if not taker.remaining_count:
            taker.status = EXECUTED
        self._ledger.fees_collected += fee + maker_fee

        m.volume += q
        m.volume_24h += q
        m.dollar_volume += q * yes_price
        m.last_price = yes_price
        m.last_trade_size = q
        pos_m = self._ledger.apply_position(maker_acct, m, maker.outcome_side, q, maker.own_price, maker_fee)
        pos_t = self._ledger.apply_position(taker_acct, m, taker.outcome_side, q, ONE - maker.own_price, fee)

        trade = Trade(trade_id, m.ticker, yes_price, q, taker.book_side, now)
        m.trade_history.append(trade)
        self._trades.insert(0, trade)
        if len(self._trades) > MAX_TRADE_HISTORY:
            self._trades.pop()
        m.oi_history.append((unix(now), m.open_interest))
        f_m = Fill(
            trade_id, trade_id, maker.order_id, maker.user_id, m.ticker, maker.book_side, False, yes_price, q,
            maker_fee, now, pos_m.position, maker.client_order_id, maker.subaccount,
        )  # fmt: skip
        f_t = Fill(
            trade_id, trade_id, taker.order_id, taker.user_id, m.ticker, taker.book_side, True, yes_price, q,
            fee, now, pos_t.position, taker.client_order_id, taker.subaccount,
        )  # fmt: skip
        maker_acct.fills.insert(0, f_m)
        taker_acct.fills.insert(0, f_t)

        self._emit(
            BookDelta(
                m.ticker,
                maker.outcome_side,
                maker.own_price,
                -q,
                maker.user_id,
                maker.client_order_id,
                maker.subaccount,
            )
        )
        for acct, f, o in ((maker_acct, f_m, maker), (taker_acct, f_t, taker)):
            acct.updated = now
            self._emit(FillEvent(acct.user_id, f, o))
            self._emit(OrderUpdate(acct.user_id, o))
            self._emit(PositionUpdate(acct.user_id, m.ticker, acct.subaccount))
        self._emit(TradeEvent(trade))

    def expire_orders(self) -> None:
        for order in [
            o
            for a in self._ledger.accounts.values()
            for o in a.open_orders.values()
            if o.expiration_time and o.expiration_time <= self._core.now
        ]:
            m = self._core.markets[order.ticker]
            before = ticker_state(m)
            self.cancel_resting(m, order, "ExpiryCancel")
            self._core.touch(m, before)

    def check_invariants(self) -> None:
        """No crossed book, no empty price level, and every resting order reserves remaining x price."""
        for m in self._core.markets.values():
            if m.yes_book and m.no_book:
                assert max(m.yes_book) + max(m.no_book) < ONE, (m.ticker, max(m.yes_book), max(m.no_book))
            for side in (m.yes_book, m.no_book):
                for price, queue in side.items():
                    assert queue, (m.ticker, price)
                    for o in queue:
                        assert o.is_resting and o.remaining_count > 0
                        assert o.reserved == o.remaining_count * o.own_price
