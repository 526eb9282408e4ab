"""A simulator whose responses and messages are also recorded on a checker of this package's own, so the
focused tests can say which operations and messages they covered without counting other tests' traffic."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from kalshiweb.simulator import testing
from kalshiweb.simulator.testing import RunningSimulator, start_simulator
from tests.simulator.simhelp import Trader, add_markets
from tests.spec.conformance import Checker, ConformanceApp

TICKERS = [f"KXSPEC-26DEC31-T{i}" for i in range(4)]
EVENT = "KXSPEC-26DEC31"


@dataclass
class SpecSim:
    sim: RunningSimulator
    checker: Checker  # only this module's simulator traffic
    alice: Trader
    bob: Trader


@pytest.fixture(scope="module")
def spec_sim() -> Iterator[SpecSim]:
    local = Checker()
    outer = testing.app_wrapper  # the suite-wide check (tests/spec/plugin.py), kept

    def wrap(app: Any) -> Any:
        return ConformanceApp(outer(app) if outer else app, local)

    testing.app_wrapper = wrap
    try:
        with start_simulator(catalog=False, rate_limit_tier=None, ping_interval=30.0) as sim:
            add_markets(sim, TICKERS, event=EVENT)
            alice, bob = Trader(sim, Decimal("1000")), Trader(sim, Decimal("1000"))
            yield SpecSim(sim, local, alice, bob)
            alice.close()
            bob.close()
    finally:
        testing.app_wrapper = outer
