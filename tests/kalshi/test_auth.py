from __future__ import annotations

import base64
import copy
import logging
import pickle

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from kalshiweb.kalshi import KalshiClient, KalshiSigner, KalshiStream, KalshiSyncClient, KeyLoadError
from kalshiweb.kalshi.auth import signed_path

from .conftest import load_sample

KEY_ID = "a952bcbe-ec3b-4b5b-b8f9-11dae589608c"


def verify(signer: KalshiSigner, headers: dict[str, str], message: str) -> None:
    public = serialization.load_pem_public_key(signer.public_key_pem())
    signature = base64.b64decode(headers["KALSHI-ACCESS-SIGNATURE"], validate=True)
    if isinstance(public, rsa.RSAPublicKey):
        public.verify(
            signature,
            message.encode(),
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
            hashes.SHA256(),
        )
    else:
        assert isinstance(public, ed25519.Ed25519PublicKey)
        public.verify(signature, message.encode())


@pytest.mark.parametrize("pem_fixture", ["pkcs1_pem", "pkcs8_pem", "ed25519_pem"])
def test_it_signs_timestamp_method_and_path(pem_fixture: str, request: pytest.FixtureRequest) -> None:
    pem = request.getfixturevalue(pem_fixture)
    signer = KalshiSigner.from_pem(KEY_ID, pem)
    headers = signer.headers("get", "/trade-api/v2/portfolio/balance", timestamp_ms=1703123456789)
    assert headers["KALSHI-ACCESS-KEY"] == KEY_ID
    assert headers["KALSHI-ACCESS-TIMESTAMP"] == "1703123456789"
    verify(signer, headers, load_sample("auth_signing_example_values_from_docs.json")["string_to_sign"])


def test_it_accepts_pem_as_text(pkcs8_pem: bytes) -> None:
    signer = KalshiSigner.from_pem(KEY_ID, pkcs8_pem.decode())
    assert signer.algorithm == "rsa-pss-sha256"


def test_it_loads_a_key_file(tmp_path, pkcs1_pem: bytes) -> None:
    path = tmp_path / "key.pem"
    path.write_bytes(pkcs1_pem)
    assert KalshiSigner.load(KEY_ID, str(path)).key_id == KEY_ID
    assert KalshiSigner.from_pem_file(KEY_ID, path).key_id == KEY_ID


def test_it_strips_the_query_string_from_the_signed_path(pkcs8_pem: bytes) -> None:
    sample = load_sample("auth_signing_example_values_from_docs.json")
    assert signed_path(sample["query_example_request"]) == sample["query_example_signed_path"]
    assert (
        signed_path("https://external-api.kalshi.com/trade-api/v2/markets?limit=5&cursor=x")
        == "/trade-api/v2/markets"
    )
    signer = KalshiSigner.from_pem(KEY_ID, pkcs8_pem)
    headers = signer.headers(
        "GET", "http://127.0.0.1:8000/trade-api/v2/portfolio/orders?limit=5", timestamp_ms=1
    )
    verify(signer, headers, "1GET/trade-api/v2/portfolio/orders")


def test_it_signs_the_websocket_handshake(pkcs8_pem: bytes) -> None:
    signer = KalshiSigner.from_pem(KEY_ID, pkcs8_pem)
    headers = signer.ws_headers(
        "wss://external-api-ws.kalshi.com/trade-api/ws/v2", timestamp_ms=1703123456789
    )
    verify(signer, headers, "1703123456789GET/trade-api/ws/v2")


def test_a_bad_pem_raises_without_echoing_it() -> None:
    secret = "-----BEGIN PRIVATE KEY-----\nTOPSECRETMATERIAL\n-----END PRIVATE KEY-----\n"
    with pytest.raises(KeyLoadError) as exc_info:
        KalshiSigner.from_pem(KEY_ID, secret)
    assert "TOPSECRET" not in str(exc_info.value)
    assert exc_info.value.__cause__ is None


def test_the_private_key_never_appears_in_reprs_or_logs(
    pkcs8_pem: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    pem_text = pkcs8_pem.decode()
    body_lines = [line for line in pem_text.splitlines() if "-----" not in line]
    signer = KalshiSigner.from_pem(KEY_ID, pkcs8_pem)
    client = KalshiSyncClient("http://127.0.0.1:9/trade-api/v2", key_id=KEY_ID, private_key=pkcs8_pem)
    stream = KalshiStream("ws://127.0.0.1:9/trade-api/ws/v2", key_id=KEY_ID, private_key=pem_text)
    try:
        texts = [
            repr(signer),
            str(signer),
            repr(client),
            str(client),
            repr(client.client),
            repr(stream),
            str(stream),
        ]
        logging.getLogger("test").info("objects: %r %s %r %r", signer, client, client.client, stream)
        texts.append(caplog.text)
        for text in texts:
            assert "PRIVATE KEY" not in text
            for line in body_lines[1:4]:
                assert line not in text
            assert "RSAPrivateKey" not in text
        assert not any(line in repr(vars(client.client)) for line in body_lines[1:4])
    finally:
        client.close()


def test_the_signer_refuses_to_be_pickled_and_copies_by_reference(pkcs8_pem: bytes) -> None:
    signer = KalshiSigner.from_pem(KEY_ID, pkcs8_pem)
    with pytest.raises(TypeError):
        pickle.dumps(signer)
    assert copy.deepcopy(signer) is signer


def test_a_rest_client_built_from_key_id_and_pem_signs(pkcs8_pem: bytes) -> None:
    client = KalshiClient(
        "https://external-api.demo.kalshi.co/trade-api/v2", key_id=KEY_ID, private_key=pkcs8_pem
    )
    request = client._build("GET", "/portfolio/orders", {"limit": 5}, None, True)
    assert str(request.url) == "https://external-api.demo.kalshi.co/trade-api/v2/portfolio/orders?limit=5"
    ts = request.headers["KALSHI-ACCESS-TIMESTAMP"]
    assert client._signer is not None
    headers = {"KALSHI-ACCESS-SIGNATURE": request.headers["KALSHI-ACCESS-SIGNATURE"]}
    verify(client._signer, headers, f"{ts}GET/trade-api/v2/portfolio/orders")
