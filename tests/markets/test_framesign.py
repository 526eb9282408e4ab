"""Fast unit checks of the market-frame signature (the end-to-end proof is tests/web/test_market_frames.py)."""

from __future__ import annotations

import json
import logging

from markets import framesign
from markets.hub import _DropCounter, open_frame, sign_frame

KEY = framesign.frame_key("s" * 50)


def test_a_signed_frame_verifies_for_its_market_only():
    signed = framesign.sign(KEY, "KXA-1", '{"row": "<b>1</b>"}').encode()
    assert framesign.verify(KEY, "KXA-1", signed) == b'{"row": "<b>1</b>"}'
    assert framesign.verify(KEY, "KXA-2", signed) is None  # replayed on another market's channel
    assert (
        framesign.verify(framesign.frame_key("t" * 50), "KXA-1", signed) is None
    )  # another deployment's key


def test_any_change_to_a_signed_frame_fails():
    signed = framesign.sign(KEY, "KXA-1", '{"row": "<b>1</b>"}').encode()
    assert framesign.verify(KEY, "KXA-1", signed.replace(b"<b>1", b"<b>9")) is None
    assert framesign.verify(KEY, "KXA-1", signed[:-1]) is None
    assert framesign.verify(KEY, "KXA-1", signed[: framesign.SIGNATURE_CHARS]) is None
    assert framesign.verify(KEY, "KXA-1", b"") is None
    assert framesign.verify(KEY, "KXA-1", b'{"row": "<b>1</b>"}') is None


def test_open_frame_returns_the_update_only_when_signed_with_this_deployments_key():
    update = {"ticker": "KXA-1", "row": "<b>1</b>"}
    assert open_frame("KXA-1", sign_frame("KXA-1", json.dumps(update))) == update
    assert open_frame("KXA-1", json.dumps(update)) is None
    assert open_frame("KXA-1", sign_frame("KXA-1", "[1, 2]")) is None  # signed, but not an update


def test_dropped_frames_are_counted_and_logged_at_most_once_a_minute(caplog):
    counter = _DropCounter()
    with caplog.at_level(logging.WARNING, logger="markets.hub"):
        for _ in range(1000):
            counter.note("KXA-1")
    assert counter.total == 1000
    assert len([r for r in caplog.records if "unsigned or forged" in r.getMessage()]) == 1
