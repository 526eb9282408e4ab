"""An admin rotates an account's API key on the exchange in one step (issue #15 item 11): the new private key
goes straight into the encrypted storage and is never shown; a lost answer leaves nothing behind. Real
simulator over loopback HTTP."""

from __future__ import annotations

import pytest

from trading.api_keys import KeyRotationFailed, generate_key
from trading.clients import client_for, forget_clients
from trading.models import KalshiAccount

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def fresh_clients(sim):
    sim.faults.reset()
    forget_clients()
    yield
    forget_clients()
    sim.faults.reset()


def keys_of(account: KalshiAccount) -> dict[str, str]:
    return {k.api_key_id: k.name for k in client_for(account).get_api_keys()}


def test_generate_key_switches_the_account_to_a_new_key_stored_encrypted(sim, trader):
    account = trader.kalshi_account
    old_key, old_secret = account.api_key_id, account.private_key_encrypted
    rotated = generate_key(account)
    account.refresh_from_db()
    assert account.api_key_id == rotated.new_key_id != old_key
    assert account.private_key_encrypted and account.private_key_encrypted != old_secret
    assert "PRIVATE KEY" not in account.private_key_encrypted  # stored encrypted, not as PEM
    client_for(account).get_balance()  # the new key signs for the same exchange account
    listed = keys_of(account)
    assert {old_key, rotated.new_key_id} <= set(listed) and not rotated.old_deleted
    assert listed[rotated.new_key_id].startswith(f"kalshiweb-{account.pk}-")


def test_deleting_the_old_key_leaves_only_the_new_one(sim, trader):
    account = trader.kalshi_account
    old_key = account.api_key_id
    rotated = generate_key(account, delete_old=True)
    account.refresh_from_db()
    assert rotated.old_deleted and old_key not in keys_of(account)


def test_a_lost_answer_changes_nothing_and_leaves_no_orphan_key(sim, trader):
    account = trader.kalshi_account
    before = keys_of(account)
    sim.faults.fail_next(1, "timeout_after_accept", "/api_keys/generate", hang_seconds=0.2)
    with pytest.raises(KeyRotationFailed, match="did not answer"):
        generate_key(account)
    account.refresh_from_db()
    assert account.api_key_id in before
    assert keys_of(account) == before  # the key the exchange made was found by its name and deleted


def test_the_admin_action_rotates_and_never_shows_the_key(sim, trader, client, django_user_model):
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw-for-tests-only")
    client.force_login(admin)
    account = trader.kalshi_account
    old_key = account.api_key_id
    response = client.post(
        "/admin/trading/kalshiaccount/",
        {"action": "generate_api_key", "_selected_action": [account.pk]},
        follow=True,
    )
    body = response.content.decode()
    account.refresh_from_db()
    assert account.api_key_id != old_key and f"now signs with the new key {account.api_key_id}" in body
    assert "PRIVATE KEY" not in body
