"""Production security: `check --deploy` is clean with the production variables, the Content-Security-Policy
allows no inline script, passwords are hashed with Argon2, and repeated wrong passwords lock a login."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from django.core.management import call_command

from tests.conftest import ROOT
from tests.factories import make_user
from tests.static_once import PRODUCTION_ENV, production_env


def check_deploy(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    # A var/ of its own: the default secret key would otherwise be the one generated there.
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**production_env(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_reports_no_issues_with_the_production_variables(tmp_path, collected_static):
    # collected_static: the run's one production `collectstatic` (tests/static_once.py).
    result = check_deploy(tmp_path, KALSHIWEB_STATIC_ROOT=str(collected_static))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_reports_the_issues_without_https_or_collected_static_files(tmp_path):
    result = check_deploy(tmp_path, **{**PRODUCTION_ENV, "KALSHIWEB_HTTPS": "false"})
    assert result.returncode != 0
    for code in ("security.W004", "security.W008", "security.W012", "security.W016", "kalshiweb.W001"):
        assert code in result.stderr + result.stdout


@pytest.mark.django_db
def test_https_mode_redirects_to_tls_but_not_the_probes(client, settings):
    # What KALSHIWEB_HTTPS=true sets (settings are read once; the subprocess test above covers the switch).
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
    settings.SECURE_HSTS_SECONDS = 31536000
    assert client.get("/login/").status_code == 301
    assert client.get("/healthz").status_code == 200
    secure = client.get("/login/", headers={"X-Forwarded-Proto": "https"})
    assert secure.status_code == 200
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=31536000")


# --- Content-Security-Policy ------------------------------------------------------------------------------


def csp_directives(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


@pytest.mark.django_db
def test_every_page_has_a_csp_without_inline_or_eval_scripts(client):
    user = make_user("alice")
    client.force_login(user)
    for url in ("/login/", "/markets/", "/orders/", "/portfolio/", "/markets/watchlist/"):
        response = client.get(url)
        assert response.status_code == 200, url
        directives = csp_directives(response.headers["Content-Security-Policy"])
        scripts = directives.get("script-src", directives["default-src"])
        assert "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts, url
        assert not any(s.startswith("'nonce-") for s in scripts), url  # not even nonce'd inline script
        assert directives["object-src"] == ["'none'"] and directives["frame-ancestors"] == ["'none'"]
        # htmx's injected <style> carries this response's nonce.
        nonce = next(s for s in directives["style-src"] if s.startswith("'nonce-"))[7:-1]
        assert f'"inlineStyleNonce": "{nonce}"' in response.content.decode()


TEMPLATES = ROOT / "templates"
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"\s(on[a-z]+|hx-on[:\-][\w:\-]*)\s*=", re.IGNORECASE)
# An htmx trigger filter ([...]) and hx-vals/hx-vars "js:" are evaluated with eval, which the CSP forbids.
EVAL_ATTRIBUTE = re.compile(r"hx-trigger=\"[^\"]*\[[^\"]*\"|hx-vars=|hx-vals=['\"]\s*(js|javascript):")


def test_no_template_has_inline_script_event_handlers_or_eval():
    problems = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = path.read_text()
        for pattern in (INLINE_SCRIPT, EVENT_HANDLER, EVAL_ATTRIBUTE):
            for match in pattern.finditer(text):
                snippet = match.group(0)
                if "from:input[name=" in snippet:  # a CSS selector in a from: clause, not a filter
                    continue
                problems.append(f"{path.relative_to(ROOT)}: {snippet.strip()[:80]}")
        if "javascript:" in text:
            problems.append(f"{path.relative_to(ROOT)}: javascript: URL")
    assert problems == []


# --- passwords and the login lockout ----------------------------------------------------------------------


@pytest.mark.django_db
def test_passwords_are_hashed_with_argon2():
    assert make_user("alice").password.startswith("argon2$")


def log_in(http: httpx.Client, base: str, username: str, password: str) -> httpx.Response:
    page = http.get(f"{base}/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token is not None
    return http.post(
        f"{base}/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": token.group(1)},
        headers={"Referer": f"{base}/login/"},
    )


@pytest.mark.django_db(transaction=True)
def test_the_11th_login_in_a_row_is_refused_even_with_the_right_password(daphne_server):
    make_user("alice")
    make_user("bob")
    with httpx.Client(timeout=10) as http:
        for _ in range(9):
            assert log_in(http, daphne_server, "alice", "wrong").status_code == 200  # the form again
        tenth = log_in(http, daphne_server, "alice", "wrong")
        assert tenth.status_code == 429
        eleventh = log_in(http, daphne_server, "alice", "correct-horse-battery")
        assert eleventh.status_code == 429
        assert "Too many failed logins" in eleventh.text and "15 minutes" in eleventh.text
        assert "sessionid" not in http.cookies
        assert http.get(f"{daphne_server}/orders/").status_code == 302  # not logged in
        # The same address is locked for every username (ten failures from it).
        assert log_in(http, daphne_server, "bob", "correct-horse-battery").status_code == 429

    # An administrator unlocks the username and the address.
    call_command("axes_reset_username", "alice")
    call_command("axes_reset_ip", "127.0.0.1")
    with httpx.Client(timeout=10) as http:
        response = log_in(http, daphne_server, "alice", "correct-horse-battery")
        assert response.status_code == 302 and "sessionid" in http.cookies


@pytest.mark.django_db
def test_a_username_is_locked_from_any_address_and_an_address_for_any_username(client, settings):
    make_user("alice")
    make_user("carol")
    for i in range(10):  # ten wrong passwords for alice, each from another address
        client.post("/login/", {"username": "alice", "password": "wrong"}, REMOTE_ADDR=f"10.0.0.{i + 1}")
    refused = client.post(
        "/login/", {"username": "alice", "password": "correct-horse-battery"}, REMOTE_ADDR="10.0.1.1"
    )
    assert refused.status_code == 429
    # Another trader from a fresh address is not affected.
    fine = client.post(
        "/login/", {"username": "carol", "password": "correct-horse-battery"}, REMOTE_ADDR="10.0.1.1"
    )
    assert fine.status_code == 302


@pytest.mark.django_db
def test_behind_the_proxy_the_address_is_the_one_the_proxy_saw(client, settings):
    settings.KALSHIWEB_PROXY_COUNT = 1
    make_user("dave")
    for i in range(10):  # one client (203.0.113.9) trying ten usernames, forging the start of the header
        client.post(
            "/login/",
            {"username": f"nobody{i}", "password": "wrong"},
            REMOTE_ADDR="10.0.0.2",  # the proxy
            HTTP_X_FORWARDED_FOR=f"1.2.3.{i}, 203.0.113.9",
        )
    refused = client.post(
        "/login/",
        {"username": "dave", "password": "correct-horse-battery"},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="203.0.113.9",
    )
    assert refused.status_code == 429
    other = client.post(
        "/login/",
        {"username": "dave", "password": "correct-horse-battery"},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="198.51.100.7",
    )
    assert other.status_code == 302
