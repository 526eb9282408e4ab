"""Signed market frames (no Django here, so the benchmark's stand-in feed signs the same way).

A market frame is HTML that browsers swap into the page, so the web processes trust only the feed's: the feed
prefixes each JSON payload with HMAC-SHA256(key, ticker "\\n" payload) in hex (SIGNATURE_CHARS characters), the
key derived from DJANGO_SECRET_KEY, which every process of one deployment shares. Binding the ticker means a
genuine frame of one market replayed on another market's channel does not verify either.
"""

from __future__ import annotations

import hmac

SIGNATURE_CHARS = 64


def frame_key(secret: str) -> bytes:
    return hmac.digest(secret.encode(), b"kalshiweb.markets.frame.v1", "sha256")


def signature(key: bytes, ticker: str, body: bytes) -> bytes:
    return hmac.digest(key, ticker.encode() + b"\n" + body, "sha256").hex().encode()


def sign(key: bytes, ticker: str, payload: str) -> str:
    body = payload.encode()
    return (signature(key, ticker, body) + body).decode()


def verify(key: bytes, ticker: str, raw: bytes) -> bytes | None:
    """The payload of a frame signed for `ticker`, or None."""
    if len(raw) <= SIGNATURE_CHARS:
        return None
    body = raw[SIGNATURE_CHARS:]
    if not hmac.compare_digest(raw[:SIGNATURE_CHARS], signature(key, ticker, body)):
        return None
    return body
