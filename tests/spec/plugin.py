"""Every simulator the suite starts is checked against Kalshi's spec; a violation fails the test that caused it.

Imported by tests/conftest.py. On import it wraps each simulator that ``kalshiweb.simulator.testing``
starts in ``ConformanceApp`` (tests/spec/conformance.py). After each test, any violation recorded while the
test ran fails it at teardown, naming the operation, path, status and schema error; a violation that arrives
after its test has ended (a late WebSocket message) fails the session at the end.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from kalshiweb.simulator import testing
from tests.spec.conformance import Checker, ConformanceApp

CHECKER = Checker()


def _wrap(app: Any) -> ConformanceApp:
    return ConformanceApp(app, CHECKER)


# KALSHIWEB_SPEC_CHECK=off runs the suite without the check (to measure what it costs).
if os.environ.get("KALSHIWEB_SPEC_CHECK", "on") != "off":
    testing.app_wrapper = _wrap


@pytest.fixture(autouse=True)
def spec_conformance(request: pytest.FixtureRequest) -> Iterator[Checker]:
    """Fails this test if the simulator sent anything the spec does not allow while it ran."""
    CHECKER.current_test = request.node.nodeid
    start = len(CHECKER.violations)
    yield CHECKER
    new = CHECKER.violations[start:]
    if new:
        lines = "\n".join(f"  {v}" for v in new[:10])
        more = f"\n  ... and {len(new) - 10} more" if len(new) > 10 else ""
        pytest.fail(
            f"the simulator sent {len(new)} response(s)/message(s) that Kalshi's spec does not allow:\n"
            f"{lines}{more}",
            pytrace=False,
        )
    CHECKER.current_test = ""


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if CHECKER.responses_checked or CHECKER.messages_checked:
        print(
            f"\nKalshi spec: checked {CHECKER.responses_checked} simulator responses "
            f"({len(CHECKER.operations_seen)} operation/status pairs) and {CHECKER.messages_checked} "
            f"WebSocket messages ({len(CHECKER.messages_seen)} message kinds) in {CHECKER.seconds:.2f} s; "
            f"{len(CHECKER.violations)} violation(s)"
        )
    late = [v for v in CHECKER.violations if not v.test]
    if late:
        print("\nKalshi spec violations outside any test:")
        for v in late:
            print(f"  {v}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
