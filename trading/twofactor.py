"""Optional TOTP two-factor login (RFC 6238: HMAC-SHA1, 6 digits, 30-second steps) for traders and staff.

- A user turns it on at /account/two-factor/ (the secret as text and as a QR code for an authenticator app,
  confirmed by one code) and off again with a current code. ``KALSHIWEB_REQUIRE_2FA`` = ``off`` (default),
  ``staff`` or ``all`` makes it compulsory: such a user is sent to the set-up page until it is done.
- After the password, a session of a user with a confirmed device is *pending*: every page except the code
  page and logout redirects to /login/2fa/, htmx requests get ``HX-Redirect``, and the browser socket is
  refused (``TwoFactorSocketGate``). A right code (the current step ±1, never a step used before) makes the
  session *verified*. Ten wrong codes in 15 minutes lock the code page for that user until the window passes.
- Whether a user has a device is loaded with the user on every request (``TraderBackend``'s one statement), and
  a session remembers only that its code was given (``kw_2fa = "ok"``): turning it on in one browser gates the
  user's other sessions at their next request, at no extra statement on the order path.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from trading import crypto
from trading.models import TOTPDevice

STEP = 30
DIGITS = 6
SESSION_KEY = "kw_2fa"
MAX_FAILURES = 10
FAILURE_WINDOW = 15 * 60
# Paths a pending session may still use (besides the code page): logging out, static files, probes.
OPEN_PREFIXES = ("/logout/", "/static/", "/healthz", "/readyz", "/metrics")


# --- RFC 6238 -------------------------------------------------------------------------------------------


def new_secret() -> str:
    return base64.b32encode(secrets.token_bytes(20)).decode().rstrip("=")


def code_at(secret: str, step: int) -> str:
    key = base64.b32decode(secret + "=" * (-len(secret) % 8), casefold=True)
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**DIGITS).zfill(DIGITS)


def current_step(now: float | None = None) -> int:
    return int((time.time() if now is None else now) // STEP)


def verify(device: TOTPDevice, code: str, now: float | None = None) -> bool:
    """True once for a right code: the current step ±1, later than the last step used (no replay)."""
    code = "".join(code.split())
    if len(code) != DIGITS or not code.isascii() or not code.isdigit():
        return False
    step = current_step(now)
    secret = device.secret
    for candidate in (step - 1, step, step + 1):
        if candidate > device.last_step and hmac.compare_digest(code_at(secret, candidate), code):
            # A conditional update: two requests racing with the same code cannot both pass.
            used = TOTPDevice.objects.filter(pk=device.pk, last_step__lt=candidate).update(
                last_step=candidate
            )
            if used:
                device.last_step = candidate
            return bool(used)
    return False


def provisioning_uri(device: TOTPDevice, username: str) -> str:
    label = quote(f"kalshiweb:{username}")
    return f"otpauth://totp/{label}?secret={device.secret}&issuer=kalshiweb&digits={DIGITS}&period={STEP}"


# --- session state ---------------------------------------------------------------------------------------


def _required(user: Any) -> bool:
    mode = settings.KALSHIWEB_REQUIRE_2FA
    return mode == "all" or (mode == "staff" and bool(user.is_staff))


def has_device(user: Any) -> bool:
    """Whether the user has a confirmed device: loaded with the user by TraderBackend, else one query."""
    flag = getattr(user, "kw_has_2fa", None)
    if flag is None:
        flag = TOTPDevice.objects.filter(user_id=user.pk, confirmed=True).exists()
        user.kw_has_2fa = flag
    return bool(flag)


def session_state(request: HttpRequest) -> str:
    """ok (the code was given in this session) | pending (the user has a device, no code yet) | none."""
    if not has_device(request.user):
        return "none"
    return "ok" if request.session.get(SESSION_KEY) == "ok" else "pending"


def _uid(request: HttpRequest) -> int:
    return int(request.user.pk or 0)


def _failures_key(user_id: int) -> str:
    return f"kw:2fa:failures:{user_id}"


def _locked(user_id: int) -> bool:
    return int(cache.get(_failures_key(user_id)) or 0) >= MAX_FAILURES


def _failed(user_id: int) -> None:
    key = _failures_key(user_id)
    if not cache.add(key, 1, FAILURE_WINDOW):
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, 1, FAILURE_WINDOW)


class TwoFactorMiddleware:
    """Gate a pending session to the code page; send a user who must have 2FA to the set-up page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not request.path.startswith(OPEN_PREFIXES):
            verify_path, setup_path = reverse("two_factor_verify"), reverse("two_factor_setup")
            state = session_state(request)
            if state == "pending" and request.path != verify_path:
                return self._redirect(request, verify_path)
            if state == "none" and _required(user) and request.path not in (setup_path, verify_path):
                return self._redirect(request, setup_path)
        return self.get_response(request)

    @staticmethod
    def _redirect(request: HttpRequest, path: str) -> HttpResponse:
        target = f"{path}?next={quote(request.get_full_path())}" if request.method == "GET" else path
        if request.headers.get("HX-Request"):
            response = HttpResponse(status=204)
            response["HX-Redirect"] = target
            return response
        return HttpResponseRedirect(target)


class TwoFactorSocketGate:
    """ASGI: refuse the browser socket of a session still waiting for its code (inside the auth stack)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        session = scope.get("session")
        if scope["type"] == "websocket" and session is not None:
            state = await _socket_state(scope, session)
            if state == "pending":
                await receive()  # websocket.connect
                await send({"type": "websocket.close", "code": 4003, "reason": "two-factor code required"})
                return None
        return await self.app(scope, receive, send)


async def _socket_state(scope: dict[str, Any], session: Any) -> str:
    from channels.db import database_sync_to_async

    def read() -> str:
        user = scope.get("user")
        if user is None or not user.is_authenticated or not has_device(user):
            return "none"
        return "ok" if session.get(SESSION_KEY) == "ok" else "pending"

    return await database_sync_to_async(read)()


# --- views -------------------------------------------------------------------------------------------------


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code from your authenticator app",
        max_length=12,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or "/"
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return "/"


@login_required
@require_http_methods(["GET", "POST"])
def verify_view(request: HttpRequest) -> HttpResponse:
    """The second step of a login: a code from the authenticator."""
    if session_state(request) != "pending":
        return redirect(_next(request))
    user_id = _uid(request)
    device = TOTPDevice.objects.filter(user_id=user_id, confirmed=True).first()
    if device is None:  # removed meanwhile (an admin reset it): nothing to ask for
        return redirect(_next(request))
    form = CodeForm(request.POST or None)
    error = ""
    if _locked(user_id):
        error = "Too many wrong codes: try again in 15 minutes, or ask an admin."
    elif request.method == "POST" and form.is_valid():
        if verify(device, form.cleaned_data["code"]):
            request.session.cycle_key()
            request.session[SESSION_KEY] = "ok"
            return redirect(_next(request))
        _failed(user_id)
        error = "That code is not right (or was already used): enter the current one."
    return render(
        request, "registration/two_factor_verify.html", {"form": form, "error": error, "next": _next(request)}
    )


@login_required
@require_http_methods(["GET", "POST"])
def setup_view(request: HttpRequest) -> HttpResponse:
    """Turn two-factor login on (scan, confirm with a code) or off (with a code)."""
    user = request.user
    user_id = _uid(request)
    device = TOTPDevice.objects.filter(user_id=user_id).first()
    form = CodeForm(request.POST or None)
    error = ""
    if device is None or (not device.confirmed and request.method == "GET"):
        TOTPDevice.objects.filter(user_id=user_id).delete()
        device = TOTPDevice.objects.create(
            user_id=user_id, secret_encrypted=crypto.encrypt(new_secret().encode())
        )
    if request.method == "POST" and form.is_valid():
        if not verify(device, form.cleaned_data["code"]):
            error = "That code is not right (or was already used): enter the current one."
        elif request.POST.get("action") == "disable" and device.confirmed:
            if _required(user):
                error = "Two-factor login is required for your account: it cannot be turned off."
            else:
                device.delete()
                request.session.pop(SESSION_KEY, None)
                return redirect("two_factor_setup")
        elif not device.confirmed:
            TOTPDevice.objects.filter(pk=device.pk).update(confirmed=True, confirmed_at=timezone.now())
            request.session.cycle_key()
            request.session[SESSION_KEY] = "ok"
            return redirect("two_factor_setup")
    device.refresh_from_db()
    context: dict[str, Any] = {"device": device, "form": form, "error": error, "required": _required(user)}
    if not device.confirmed:
        uri = provisioning_uri(device, user.get_username())
        context.update({"secret": device.secret, "uri": uri, "qr_svg": _qr_svg(uri)})
    return render(request, "registration/two_factor_setup.html", context)


def _qr_svg(data: str) -> str:
    import segno

    return str(segno.make(data, error="m").svg_inline(scale=4, dark="black", light="white", border=4))
