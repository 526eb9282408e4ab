from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model


@pytest.mark.django_db
def test_it_shows_the_environment_badge_on_the_home_page(client):
    response = client.get("/")
    assert response.status_code == 200
    assert b"env-badge env-simulator" in response.content
    assert b"SIMULATOR" in response.content


@pytest.mark.django_db
def test_it_rejects_post_on_the_home_page(client):
    assert client.post("/").status_code == 405


@pytest.mark.browser
def test_a_trader_logs_in_and_sees_the_home_page_in_chromium(daphne_server, page):
    get_user_model().objects.create_user("alice", password="correct-horse-battery")
    page.goto(f"{daphne_server}/login/")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "correct-horse-battery")
    page.click("button[type=submit]")
    page.wait_for_url(f"{daphne_server}/")
    assert page.locator(".who").inner_text() == "alice"
    assert page.locator(".env-badge").inner_text() == "SIMULATOR"
