"""Request signing exactly as Kalshi checks it, over real loopback HTTP and WebSocket."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator

import httpx
import pytest
import websockets
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding

from kalshiweb.simulator.testing import RunningSimulator, start_simulator

from .simhelp import API, WS_PATH, Trader, add_markets, recv, send, sign_headers

BALANCE = API + "/portfolio/balance"


@pytest.fixture(scope="module")
def sim() -> Iterator[RunningSimulator]:
    with start_simulator(catalog=False, rate_limit_tier=None, timestamp_window_s=30) as running:
        add_markets(running)
        yield running


@pytest.fixture(scope="module")
def alice(sim: RunningSimulator) -> Iterator[Trader]:
    trader = Trader(sim)
    yield trader
    trader.close()


def get(sim: RunningSimulator, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.get(f"http://{sim.host}:{sim.port}{path}", headers=headers, timeout=5)


def assert_auth_error(response: httpx.Response) -> None:
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "authentication_error"
    assert error["message"] == "authentication_error"
    assert isinstance(error["details"], str) and error["details"]


def test_it_accepts_rsa_pss(sim: RunningSimulator, alice: Trader) -> None:
    response = get(sim, BALANCE, sign_headers(alice.key_id, alice.private_pem, "GET", BALANCE))
    assert response.status_code == 200
    assert isinstance(response.json()["balance"], int)


def test_it_accepts_ed25519(sim: RunningSimulator) -> None:
    private = ed25519.Ed25519PrivateKey.generate()
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    key_id = sim.add_public_key(public_pem)
    response = get(sim, BALANCE, sign_headers(key_id, private_pem, "GET", BALANCE))
    assert response.status_code == 200


def test_it_rejects_max_salt_length(sim: RunningSimulator, alice: Trader) -> None:
    headers = sign_headers(
        alice.key_id, alice.private_pem, "GET", BALANCE, salt_length=padding.PSS.MAX_LENGTH
    )
    assert_auth_error(get(sim, BALANCE, headers))


def test_it_rejects_a_signature_for_another_path(sim: RunningSimulator, alice: Trader) -> None:
    headers = sign_headers(alice.key_id, alice.private_pem, "GET", API + "/portfolio/positions")
    assert_auth_error(get(sim, BALANCE, headers))


def test_it_rejects_a_path_without_the_prefix(sim: RunningSimulator, alice: Trader) -> None:
    headers = sign_headers(alice.key_id, alice.private_pem, "GET", "/portfolio/balance")
    assert_auth_error(get(sim, BALANCE, headers))


def test_it_rejects_the_query_string_in_the_signed_path(sim: RunningSimulator, alice: Trader) -> None:
    path = API + "/portfolio/orders?limit=5"
    assert_auth_error(get(sim, path, sign_headers(alice.key_id, alice.private_pem, "GET", path)))
    ok = sign_headers(alice.key_id, alice.private_pem, "GET", API + "/portfolio/orders")
    assert get(sim, path, ok).status_code == 200


def test_it_rejects_a_stale_timestamp(sim: RunningSimulator, alice: Trader) -> None:
    stale = int(time.time() * 1000) - 31_000
    assert_auth_error(
        get(sim, BALANCE, sign_headers(alice.key_id, alice.private_pem, "GET", BALANCE, ts_ms=stale))
    )
    future = int(time.time() * 1000) + 31_000
    assert_auth_error(
        get(sim, BALANCE, sign_headers(alice.key_id, alice.private_pem, "GET", BALANCE, ts_ms=future))
    )


def test_it_rejects_an_unknown_key(sim: RunningSimulator, alice: Trader) -> None:
    headers = sign_headers("00000000-0000-4000-8000-000000000000", alice.private_pem, "GET", BALANCE)
    assert_auth_error(get(sim, BALANCE, headers))


def test_it_rejects_missing_headers_on_portfolio(sim: RunningSimulator, alice: Trader) -> None:
    assert_auth_error(get(sim, BALANCE))
    headers = sign_headers(alice.key_id, alice.private_pem, "GET", BALANCE)
    del headers["KALSHI-ACCESS-SIGNATURE"]
    assert_auth_error(get(sim, BALANCE, headers))


def test_it_rejects_garbage_signature(sim: RunningSimulator, alice: Trader) -> None:
    headers = sign_headers(alice.key_id, alice.private_pem, "GET", BALANCE)
    headers["KALSHI-ACCESS-SIGNATURE"] = "not base64!!"
    assert_auth_error(get(sim, BALANCE, headers))
    headers["KALSHI-ACCESS-SIGNATURE"] = base64.b64encode(b"x" * 256).decode()
    assert_auth_error(get(sim, BALANCE, headers))


def test_public_reads_work_unsigned_but_check_a_signature_if_given(
    sim: RunningSimulator, alice: Trader
) -> None:
    path = API + "/markets"
    assert get(sim, path).status_code == 200
    assert get(sim, path, sign_headers(alice.key_id, alice.private_pem, "GET", path)).status_code == 200
    bad = sign_headers(alice.key_id, alice.private_pem, "GET", API + "/events")
    assert_auth_error(get(sim, path, bad))


async def test_ws_handshake_with_a_good_signature(sim: RunningSimulator, alice: Trader) -> None:
    async with alice.connect() as ws:
        await send(ws, {"id": 1, "cmd": "list_subscriptions"})
        assert await recv(ws) == {"id": 1, "type": "ok", "msg": []}


@pytest.mark.parametrize("variant", ["unsigned", "wrong_path", "stale", "unknown_key"])
async def test_ws_handshake_with_a_bad_signature_is_refused_with_401(
    sim: RunningSimulator, alice: Trader, variant: str
) -> None:
    headers: dict[str, str] = {}
    if variant == "wrong_path":
        headers = sign_headers(alice.key_id, alice.private_pem, "GET", API + "/ws/v2")
    elif variant == "stale":
        headers = sign_headers(
            alice.key_id, alice.private_pem, "GET", WS_PATH, ts_ms=int(time.time() * 1000) - 60_000
        )
    elif variant == "unknown_key":
        headers = sign_headers("nobody", alice.private_pem, "GET", WS_PATH)
    with pytest.raises(websockets.InvalidStatus) as info:
        async with websockets.connect(sim.ws_url, additional_headers=headers):
            pass
    assert info.value.response.status_code == 401
    assert b"authentication_error" in info.value.response.body
