"""First-contact diagnosis of an exchange and a key: what a new user needs to know when nothing works.

``diagnose(rest_base, signer=...)`` runs, in order, the checks a person would make by hand and returns one
``Check`` per step, each with what was found and, when it is not ok, what to do:

1. ``dns``      the host name resolves;
2. ``connect``  TCP (and TLS, for https) to the host, ``GET /exchange/status`` answers;
3. ``clock``    this machine's clock against the exchange's ``Date`` header (signatures carry a timestamp,
                so a clock minutes off makes every signed request fail);
4. ``key``      a signed ``GET /portfolio/balance`` is accepted (401 names the reason Kalshi gives);
5. ``write``    the key's scopes (``GET /api_keys``) allow trading;
6. ``limits``   the rate tier (``GET /account/limits``).

A step that cannot run because an earlier one failed is reported as ``skip``. Nothing here writes to the
exchange. No Django: the caller passes the base URL and the signer (``manage.py kalshi_check`` does).
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from .auth import KalshiSigner

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"
# Kalshi documents no timestamp window; past a few seconds signatures start to fail on some hosts.
CLOCK_WARN_SECONDS = 2.0
CLOCK_FAIL_SECONDS = 10.0
TRADE_SCOPES = frozenset({"write", "write::trade"})


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: str  # ok | warn | fail | skip
    detail: str
    fix: str = ""

    @property
    def ok(self) -> bool:
        return self.status in (OK, SKIP)

    def line(self) -> str:
        text = f"{self.status.upper():4}  {self.name:8} {self.detail}"
        return f"{text} — {self.fix}" if self.fix else text


def human_seconds(seconds: float) -> str:
    seconds = abs(seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _error_details(response: httpx.Response) -> str:
    try:
        body: Any = response.json()
    except ValueError:
        return response.text[:200]
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        parts = [str(error.get(k)) for k in ("code", "details", "message") if error.get(k)]
        return "; ".join(dict.fromkeys(parts))
    return str(error or body)[:200]


def _key_refused(response: httpx.Response, key_id: str, host: str) -> Check:
    why = _error_details(response)
    if "TIMESTAMP" in why.upper():
        fix = "this machine's clock is off: sync it (NTP)"
    elif "SIGNATURE" in why.upper():
        fix = "the private key does not belong to this key id: check KALSHI_PRIVATE_KEY_PATH / the account's key"
    else:
        fix = (
            "check KALSHI_API_KEY_ID / the key's environment "
            "(demo keys work only on demo, production keys only on production) and that it was not revoked"
        )
    return Check("key", FAIL, f"Key {key_id} refused by {host} ({response.status_code}: {why})", fix)


async def _resolve(host: str, port: int) -> None:
    await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)


async def diagnose(
    rest_base: str,
    *,
    signer: KalshiSigner | None = None,
    step_timeout: float = 5.0,
    transport: httpx.AsyncBaseTransport | None = None,
) -> list[Check]:
    """Every check, in order; see the module docstring."""
    url = urlsplit(rest_base.rstrip("/"))
    host = url.hostname or ""
    port = url.port or (443 if url.scheme == "https" else 80)
    checks: list[Check] = []

    def skipped(names: Sequence[str], why: str) -> list[Check]:
        return checks + [Check(name, SKIP, why) for name in names]

    rest = ("connect", "clock", "key", "write", "limits")
    try:
        await asyncio.wait_for(_resolve(host, port), step_timeout)
    except (OSError, TimeoutError) as exc:
        checks.append(
            Check(
                "dns",
                FAIL,
                f"Exchange unreachable (DNS lookup of {host} failed: {exc})",
                "check the host in KALSHI_API_BASE and this machine's DNS and network access",
            )
        )
        return skipped(rest, "the host does not resolve")
    checks.append(Check("dns", OK, f"{host} resolves"))

    async with httpx.AsyncClient(
        base_url=rest_base.rstrip("/") + "/",
        timeout=httpx.Timeout(step_timeout),
        headers={"Accept": "application/json", "User-Agent": "kalshiweb/0.1 (kalshi_check)"},
        transport=transport,
    ) as http:
        sent = time.time()
        try:
            response = await http.get("exchange/status")
        except httpx.ConnectTimeout:
            checks.append(
                Check(
                    "connect",
                    FAIL,
                    f"Exchange unreachable (no answer from {host}:{port} within {step_timeout:.0f} s)",
                    "a firewall or proxy may block outbound connections to it",
                )
            )
            return skipped(rest[1:], "the exchange is unreachable")
        except httpx.ConnectError as exc:
            tls = "ssl" in str(exc).lower() or "certificate" in str(exc).lower()
            checks.append(
                Check(
                    "connect",
                    FAIL,
                    f"{'TLS handshake with' if tls else 'Exchange unreachable: cannot connect to'} "
                    f"{host}:{port} failed ({exc})",
                    "check this machine's CA certificates and any TLS-intercepting proxy"
                    if tls
                    else "check KALSHI_API_BASE and that this machine may connect out",
                )
            )
            return skipped(rest[1:], "the exchange is unreachable")
        except httpx.HTTPError as exc:
            checks.append(
                Check("connect", FAIL, f"Exchange unreachable ({type(exc).__name__}: {exc})", "retry later")
            )
            return skipped(rest[1:], "the exchange is unreachable")
        received = time.time()
        tls_note = " over verified TLS" if url.scheme == "https" else " (plain HTTP)"
        elapsed_ms = (received - sent) * 1000
        if response.status_code >= 400:
            checks.append(
                Check(
                    "connect",
                    FAIL,
                    f"{host} answered GET /exchange/status with {response.status_code}",
                    "check that KALSHI_API_BASE ends in /trade-api/v2",
                )
            )
        else:
            checks.append(Check("connect", OK, f"{host} answered in {elapsed_ms:.0f} ms{tls_note}"))

        checks.append(_clock_check(response.headers.get("date"), (sent + received) / 2))

        if signer is None:
            return skipped(rest[2:], "no API key configured")
        try:
            balance = await http.get(
                "portfolio/balance", headers=signer.headers("GET", http_path(http, "portfolio/balance"))
            )
        except httpx.HTTPError as exc:
            checks.append(Check("key", FAIL, f"signed request failed ({type(exc).__name__})", "retry later"))
            return skipped(rest[3:], "the key could not be checked")
        if balance.status_code == 401:
            checks.append(_key_refused(balance, signer.key_id, host))
            return skipped(rest[3:], "the key was refused")
        if balance.status_code == 403:
            checks.append(
                Check(
                    "key",
                    FAIL,
                    f"Key {signer.key_id} may not read the portfolio (403: {_error_details(balance)})",
                    "give the key the read scope (or make a new key with read and write)",
                )
            )
        elif balance.status_code >= 400:
            checks.append(
                Check("key", FAIL, f"GET /portfolio/balance answered {balance.status_code}", "retry later")
            )
        else:
            checks.append(Check("key", OK, f"Key {signer.key_id} accepted; portfolio readable"))

        checks.append(await _write_check(http, signer))
        checks.append(await _limits_check(http, signer))
    return checks


def http_path(http: httpx.AsyncClient, relative: str) -> str:
    """The path that goes on the wire for ``relative`` (with the /trade-api/v2 prefix): what is signed."""
    return http.build_request("GET", relative).url.raw_path.decode("ascii").split("?", 1)[0]


def _clock_check(date_header: str | None, local: float) -> Check:
    if not date_header:
        return Check("clock", SKIP, "the exchange sent no Date header")
    try:
        remote = parsedate_to_datetime(date_header).timestamp()
    except (TypeError, ValueError):
        return Check("clock", SKIP, f"unreadable Date header {date_header!r}")
    skew = local - remote  # positive: this machine is ahead
    direction = "ahead of" if skew > 0 else "behind"
    if abs(skew) <= CLOCK_WARN_SECONDS:
        return Check("clock", OK, "this machine's clock agrees with the exchange's (within 2 s)")
    detail = f"Clock {human_seconds(skew)} off: this machine is {direction} the exchange"
    fix = "sync this machine's clock (NTP: e.g. `timedatectl set-ntp true` or chrony)"
    if abs(skew) <= CLOCK_FAIL_SECONDS:
        return Check("clock", WARN, detail + " — signatures may fail", fix)
    return Check("clock", FAIL, detail + " — signatures will fail", fix)


async def _write_check(http: httpx.AsyncClient, signer: KalshiSigner) -> Check:
    try:
        response = await http.get("api_keys", headers=signer.headers("GET", http_path(http, "api_keys")))
    except httpx.HTTPError as exc:
        return Check("write", WARN, f"could not read the key's scopes ({type(exc).__name__})")
    if response.status_code >= 400:
        return Check(
            "write", WARN, f"could not read the key's scopes (GET /api_keys: {response.status_code})"
        )
    try:
        keys = response.json().get("api_keys") or []
        mine = next((k for k in keys if k.get("api_key_id") == signer.key_id), None)
    except (ValueError, AttributeError):
        return Check("write", WARN, "unreadable answer to GET /api_keys")
    if mine is None:
        return Check("write", WARN, f"key {signer.key_id} is not among the account's keys")
    scopes = [str(s) for s in mine.get("scopes") or []]
    if TRADE_SCOPES.intersection(scopes):
        return Check("write", OK, f"key may trade (scopes: {', '.join(scopes)})")
    return Check(
        "write",
        FAIL,
        f"key is read-only (scopes: {', '.join(scopes) or 'none'}): orders will be refused",
        "make a key with the write scope for trading",
    )


async def _limits_check(http: httpx.AsyncClient, signer: KalshiSigner) -> Check:
    try:
        response = await http.get(
            "account/limits", headers=signer.headers("GET", http_path(http, "account/limits"))
        )
        body = response.json() if response.status_code < 400 else None
    except (httpx.HTTPError, ValueError) as exc:
        return Check("limits", WARN, f"could not read the rate tier ({type(exc).__name__})")
    if not isinstance(body, dict):
        return Check(
            "limits", WARN, f"could not read the rate tier (GET /account/limits: {response.status_code})"
        )

    limits: dict[str, Any] = body

    def budget(side: str) -> str:
        bucket = limits.get(side)
        return str(bucket.get("refill_rate", "?")) if isinstance(bucket, dict) else "?"

    tier = limits.get("usage_tier") or "unknown"
    return Check("limits", OK, f"rate tier {tier}: read {budget('read')}, write {budget('write')} tokens/s")
