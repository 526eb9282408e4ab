"""Request signing (protocol §2).

``message = timestamp_ms + METHOD + path`` where ``path`` is the URL path from the host root (it includes
``/trade-api/v2`` or ``/trade-api/ws/v2``) without the query string. RSA keys sign with RSA-PSS / SHA-256 /
MGF1(SHA-256) / salt = digest length; Ed25519 keys sign the same text plainly.

The key object lives only in a private attribute of ``KalshiSigner``: it never appears in ``repr``, in a log line
or in an exception message, and the signer refuses to be pickled.
"""

from __future__ import annotations

import base64
import time
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

KEY_HEADER = "KALSHI-ACCESS-KEY"
TIMESTAMP_HEADER = "KALSHI-ACCESS-TIMESTAMP"
SIGNATURE_HEADER = "KALSHI-ACCESS-SIGNATURE"

_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)


class KeyLoadError(ValueError):
    """The PEM could not be loaded. The message never contains key material."""


def signed_path(url_or_path: str) -> str:
    """The path that is signed: the URL's path without the query string (and without any host)."""
    if "://" in url_or_path:
        path = urlsplit(url_or_path).path
    else:
        path = url_or_path.split("?", 1)[0].split("#", 1)[0]
    return path or "/"


class KalshiSigner:
    """Holds an API key id and its private key; produces the three ``KALSHI-ACCESS-*`` headers."""

    __slots__ = ("__key", "algorithm", "key_id")

    def __init__(self, key_id: str, private_key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey) -> None:
        if not key_id:
            raise ValueError("key_id is required")
        if isinstance(private_key, rsa.RSAPrivateKey):
            self.algorithm = "rsa-pss-sha256"
        elif isinstance(private_key, ed25519.Ed25519PrivateKey):
            self.algorithm = "ed25519"
        else:
            raise KeyLoadError(
                f"unsupported private key type {type(private_key).__name__}; use RSA or Ed25519"
            )
        self.key_id = key_id
        self.__key = private_key

    @classmethod
    def from_pem(cls, key_id: str, pem: str | bytes, *, password: bytes | None = None) -> KalshiSigner:
        """Load a PEM private key (PKCS#1 ``BEGIN RSA PRIVATE KEY``, PKCS#8 ``BEGIN PRIVATE KEY``, or Ed25519)."""
        data = pem.encode("ascii", "ignore") if isinstance(pem, str) else bytes(pem)
        try:
            key = serialization.load_pem_private_key(data, password=password)
        except (ValueError, TypeError) as exc:
            # The original message is dropped on purpose (``from None``): nothing derived from the key may leak.
            raise KeyLoadError(f"could not load the private key PEM ({type(exc).__name__})") from None
        except Exception:
            raise KeyLoadError("could not load the private key PEM") from None
        if not isinstance(key, (rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey)):
            raise KeyLoadError(f"unsupported private key type {type(key).__name__}; use RSA or Ed25519")
        return cls(key_id, key)

    @classmethod
    def from_pem_file(cls, key_id: str, path: str | Path, *, password: bytes | None = None) -> KalshiSigner:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise KeyLoadError(f"could not read the private key file {str(path)!r}: {exc.strerror}") from None
        return cls.from_pem(key_id, data, password=password)

    @classmethod
    def load(cls, key_id: str, pem_or_path: str | bytes | Path) -> KalshiSigner:
        """Accept either PEM text/bytes or a path to a PEM file (what a settings value usually holds)."""
        if isinstance(pem_or_path, Path):
            return cls.from_pem_file(key_id, pem_or_path)
        text = pem_or_path if isinstance(pem_or_path, str) else pem_or_path.decode("ascii", "ignore")
        if "-----BEGIN" in text:
            return cls.from_pem(key_id, pem_or_path)
        return cls.from_pem_file(key_id, text.strip())

    def public_key_pem(self) -> bytes:
        return self.__key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, message: str) -> str:
        """Base64 (standard alphabet, padded) signature of ``message``."""
        data = message.encode("utf-8")
        key = self.__key
        if isinstance(key, rsa.RSAPrivateKey):
            sig = key.sign(data, _PSS, hashes.SHA256())
        else:
            sig = key.sign(data)
        return base64.b64encode(sig).decode("ascii")

    def headers(self, method: str, url_or_path: str, *, timestamp_ms: int | None = None) -> dict[str, str]:
        """Headers for one request. ``url_or_path`` may be a full URL (query is stripped) or a path."""
        ts = str(timestamp_ms if timestamp_ms is not None else time.time_ns() // 1_000_000)
        path = signed_path(url_or_path)
        return {
            KEY_HEADER: self.key_id,
            TIMESTAMP_HEADER: ts,
            SIGNATURE_HEADER: self.sign(ts + method.upper() + path),
        }

    def ws_headers(self, ws_url: str, *, timestamp_ms: int | None = None) -> dict[str, str]:
        """Headers for the WebSocket upgrade: ``GET`` + the ws URL path (e.g. ``/trade-api/ws/v2``)."""
        return self.headers("GET", ws_url, timestamp_ms=timestamp_ms)

    def __repr__(self) -> str:
        return f"KalshiSigner(key_id={self.key_id!r}, algorithm={self.algorithm!r})"

    __str__ = __repr__

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("KalshiSigner cannot be pickled (it holds a private key)")

    def __copy__(self) -> KalshiSigner:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> KalshiSigner:
        return self
