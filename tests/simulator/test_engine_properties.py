"""Property tests: random order flows keep the book uncrossed, the contracts paired and the money whole."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal as D

from hypothesis import HealthCheck, event, given, settings, target
from hypothesis import strategies as st

from kalshiweb.simulator.engine import BookDelta, Exchange, ExchangeError
from kalshiweb.simulator.grid import ranges_for
from tests.simulator.test_engine import T, make_exchange

USERS = ("alice", "bob", "charlie", "dave")
TIFS = ("good_till_canceled", "good_till_canceled", "immediate_or_cancel", "fill_or_kill")

# Prices cluster around the middle so that orders cross often; sometimes anywhere on the grid.
prices = st.one_of(st.integers(40, 60), st.integers(40, 60), st.integers(1, 99))
order_action = st.tuples(
    st.just("order"),
    st.sampled_from(USERS),
    st.sampled_from(("bid", "ask")),
    prices,  # in cents
    st.integers(1, 2000),  # count in hundredths
    st.sampled_from(TIFS),
    st.sampled_from(("taker_at_cross", "maker")),
    st.booleans(),  # post_only
    st.booleans(),  # reduce_only
)
cancel_action = st.tuples(st.just("cancel"), st.sampled_from(USERS), st.integers(0, 50))
decrease_action = st.tuples(
    st.just("decrease"), st.sampled_from(USERS), st.integers(0, 50), st.integers(1, 500)
)
amend_action = st.tuples(
    st.just("amend"), st.sampled_from(USERS), st.integers(0, 50), prices, st.integers(1, 2000)
)
actions = st.lists(
    st.one_of(order_action, order_action, order_action, cancel_action, decrease_action, amend_action),
    min_size=1,
    max_size=60,
)


def snapshot(ex: Exchange) -> object:
    return (
        {u: (a.balance, a.reserved, len(a.orders), len(a.fills)) for u, a in ex.accounts.items()},
        ex.book(T),
        ex.fees_collected,
        len(ex.trades()),
    )


def run_flow(ex: Exchange, flow: list[tuple], tick: D) -> list[BookDelta]:
    deltas: list[BookDelta] = []
    ex.add_listener(lambda e: deltas.append(e) if isinstance(e, BookDelta) else None)
    for action in flow:
        kind, user = action[0], action[1]
        acct = ex.account(user)
        own = [o for o in acct.orders.values()]
        before = snapshot(ex)
        try:
            if kind == "order":
                _, _, side, p, c, tif, stp, post_only, reduce_only = action
                ex.create_order(
                    user, ticker=T, side=side, count=D(c) / 100, price=D(p) * tick, time_in_force=tif,
                    self_trade_prevention_type=stp,
                    post_only=post_only and tif == "good_till_canceled",
                    reduce_only=reduce_only and tif == "immediate_or_cancel",
                )  # fmt: skip
            elif not own:
                continue
            elif kind == "cancel":
                ex.cancel_order(user, own[action[2] % len(own)].order_id)
            elif kind == "decrease":
                ex.decrease_order(user, own[action[2] % len(own)].order_id, reduce_by=D(action[3]) / 100)
            elif kind == "amend":
                o = own[action[2] % len(own)]
                ex.amend_order(
                    user, o.order_id, ticker=T, side=o.book_side, price=D(action[3]) * tick,
                    count=o.fill_count + D(action[4]) / 100,
                )  # fmt: skip
        except ExchangeError:
            assert snapshot(ex) == before, "a rejected request changed the exchange"
        ex.check_invariants()
    return deltas


def make(deci: bool) -> tuple[Exchange, D]:
    if deci:
        ex = make_exchange(price_level_structure="deci_cent", price_ranges=ranges_for("deci_cent"))
        tick = D("0.01")  # prices p x 0.01 plus a sub-penny offset below
    else:
        ex = make_exchange()
        tick = D("0.01")
    ex.add_account("dave", D("25"))  # a small account, so balance rejections happen
    return ex, tick


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flow=actions, deci=st.booleans(), result=st.sampled_from(("yes", "no")))
def test_random_flows_keep_the_book_uncrossed_and_conserve_contracts_and_money(
    flow: list[tuple], deci: bool, result: str
) -> None:
    ex, tick = make(deci)
    run_flow(ex, flow, tick)
    trades = len(ex.trades())
    target(float(trades))
    event(f"trades: {'none' if not trades else 'few' if trades < 5 else 'many'}")
    m = ex.get_market(T)
    longs = sum(
        (
            a.positions[T].position
            for a in ex.accounts.values()
            if T in a.positions and a.positions[T].position > 0
        ),
        D(0),
    )
    shorts = sum(
        (
            -a.positions[T].position
            for a in ex.accounts.values()
            if T in a.positions and a.positions[T].position < 0
        ),
        D(0),
    )
    assert longs == shorts == m.open_interest
    total_before = sum((a.deposited for a in ex.accounts.values()), D(0))
    ex.settle_market(T, result)
    ex.check_invariants()
    cash = sum((a.balance for a in ex.accounts.values()), D(0))
    # After settlement every contract is paid out and every resting order released: only fees are gone.
    assert cash + ex.fees_collected == total_before
    assert all(a.reserved == 0 for a in ex.accounts.values())


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flow=actions)
def test_a_book_rebuilt_from_a_snapshot_and_deltas_equals_the_book(flow: list[tuple]) -> None:
    ex, tick = make(False)
    # Start from a non-empty book so the snapshot matters.
    ex.create_order(
        "charlie", ticker=T, side="bid", count=D("5"), price=D("0.20"), time_in_force="good_till_canceled"
    )
    ex.create_order(
        "charlie", ticker=T, side="ask", count=D("5"), price=D("0.80"), time_in_force="good_till_canceled"
    )
    yes0, no0 = ex.book(T)
    deltas = run_flow(ex, flow, tick)
    books: dict[str, dict[D, D]] = {"yes": defaultdict(D), "no": defaultdict(D)}
    for p, c in yes0:
        books["yes"][p] += c
    for p, c in no0:
        books["no"][p] += c
    for d in deltas:
        assert d.ticker == T and d.delta != 0
        books[d.side][d.price] += d.delta
        assert books[d.side][d.price] >= 0
    rebuilt = tuple(sorted((p, c) for p, c in books[s].items() if c) for s in ("yes", "no"))
    assert rebuilt == ex.book(T)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flow=actions, offset=st.integers(0, 9))
def test_sub_penny_flows_keep_the_invariants(flow: list[tuple], offset: int) -> None:
    ex = make_exchange(price_level_structure="deci_cent", price_ranges=ranges_for("deci_cent"))
    ex.add_account("dave", D("25"))
    ex.create_order(
        "alice",
        ticker=T,
        side="bid",
        count=D("3"),
        price=D("0.40") + D(offset) / 1000,
        time_in_force="good_till_canceled",
    )
    run_flow(ex, flow, D("0.01"))
    ex.check_invariants()


def test_a_long_random_flow_keeps_the_invariants_and_trades_a_lot() -> None:
    import random

    rng = random.Random(1234)
    ex = make_exchange(price_level_structure="deci_cent", price_ranges=ranges_for("deci_cent"))
    ex.add_account("dave", D("25"))
    flow: list[tuple] = []
    for _ in range(1500):
        r = rng.random()
        user = rng.choice(USERS)
        if r < 0.7:
            flow.append(
                (
                    "order",
                    user,
                    rng.choice(("bid", "ask")),
                    rng.randint(400, 600) / 10,
                    rng.randint(1, 2000),
                    rng.choice(TIFS),
                    rng.choice(("taker_at_cross", "maker")),
                    rng.random() < 0.1,
                    rng.random() < 0.1,
                )
            )
        elif r < 0.8:
            flow.append(("cancel", user, rng.randint(0, 500)))
        elif r < 0.9:
            flow.append(("decrease", user, rng.randint(0, 500), rng.randint(1, 500)))
        else:
            flow.append(
                ("amend", user, rng.randint(0, 500), rng.randint(400, 600) / 10, rng.randint(1, 2000))
            )
    flow = [(*a[:3], D(str(a[3])), *a[4:]) if a[0] == "order" else a for a in flow]
    flow = [(*a[:3], D(str(a[3])), a[4]) if a[0] == "amend" else a for a in flow]
    run_flow(ex, flow, D("0.01"))
    assert len(ex.trades()) > 300
    assert any(t.yes_price % D("0.01") for t in ex.trades())  # sub-penny trades happened
    ex.settle_market(T, "yes")
    ex.check_invariants()
