"""Kalshi request signatures, checked the way the exchange checks them (protocol §2).

The signed text is ``timestamp_ms + METHOD + path`` where the path starts at ``/trade-api/...`` and carries no
query string. RSA keys sign with RSA-PSS / SHA-256 / MGF1(SHA-256) and a 32-byte salt; Ed25519 keys sign the same
text. The key type comes from the public key PEM.
"""

from __future__ import annotations

import base64
import binascii
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

KEY_HEADER = "kalshi-access-key"
TIMESTAMP_HEADER = "kalshi-access-timestamp"
SIGNATURE_HEADER = "kalshi-access-signature"
AUTH_HEADERS = (KEY_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER)

PublicKey = rsa.RSAPublicKey | ed25519.Ed25519PublicKey


class AuthError(Exception):
    """Authentication failed; ``details`` goes into the 401 body."""

    def __init__(self, details: str) -> None:
        super().__init__(details)
        self.details = details


FULL_ACCESS = ("read", "write")
# Scopes that let a key place and cancel orders (Kalshi's ApiKeyScope: the broad parent or its trade child).
TRADE_SCOPES = frozenset({"write", "write::trade"})


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    public_key: PublicKey
    user_id: str
    name: str = ""
    scopes: tuple[str, ...] = FULL_ACCESS

    @property
    def can_trade(self) -> bool:
        return bool(TRADE_SCOPES.intersection(self.scopes))


def load_public_key(pem: bytes | str) -> PublicKey:
    data = pem.encode() if isinstance(pem, str) else pem
    key = serialization.load_pem_public_key(data)
    if not isinstance(key, rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        raise ValueError("API keys must be RSA or Ed25519")
    return key


def generate_rsa_key_pair() -> tuple[bytes, bytes]:
    """A fresh RSA-2048 key pair as (private PKCS#8 PEM, public SPKI PEM)."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private_pem, public_pem


class KeyRegistry:
    """key_id -> (public key, user id). Thread-safe: the test thread registers, the server loop reads."""

    def __init__(self) -> None:
        self._keys: dict[str, ApiKey] = {}
        self._lock = threading.Lock()

    def add(
        self,
        public_pem: bytes | str,
        *,
        key_id: str | None = None,
        user_id: str | None = None,
        scopes: tuple[str, ...] = FULL_ACCESS,
        name: str | None = None,
    ) -> ApiKey:
        key_id = key_id or str(uuid.uuid4())
        api_key = ApiKey(
            key_id=key_id,
            public_key=load_public_key(public_pem),
            user_id=user_id or key_id,
            name=name or f"key {key_id[:8]}",
            scopes=tuple(scopes),
        )
        with self._lock:
            self._keys[key_id] = api_key
        return api_key

    def get(self, key_id: str) -> ApiKey | None:
        with self._lock:
            return self._keys.get(key_id)

    def remove(self, key_id: str) -> ApiKey | None:
        with self._lock:
            return self._keys.pop(key_id, None)

    def of_user(self, user_id: str) -> list[ApiKey]:
        with self._lock:
            return [key for key in self._keys.values() if key.user_id == user_id]

    def __len__(self) -> int:
        with self._lock:
            return len(self._keys)


class Verifier:
    def __init__(
        self, registry: KeyRegistry, *, window_s: float = 30.0, accept_any_salt: bool = False
    ) -> None:
        self.registry = registry
        self.window_s = window_s
        self.accept_any_salt = accept_any_salt

    def has_credentials(self, headers: Mapping[str, str]) -> bool:
        return any(name in headers for name in AUTH_HEADERS)

    def verify(
        self, headers: Mapping[str, str], method: str, path: str, *, now: float | None = None
    ) -> ApiKey:
        """Return the key that signed this request or raise AuthError. ``headers`` use lower-case names."""
        missing = [name.upper() for name in AUTH_HEADERS if not headers.get(name)]
        if missing:
            raise AuthError(f"missing header(s): {', '.join(missing)}")
        key_id = headers[KEY_HEADER].strip()
        timestamp = headers[TIMESTAMP_HEADER].strip()
        api_key = self.registry.get(key_id)
        if api_key is None:
            raise AuthError("rpc error: code = Unauthenticated desc = INCORRECT_API_KEY")
        if not timestamp.isdigit():
            raise AuthError("rpc error: code = Unauthenticated desc = INVALID_TIMESTAMP")
        now = time.time() if now is None else now
        if abs(int(timestamp) / 1000 - now) > self.window_s:
            raise AuthError("rpc error: code = Unauthenticated desc = TIMESTAMP_OUT_OF_WINDOW")
        try:
            signature = base64.b64decode(headers[SIGNATURE_HEADER].strip(), validate=True)
        except (binascii.Error, ValueError):
            raise AuthError("rpc error: code = Unauthenticated desc = INCORRECT_API_KEY_SIGNATURE") from None
        message = (timestamp + method.upper() + path.split("?", 1)[0]).encode()
        if not self._check(api_key.public_key, signature, message):
            raise AuthError("rpc error: code = Unauthenticated desc = INCORRECT_API_KEY_SIGNATURE")
        return api_key

    def _check(self, key: PublicKey, signature: bytes, message: bytes) -> bool:
        try:
            if isinstance(key, ed25519.Ed25519PublicKey):
                key.verify(signature, message)
            else:
                salt = padding.PSS.AUTO if self.accept_any_salt else 32
                key.verify(
                    signature,
                    message,
                    padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=salt),
                    hashes.SHA256(),
                )
        except InvalidSignature:
            return False
        return True


def error_body(details: str) -> dict[str, dict[str, str]]:
    return {"error": {"code": "authentication_error", "message": "authentication_error", "details": details}}
