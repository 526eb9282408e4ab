"""First contact with an exchange: kalshi_check's diagnosis against the simulator over real loopback HTTP,
with the faults a new user meets (unreachable host, refused key, wrong key file, skewed clock, read-only key)."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from kalshiweb.kalshi.auth import KalshiSigner
from kalshiweb.kalshi.diagnose import Check, diagnose
from kalshiweb.simulator.auth import generate_rsa_key_pair
from kalshiweb.simulator.testing import RunningSimulator, start_simulator


@pytest.fixture(scope="module")
def sim() -> Iterator[RunningSimulator]:
    with start_simulator(seed=1, activity=0.0, rate_limit_tier="basic") as running:
        yield running


@pytest.fixture(autouse=True)
def clean_faults(sim: RunningSimulator) -> Iterator[None]:
    sim.faults.reset()
    yield
    sim.faults.reset()


def run(base: str, signer: KalshiSigner | None) -> dict[str, Check]:
    checks = asyncio.run(diagnose(base, signer=signer, step_timeout=3))
    return {c.name: c for c in checks}


def signer_for(sim: RunningSimulator, **kw) -> KalshiSigner:
    key_id, pem = sim.add_account(Decimal("1000"), **kw)
    return KalshiSigner.from_pem(key_id, pem)


def test_a_healthy_key_passes_every_check(sim):
    checks = run(sim.rest_base, signer_for(sim))
    assert list(checks) == ["dns", "connect", "clock", "key", "write", "limits"]
    assert {c.status for c in checks.values()} == {"ok"}, [c.line() for c in checks.values()]
    assert "rate tier basic" in checks["limits"].detail
    assert "scopes: read, write" in checks["write"].detail


def test_without_a_key_the_key_checks_are_skipped(sim):
    checks = run(sim.rest_base, None)
    assert checks["connect"].status == "ok"
    assert [checks[n].status for n in ("key", "write", "limits")] == ["skip"] * 3


def test_a_host_that_does_not_resolve_says_dns_failed():
    checks = run("https://no-such-exchange.invalid/trade-api/v2", None)
    assert checks["dns"].status == "fail"
    assert "DNS lookup of no-such-exchange.invalid failed" in checks["dns"].detail
    assert checks["connect"].status == "skip"


def test_a_port_nothing_listens_on_says_unreachable():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    checks = run(f"http://127.0.0.1:{port}/trade-api/v2", None)
    assert checks["connect"].status == "fail"
    assert "Exchange unreachable" in checks["connect"].detail


def test_an_unknown_key_id_is_refused_with_the_environment_hint(sim):
    pem, _ = generate_rsa_key_pair()
    checks = run(sim.rest_base, KalshiSigner.from_pem(str(uuid.uuid4()), pem))
    key = checks["key"]
    assert key.status == "fail"
    assert "refused" in key.detail and "401" in key.detail and "INCORRECT_API_KEY" in key.detail
    assert "KALSHI_API_KEY_ID" in key.fix and "environment" in key.fix
    assert checks["write"].status == "skip"


def test_a_private_key_of_another_key_id_names_the_key_file(sim):
    key_id, _ = sim.add_account(Decimal("10"))
    other_pem, _ = generate_rsa_key_pair()
    key = run(sim.rest_base, KalshiSigner.from_pem(key_id, other_pem))["key"]
    assert key.status == "fail" and "SIGNATURE" in key.detail
    assert "private key" in key.fix


def test_a_clock_minutes_off_is_named_and_explains_the_refused_key(sim):
    signer = signer_for(sim)
    sim.faults.clock_skew(-240)  # the exchange is 4 min behind: this machine is 4 min ahead
    checks = run(sim.rest_base, signer)
    assert checks["clock"].status == "fail"
    assert checks["clock"].detail.startswith("Clock 4 min off: this machine is ahead of the exchange")
    assert "signatures will fail" in checks["clock"].detail
    assert checks["key"].status == "fail" and "clock" in checks["key"].fix


def test_a_few_seconds_of_skew_is_a_warning_not_a_failure(sim):
    signer = signer_for(sim)
    sim.faults.clock_skew(6)
    checks = run(sim.rest_base, signer)
    assert checks["clock"].status == "warn"
    assert checks["key"].status == "ok"


def test_a_read_only_key_is_reported_before_an_order_is_refused(sim):
    signer = signer_for(sim, scopes=("read",))
    checks = run(sim.rest_base, signer)
    assert checks["key"].status == "ok"
    assert checks["write"].status == "fail" and "read-only" in checks["write"].detail
    # …and the simulator refuses that key's writes as Kalshi does (403), while reads work.
    path = "/trade-api/v2/portfolio/events/orders"
    response = httpx.delete(
        sim.rest_base + "/portfolio/events/orders", headers=signer.headers("DELETE", path)
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
