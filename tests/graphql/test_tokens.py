"""API tokens: the settings page (create, name, list, revoke; shown once; stored hashed; expiry; read-only) and
`manage.py create_api_token`."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from kalshiweb.models import ApiToken, digest
from tests.factories import make_user
from tests.graphql.conftest import codes, gql, post

pytestmark = pytest.mark.django_db(transaction=True)


def created_token(html: str) -> str:
    match = re.search(r'id="new-token">(kwt_[A-Za-z0-9_-]+)<', html)
    assert match, html[:3000]
    return match.group(1)


def test_a_trader_creates_lists_and_revokes_tokens_on_the_settings_page(trader):
    page = Client()
    page.force_login(trader)
    response = page.post(
        "/account/api-tokens/",
        {"action": "create", "name": "quote bot", "read_only": "on", "expires_in_days": "30"},
    )
    assert response.status_code == 200
    raw = created_token(response.content.decode())
    stored = ApiToken.objects.get(user=trader)
    assert stored.name == "quote bot" and stored.read_only and stored.expires_at is not None
    assert stored.token_digest == digest(raw) and raw not in stored.token_digest  # only the digest is kept
    listing = page.get("/account/api-tokens/").content.decode()
    assert "quote bot" in listing and stored.prefix in listing and raw not in listing  # shown once
    assert "read-only" in listing

    assert "errors" not in gql("{ orders { id } }", token=raw)
    assert codes(gql("mutation { cancelAllOrders { id } }", token=raw)) == ["FORBIDDEN"]
    assert (
        "—" not in page.get("/account/api-tokens/").content.decode().split(stored.prefix)[1].split("</tr>")[0]
    )
    assert ApiToken.objects.get(pk=stored.pk).last_used_at is not None

    # Another user cannot revoke it by its id; its owner can.
    mallory = Client()
    mallory.force_login(make_user("mallory"))
    mallory.post("/account/api-tokens/", {"action": "revoke", "token": stored.pk})
    assert ApiToken.objects.get(pk=stored.pk).revoked_at is None
    assert stored.prefix not in mallory.get("/account/api-tokens/").content.decode()
    page.post("/account/api-tokens/", {"action": "revoke", "token": stored.pk})
    assert ApiToken.objects.get(pk=stored.pk).revoked_at is not None
    assert post(Client(), "{ orders { id } }", token=raw).status_code == 401
    assert "revoked" in page.get("/account/api-tokens/").content.decode()


def test_the_settings_page_refuses_bad_input_and_needs_a_login(trader):
    assert Client().get("/account/api-tokens/").status_code == 302
    page = Client()
    page.force_login(trader)
    for data in (
        {"action": "create", "name": "  "},
        {"action": "create", "name": "x", "expires_in_days": "-1"},
    ):
        assert page.post("/account/api-tokens/", data).status_code == 400
    page.post("/account/api-tokens/", {"action": "revoke", "token": "abc"})
    assert ApiToken.objects.count() == 0


def test_create_api_token_prints_the_token_last(trader):
    out = StringIO()
    call_command("create_api_token", "alice", "--name", "ci", stdout=out)
    raw = out.getvalue().strip().splitlines()[-1]
    assert raw.startswith("kwt_") and ApiToken.objects.get(token_digest=digest(raw)).name == "ci"
    assert "errors" not in gql("{ orders { id } }", token=raw)
    out = StringIO()
    call_command("create_api_token", "alice", "--read-only", "--expires-days", "1", stdout=out)
    token = ApiToken.objects.get(token_digest=digest(out.getvalue().strip().splitlines()[-1]))
    assert token.read_only and token.expires_at is not None
    with pytest.raises(CommandError):
        call_command("create_api_token", "nobody", stdout=StringIO())


def test_staff_see_and_revoke_tokens_in_the_admin_but_never_read_one(trader):
    token, raw = ApiToken.issue(trader, "ci")
    staff = make_user("root", is_staff=True, is_superuser=True)
    admin = Client()
    admin.force_login(staff)
    listing = admin.get("/admin/kalshiweb/apitoken/")
    assert listing.status_code == 200 and "ci" in listing.content.decode()
    change = admin.get(f"/admin/kalshiweb/apitoken/{token.pk}/change/").content.decode()
    assert raw not in change and token.token_digest not in change
    assert admin.get("/admin/kalshiweb/apitoken/add/").status_code == 403
