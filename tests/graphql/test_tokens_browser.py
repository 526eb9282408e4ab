"""In headless Chromium under the CSP: a trader opens API tokens from the top bar, creates a read-only token, sees
it once, revokes it. Screenshots (1440x900, light and dark) go to KALSHIWEB_SHOTS_DIR when it is set."""

from __future__ import annotations

import pytest

from kalshiweb.models import ApiToken, digest
from tests.helpers import landed
from tests.web.test_ops_csp_browser import RECORD_VIOLATIONS, shoot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_trader_makes_and_revokes_a_token_in_the_browser(trader, daphne_server, browser):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.add_init_script(RECORD_VIOLATIONS)
    try:
        page.goto(f"{daphne_server}/login/")
        page.fill("input[name=username]", "alice")
        page.fill("input[name=password]", "correct-horse-battery")
        page.click("button[type=submit]")
        page.wait_for_url(landed(daphne_server))
        page.click("header a.api-tokens")
        page.wait_for_url(f"{daphne_server}/account/api-tokens/")
        page.fill("input[name=name]", "quote bot")
        page.check("input[name=read_only]")
        page.fill("input[name=expires_in_days]", "30")
        page.click("button:has-text('Create token')")
        raw = page.locator("#new-token").inner_text(timeout=10000).strip()
        token = ApiToken.objects.get(user=trader)
        assert token.token_digest == digest(raw) and token.read_only
        shoot(page, "api-tokens")
        page.goto(f"{daphne_server}/account/api-tokens/")
        assert page.locator("#new-token").count() == 0 and raw not in page.content()  # shown once
        page.locator(f"#token-{token.pk} button", has_text="Revoke").click()
        page.locator(f"#token-{token.pk}").filter(has_text="revoked").wait_for(timeout=10000)
        shoot(page, "api-tokens-revoked")
        assert page.evaluate("window.__csp") == []
    finally:
        context.close()
    token.refresh_from_db()
    assert token.revoked_at is not None
