"""Rotate an account's API key on the exchange in one step (issue #15 item 11).

`generate_key(account)` asks Kalshi for a new key pair (POST /api_keys/generate) with the account's current
key, stores the new private key straight into the account's encrypted storage and switches the account to the
new key id. The private key is never shown, logged or returned. The old key stays on the exchange (processes
may still be signing with it) unless `delete_old` is given; it can be deleted from the admin afterwards.

Exactly once: the request is not resent blindly. Each attempt names its key uniquely; when the answer is lost
(timeout, 5xx) the key it may have created is looked up by that name and deleted at once, since its private
key is lost with the answer, and the admin is told to try again. Rate limited by the account's shared bucket
(trading.clients).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from django.db import transaction

from kalshiweb.kalshi import KalshiError, OutcomeUnknown
from trading.clients import client_for
from trading.models import KalshiAccount

log = logging.getLogger(__name__)


class KeyRotationFailed(Exception):
    pass


@dataclass(frozen=True)
class Rotated:
    old_key_id: str
    new_key_id: str
    old_deleted: bool


def generate_key(
    account: KalshiAccount, *, delete_old: bool = False, scopes: tuple[str, ...] = ("read", "write")
) -> Rotated:
    if not account.has_key:
        raise KeyRotationFailed(
            f"{account.name}: no key stored; the exchange needs a signed request to make one"
        )
    client = client_for(account)
    name = f"kalshiweb-{account.pk}-{uuid.uuid4().hex[:12]}"
    old = account.api_key_id
    try:
        generated = client.generate_api_key(name, scopes=list(scopes))
    except OutcomeUnknown:
        orphan = _find_quietly(client, name)
        if orphan is not None:
            _delete_quietly(client, orphan)
        raise KeyRotationFailed(
            f"{account.name}: the exchange did not answer; any key it made was deleted. Nothing changed: try again."
        ) from None
    except KalshiError as exc:
        raise KeyRotationFailed(f"{account.name}: the exchange refused to make a key: {exc}") from None
    try:
        with transaction.atomic():
            locked = KalshiAccount.objects.select_for_update().get(pk=account.pk)
            locked.api_key_id = generated.api_key_id
            locked.set_private_key(generated.private_key)
            locked.save(update_fields=["api_key_id", "private_key_encrypted"])
    except Exception:
        # Not stored: the new key is useless without its private key; remove it and keep the old one.
        _delete_quietly(client, generated.api_key_id)
        raise
    account.refresh_from_db()
    deleted = False
    if delete_old and old:
        try:
            client_for(account).delete_api_key(old)
            deleted = True
        except KalshiError as exc:
            log.warning("%s: new key stored; the old key %s could not be deleted: %s", account.name, old, exc)
    log.info("%s: API key rotated (%s -> %s)", account.name, old, generated.api_key_id)
    return Rotated(old, generated.api_key_id, deleted)


def _find_quietly(client: object, name: str) -> str | None:
    try:
        key = client.find_api_key(name=name)  # type: ignore[attr-defined]
    except Exception:
        return None
    return None if key is None else str(key.api_key_id)


def _delete_quietly(client: object, key_id: str) -> None:
    try:
        client.delete_api_key(key_id)  # type: ignore[attr-defined]
    except Exception:
        log.warning("could not delete API key %s", key_id, exc_info=True)
