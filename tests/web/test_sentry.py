"""Sentry, when SENTRY_DSN is set: events go out through the real SDK, without private keys or form secrets."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import sentry_sdk
from sentry_sdk.transport import Transport

from kalshiweb.errors_reporting import init_sentry, scrub

PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----"


class Captured(Transport):
    def __init__(self, options=None) -> None:
        super().__init__(options)
        self.envelopes: list[str] = []

    def capture_envelope(self, envelope) -> None:
        self.envelopes.append(envelope.serialize().decode("utf-8", "replace"))


@pytest.fixture
def transport() -> Iterator[Captured]:
    captured = Captured()
    assert init_sentry("https://public@sentry.invalid/1", environment="test", transport=captured)
    yield captured
    sentry_sdk.get_client().close()
    sentry_sdk.init()  # no DSN: the SDK is off again


def test_without_a_dsn_nothing_starts():
    assert init_sentry("", environment="test") is False


def test_an_exception_carrying_a_private_key_reaches_sentry_without_it(transport):
    try:
        raise ValueError(f"could not load {PEM}")
    except ValueError:
        sentry_sdk.capture_exception()
    sentry_sdk.get_client().flush()
    sent = "".join(transport.envelopes)
    assert "could not load [private key removed]" in sent
    assert "BEGIN PRIVATE KEY" not in sent and "MIIEvQIBADAN" not in sent


def test_scrub_drops_bodies_and_masks_secret_fields_everywhere():
    event = {
        "request": {
            "data": {"private_key_pem": PEM, "count": "1"},
            "cookies": {"sessionid": "abc"},
            "headers": {"Cookie": "sessionid=abc", "X-CSRFToken": "tok", "User-Agent": "ua"},
        },
        "extra": {"api_key_id": "k-1", "note": f"key {PEM}", "password": "hunter2"},
        "breadcrumbs": {"values": [{"message": PEM}]},
    }
    out = json.dumps(scrub(event))
    assert (
        "BEGIN PRIVATE KEY" not in out
        and "hunter2" not in out
        and "sessionid=abc" not in out
        and "tok" not in out
    )
    assert '"User-Agent": "ua"' in out
    assert "private_key_pem" not in out  # the body is dropped whole
