"""User API tokens with remembered user objects: every request still checks the token and the
user's flags in the database, so a change made elsewhere (another master, a plain UPDATE without
signals) counts on the next request; what is remembered is bounded in number and age."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from rest_framework.test import APIClient

from scheduler_site import token_users, tokens
from scheduler_site.models import ApiToken
from tests.conftest import make_user


@pytest.fixture(autouse=True)
def empty_cache():
    token_users.forget()
    yield
    token_users.forget()


def client_with(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def issue(user: User) -> tuple[ApiToken, str]:
    return ApiToken.issue(user=user)


def test_a_token_deleted_by_another_process_is_refused_on_the_next_request(operator):
    row, token = issue(operator)
    client = client_with(token)
    assert client.get("/api/v1/tasks").status_code == 200
    with connection.cursor() as cursor:  # no signal reaches this process's memory
        cursor.execute(f"DELETE FROM {ApiToken._meta.db_table} WHERE id = %s", [row.pk])

    assert client.get("/api/v1/tasks").status_code == 401


def test_a_user_deactivated_without_signals_is_refused_on_the_next_request(operator):
    _, token = issue(operator)
    client = client_with(token)
    assert client.get("/api/v1/tasks").status_code == 200
    User.objects.filter(pk=operator.pk).update(is_active=False)

    assert client.get("/api/v1/tasks").status_code == 401


def test_a_permission_taken_away_counts_on_the_next_request(operator):
    _, token = issue(operator)
    client = client_with(token)
    assert client.post("/api/v1/tasks", {"command": "true"}, format="json").status_code == 201
    operator.user_permissions.remove(Permission.objects.get(codename="add_task"))

    assert client.post("/api/v1/tasks", {"command": "true"}, format="json").status_code == 403


def test_a_user_made_superuser_elsewhere_is_seen_at_once(db):
    user = make_user("plain")
    _, token = issue(user)
    client = client_with(token)
    assert client.post("/api/v1/tasks", {"command": "true"}, format="json").status_code == 403
    User.objects.filter(pk=user.pk).update(is_superuser=True)

    assert client.post("/api/v1/tasks", {"command": "true"}, format="json").status_code == 201


def test_a_wrong_secret_is_refused_even_when_the_token_id_is_remembered(operator):
    row, token = issue(operator)
    assert client_with(token).get("/api/v1/tasks").status_code == 200
    forged = tokens.make_token(tokens.USER_PREFIX, row.key_id, tokens.new_secret())

    assert client_with(forged).get("/api/v1/tasks").status_code == 401


def test_remembered_users_are_bounded_in_number(monkeypatch, operator):
    monkeypatch.setattr(token_users, "MAX_ENTRIES", 2)
    rows = [issue(operator) for _ in range(3)]
    for _, token in rows:
        assert client_with(token).get("/api/v1/tasks").status_code == 200

    assert list(token_users._entries) == [row.key_id for row, _ in rows[1:]]


def test_a_remembered_user_is_read_again_after_its_time(monkeypatch, operator):
    _, token = issue(operator)
    parsed = tokens.parse_token(token, tokens.USER_PREFIX)
    assert token_users.user_for(parsed.ident, parsed.secret).username == "operator"
    User.objects.filter(pk=operator.pk).update(username="renamed")
    assert token_users.user_for(parsed.ident, parsed.secret).username == "operator"  # within TTL
    monkeypatch.setattr(token_users, "TTL", 0.0)

    assert token_users.user_for(parsed.ident, parsed.secret).username == "renamed"


def test_each_request_gets_its_own_user_object_without_permission_caches(operator):
    _, token = issue(operator)
    parsed = tokens.parse_token(token, tokens.USER_PREFIX)
    first = token_users.user_for(parsed.ident, parsed.secret)
    assert first.has_perm("tasks.add_task")  # fills first's permission cache
    second = token_users.user_for(parsed.ident, parsed.secret)

    assert second is not first
    assert "_perm_cache" not in second.__dict__


def test_a_deleted_token_is_forgotten_at_once(operator):
    row, token = issue(operator)
    assert client_with(token).get("/api/v1/tasks").status_code == 200
    assert row.key_id in token_users._entries
    row.delete()

    assert row.key_id not in token_users._entries
