"""`manage.py kalshi_check` against the simulator: one line per check, per key, with the fix; exit 1 on a failure."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from kalshiweb.simulator.auth import generate_rsa_key_pair
from kalshiweb.simulator.testing import RunningSimulator, start_simulator
from trading.models import KalshiAccount

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def sim() -> Iterator[RunningSimulator]:
    with start_simulator(seed=1, activity=0.0) as running:
        yield running


@pytest.fixture
def deployment(sim, settings, tmp_path):
    key_id, pem = sim.add_account(Decimal("100"))
    path = tmp_path / "deploy.pem"
    path.write_bytes(pem)
    settings.KALSHI_ENV = "simulator"
    settings.KALSHI_API_BASE = sim.rest_base
    settings.KALSHI_API_KEY_ID = key_id
    settings.KALSHI_PRIVATE_KEY_PATH = str(path)
    return key_id


def account(name: str, key_id: str, pem: bytes) -> KalshiAccount:
    acct = KalshiAccount(name=name, environment=KalshiAccount.Environment.SIMULATOR, api_key_id=key_id)
    acct.set_private_key(pem)
    acct.save()
    return acct


def test_all_good_prints_every_check_and_passes(sim, deployment):
    account("alice-sim", *sim.add_account(Decimal("100")))
    out = StringIO()
    call_command("kalshi_check", stdout=out)
    text = out.getvalue()
    assert f"key {deployment}" in text and "Account 'alice-sim'" in text
    assert text.count("OK    key") == 2 and text.count("OK    write") == 2
    assert "All checks passed." in text


def test_a_refused_account_key_fails_the_command_and_names_it(sim, deployment):
    account("alice-sim", *sim.add_account(Decimal("100")))
    pem, _ = generate_rsa_key_pair()
    account("bob-revoked", "revoked-key-id", pem)
    out = StringIO()
    with pytest.raises(CommandError, match="1 check"):
        call_command("kalshi_check", stdout=out)
    text = out.getvalue()
    bob = text[text.index("Account 'bob-revoked'") :]
    assert "FAIL  key      Key revoked-key-id refused" in bob and "KALSHI_API_KEY_ID" in bob


def test_a_skewed_clock_is_named_for_every_key(sim, deployment):
    sim.faults.clock_skew(300)
    try:
        out = StringIO()
        with pytest.raises(CommandError):
            call_command("kalshi_check", "--deployment-only", stdout=out)
    finally:
        sim.faults.reset()
    assert "FAIL  clock    Clock 5 min off: this machine is behind the exchange" in out.getvalue()


def test_the_admin_checks_selected_accounts_with_the_same_diagnosis(sim, deployment, client):
    from django.contrib.auth import get_user_model

    good = account("alice-sim", *sim.add_account(Decimal("100")))
    pem, _ = generate_rsa_key_pair()
    bad = account("bob-revoked", "revoked-key-id", pem)
    admin = get_user_model().objects.create_superuser("root", password="correct-horse-battery")
    client.force_login(admin)
    response = client.post(
        "/admin/trading/kalshiaccount/",
        {"action": "check_connection", "_selected_action": [good.pk, bad.pk], "index": 0, "select_across": 0},
        follow=True,
    )
    text = "\n".join(str(m) for m in response.context["messages"])
    assert "alice-sim: OK    dns" in text and "OK    write    key may trade" in text
    assert "bob-revoked: OK    dns" in text and "FAIL  key      Key revoked-key-id refused" in text
