"""Private keys at rest: Fernet with a key from the environment (KALSHIWEB_FERNET_KEY), never SECRET_KEY.

On a machine with no key configured, one is generated once into var/fernet_key (0600), like the other
embedded defaults.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


class KeyDecryptionError(ValueError):
    """The stored key cannot be decrypted with the configured Fernet key (the message never holds key material)."""


@lru_cache(maxsize=1)
def fernet() -> Fernet:
    key = settings.KALSHIWEB_FERNET_KEY
    if not key:
        path = Path(settings.VAR_DIR) / "fernet_key"
        if not path.exists():
            path.write_bytes(Fernet.generate_key())
            path.chmod(0o600)
        key = path.read_text().strip()
    return Fernet(key.encode() if isinstance(key, str) else key)


def encrypt(secret: bytes) -> str:
    return fernet().encrypt(secret).decode()


def decrypt(token: str) -> bytes:
    try:
        return fernet().decrypt(token.encode())
    except InvalidToken:
        raise KeyDecryptionError(
            "stored private key cannot be decrypted: was KALSHIWEB_FERNET_KEY changed?"
        ) from None
