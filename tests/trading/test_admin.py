"""The Kalshi account admin never renders a private key back: not on the change form, not when a form with a
pasted key comes back with another error, not when the pasted text is not a key."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from trading.models import KalshiAccount

pytestmark = pytest.mark.django_db

ADD = "/admin/trading/kalshiaccount/add/"


@pytest.fixture
def staff_client(client, django_user_model):
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw-for-tests-only")
    client.force_login(admin)
    return client


@pytest.fixture(scope="module")
def pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def assert_no_key_in(body: str, pem: str) -> None:
    # Any one line of the key's base64 body is enough to leak it (escaping does not touch base64 text).
    lines = [line for line in pem.strip().splitlines() if not line.startswith("-----")]
    assert len(lines) > 10
    leaked = [line for line in lines if line in body]
    assert not leaked, f"{len(leaked)} of {len(lines)} lines of the private key are in the page"


def test_the_add_form_with_another_error_does_not_render_the_pasted_key(staff_client, pem):
    response = staff_client.post(
        ADD, {"name": "", "environment": "simulator", "api_key_id": "key-1", "private_key": pem}
    )
    assert response.status_code == 200  # the form comes back with its error
    body = response.content.decode()
    assert "This field is required." in body
    assert "paste the key again" in body
    assert_no_key_in(body, pem)
    assert not KalshiAccount.objects.exists()


def test_the_add_form_does_not_echo_text_that_is_not_a_usable_key(staff_client, pem):
    broken = pem.replace("PRIVATE KEY", "PRIVATE KYE")
    response = staff_client.post(
        ADD, {"name": "desk", "environment": "simulator", "api_key_id": "key-1", "private_key": broken}
    )
    body = response.content.decode()
    assert "This is not a usable private key" in body
    assert_no_key_in(body, broken)
    assert not KalshiAccount.objects.exists()


def test_the_change_form_never_renders_the_key(staff_client, pem):
    account = KalshiAccount(name="desk", environment="simulator", api_key_id="key-1")
    account.set_private_key(pem)
    account.save()
    url = f"/admin/trading/kalshiaccount/{account.pk}/change/"
    body = staff_client.get(url).content.decode()
    assert "Paste a PEM private key" in body
    assert_no_key_in(body, pem)
    assert account.private_key_encrypted not in body

    # A change that pastes the key again but has another error comes back without it, and changes nothing.
    response = staff_client.post(
        url, {"name": "desk", "environment": "nowhere", "api_key_id": "key-1", "private_key": pem}
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "Select a valid choice" in body
    assert_no_key_in(body, pem)
    account.refresh_from_db()
    assert account.environment == "simulator"


def test_a_valid_add_still_stores_the_key(staff_client, pem):
    response = staff_client.post(
        ADD, {"name": "desk", "environment": "simulator", "api_key_id": "key-1", "private_key": pem}
    )
    assert response.status_code == 302
    account = KalshiAccount.objects.get(name="desk")
    assert account.has_key and account.signer().key_id == "key-1"
