"""Optional TOTP two-factor login: set up with a code, asked for after the password, refused when wrong, used
twice or after ten failures; compulsory for staff when configured; the browser socket waits for the code."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from tests.helpers import landed
from trading import twofactor
from trading.models import TOTPDevice

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery"


def make(username: str = "alice", **extra):
    return get_user_model().objects.create_user(username, password=PASSWORD, **extra)


def login(client: Client, username: str = "alice") -> None:
    response = client.post("/login/", {"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.content.decode()[:300]


def current_code(user, offset_steps: int = 0) -> str:
    device = TOTPDevice.objects.get(user=user)
    return twofactor.code_at(device.secret, twofactor.current_step() + offset_steps)


def enable(client: Client, user) -> None:
    page = client.get("/account/two-factor/").content.decode()
    assert "Turn on" in page and "<svg" in page
    response = client.post("/account/two-factor/", {"action": "enable", "code": current_code(user)})
    assert response.status_code == 302
    assert TOTPDevice.objects.get(user=user).confirmed


def test_the_codes_are_rfc_6238s():
    secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  # b32("12345678901234567890"), the RFC's SHA-1 key
    assert twofactor.code_at(secret, 59 // 30) == "287082"  # RFC 6238 appendix B, T = 59 s, last 6 digits
    assert twofactor.code_at(secret, 1111111109 // 30) == "081804"


def test_without_a_device_login_is_one_step(client):
    make()
    login(client)
    assert client.get("/markets/").status_code == 200


def test_a_turned_on_device_asks_for_a_code_after_the_password(client):
    alice = make()
    login(client)
    enable(client, alice)
    client.post("/logout/")
    login(client)
    response = client.get("/markets/?q=fed")
    assert response.status_code == 302 and response["Location"] == "/login/2fa/?next=/markets/%3Fq%3Dfed"
    htmx = client.get("/markets/", headers={"HX-Request": "true"})
    assert htmx.status_code == 204 and htmx["HX-Redirect"].startswith("/login/2fa/")
    assert client.post("/orders/kill-switch/").status_code == 302  # nothing else works meanwhile
    wrong = client.post("/login/2fa/", {"code": "000000", "next": "/markets/"})
    assert "That code is not right" in wrong.content.decode()
    right = client.post("/login/2fa/", {"code": current_code(alice, +1), "next": "/markets/"})
    assert right.status_code == 302 and right["Location"] == "/markets/"
    assert client.get("/markets/").status_code == 200


def test_a_code_works_once_and_off_site_next_is_ignored(client):
    alice = make()
    login(client)
    enable(client, alice)
    code = current_code(alice, +1)
    other = Client()
    login(other)
    assert other.post("/login/2fa/", {"code": code, "next": "https://evil.example/"})["Location"] == "/"
    third = Client()
    login(third)
    replay = third.post("/login/2fa/", {"code": code})
    assert replay.status_code == 200 and "already used" in replay.content.decode()


def test_ten_wrong_codes_lock_the_code_page_even_for_the_right_one(client):
    alice = make()
    login(client)
    enable(client, alice)
    client.post("/logout/")
    login(client)
    for _ in range(10):
        client.post("/login/2fa/", {"code": "123456"})
    locked = client.post("/login/2fa/", {"code": current_code(alice, +1)})
    assert "Too many wrong codes" in locked.content.decode()
    assert client.get("/markets/").status_code == 302


def test_turning_it_on_gates_the_users_other_sessions(client):
    alice = make()
    earlier = Client()
    login(earlier)
    assert earlier.get("/markets/").status_code == 200
    login(client)
    enable(client, alice)
    assert earlier.get("/markets/").status_code == 302


def test_staff_must_set_it_up_when_required(client, settings):
    settings.KALSHIWEB_REQUIRE_2FA = "staff"
    make("root", is_staff=True)
    make("bob")
    login(client, "root")
    assert client.get("/markets/")["Location"].startswith("/account/two-factor/")
    page = client.get("/account/two-factor/").content.decode()
    assert "requires two-factor login" in page
    bob = Client()
    login(bob, "bob")
    assert bob.get("/markets/").status_code == 200


def test_a_pending_session_gets_no_browser_socket(daphne_server):
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed, InvalidStatus

    from tests.factories import make_market

    make_market("KXFED-26DEC-T4.25")
    alice = make()
    client = Client()
    login(client)
    enable(client, alice)
    client.post("/logout/")
    login(client)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    host = urlsplit(daphne_server).netloc
    url = f"ws://{host}/ws/markets/?tickers=KXFED-26DEC-T4.25"

    async def attempt() -> str:
        try:
            async with connect(url, origin=daphne_server, additional_headers={"Cookie": cookie}) as ws:
                try:
                    await asyncio.wait_for(ws.recv(), 3)
                except ConnectionClosed as closed:
                    return f"closed {closed.rcvd.code if closed.rcvd else None}"
                except TimeoutError:
                    pass
                return "open"
        except InvalidStatus as refused:
            return f"refused {refused.response.status_code}"

    assert asyncio.run(attempt()) == "refused 403"  # the handshake itself is refused
    assert client.post("/login/2fa/", {"code": current_code(alice, +1)}).status_code == 302
    cookie = f"sessionid={client.cookies['sessionid'].value}"  # the key changed with the verification
    assert asyncio.run(attempt()) == "open"


@pytest.mark.browser
def test_a_trader_turns_it_on_and_logs_in_with_a_code_in_chromium(daphne_server, page):
    make()
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{daphne_server}/login/")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(landed(daphne_server))
    page.click("a.who")  # the user name in the top bar leads to the account's two-factor page
    page.wait_for_url(f"{daphne_server}/account/two-factor/")
    assert page.locator(".qr svg").is_visible()
    secret = page.locator("code.secret").inner_text().strip()
    page.fill("input[name=code]", twofactor.code_at(secret, twofactor.current_step()))
    page.click("button:has-text('Turn on')")
    page.locator("text=every login asks for a code").wait_for(timeout=10000)
    page.click("nav.user-nav button:has-text('Log out')")
    page.goto(f"{daphne_server}/login/")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{daphne_server}/markets/")
    page.wait_for_url(f"{daphne_server}/login/2fa/?next=/markets/")
    page.fill("input[name=code]", twofactor.code_at(secret, twofactor.current_step() + 1))
    page.click("button:has-text('Continue')")
    page.wait_for_url(f"{daphne_server}/markets/")
