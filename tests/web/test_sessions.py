"""Sessions are read from Redis and written through to the database, which stays the truth."""

from __future__ import annotations

import pytest
from django.contrib.sessions.backends.cached_db import SessionStore
from django.contrib.sessions.models import Session
from django.core.cache import cache

from tests.factories import make_user

pytestmark = pytest.mark.django_db


def test_a_login_survives_losing_its_cached_copy(client):
    make_user("alice")
    response = client.post("/login/", {"username": "alice", "password": "correct-horse-battery"})
    assert response.status_code == 302
    key = client.cookies["sessionid"].value
    assert Session.objects.filter(session_key=key).exists()  # written through to the database
    assert cache.get(SessionStore.cache_key_prefix + key) is not None  # and read from Redis
    cache.delete(SessionStore.cache_key_prefix + key)  # as after a Redis restart
    assert client.get("/orders/").status_code == 200  # still logged in, from the database


def test_logging_out_ends_the_session_in_redis_and_in_the_database(client):
    make_user("alice")
    client.post("/login/", {"username": "alice", "password": "correct-horse-battery"})
    key = client.cookies["sessionid"].value
    client.post("/logout/")
    assert not Session.objects.filter(session_key=key).exists()
    assert cache.get(SessionStore.cache_key_prefix + key) is None
    assert client.get("/orders/").status_code == 302  # back to the login page


def test_a_wrong_password_is_refused_by_the_first_backend_without_trying_the_next():
    from django.core.exceptions import PermissionDenied

    from trading.auth import TraderBackend

    alice = make_user("alice")
    assert TraderBackend().authenticate(None, username="alice", password="correct-horse-battery") == alice
    with pytest.raises(PermissionDenied):
        TraderBackend().authenticate(None, username="alice", password="wrong")
    with pytest.raises(PermissionDenied):
        TraderBackend().authenticate(None, username="nobody", password="wrong")
    assert TraderBackend().authenticate(None, token="other credentials") is None  # not ours to refuse


def test_a_wrong_password_shows_the_login_form_again(client):
    make_user("alice")
    response = client.post("/login/", {"username": "alice", "password": "wrong"})
    assert response.status_code == 200 and "sessionid" not in response.cookies
    assert client.get("/orders/").status_code == 302
