"""Who may call what: nothing anonymous, permissions to change things, node tokens only for their own
node, the join token only to register; sessions with CSRF; tokens never stored in clear."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.urls import URLPattern, get_resolver
from rest_framework.test import APIClient

from nodes.models import Node
from scheduler_site import tokens
from scheduler_site.models import ApiToken
from tasks.models import Task, TaskStatus
from tests import builders
from tests.api.support import both_slashes, client_with, row_counts
from tests.conftest import make_user, token_client

pytestmark = pytest.mark.django_db

PRIVATE_READS = ["/api/v1/tasks/{task}/logs", "/api/v1/tasks/{task}/logs/raw"]  # owner and operators only
READS = ["/api/v1/", "/api/v1/tasks", "/api/v1/tasks/{task}", *PRIVATE_READS, "/api/v1/nodes",
         "/api/v1/nodes/{node}", "/api/schema/", "/api/docs/"]
WRITES = ["/api/v1/tasks", "/api/v1/tasks/{task}/cancel", "/api/v1/nodes/{node}/drain",
          "/api/v1/nodes/{node}/undrain"]
INTERNAL = ["/api/v1/internal/register", "/api/v1/internal/nodes/{node}/heartbeat"]
OPEN_TO_ANYONE = {"auth-token", "auth-login", "auth-logout", "auth-me"}


@pytest.fixture
def world(db):
    """A node with its agent's token and a task waiting on it: what the endpoints could change."""
    node, node_token = builders.node_with_token("node-a")
    node.draining = True  # so that both drain and undrain would change something
    Node.objects.filter(pk=node.pk).update(draining=True)
    task = builders.task()
    return {"node": node, "node_token": node_token, "task": task}


def fill(path: str, world: dict) -> str:
    return path.format(task=world["task"].pk, node=world["node"].pk)


def call(client: APIClient, method: str, path: str):
    if method == "post":
        return client.post(path, {"command": "true"}, format="json")
    return client.get(path)


def nothing_changed(world: dict, counts: dict) -> None:
    assert row_counts() == counts
    assert Task.objects.get(pk=world["task"].pk).status == TaskStatus.PENDING
    node = Node.objects.get(pk=world["node"].pk)
    assert node.draining is True
    assert node.last_heartbeat == world["node"].last_heartbeat


# Anonymous callers


@pytest.mark.parametrize("method, path", [("get", p) for p in both_slashes(*READS)]
                         + [("post", p) for p in both_slashes(*WRITES, *INTERNAL)])
def test_anonymous_callers_get_401_and_change_nothing(anon, world, method, path):
    counts = row_counts()

    response = call(anon, method, fill(path, world))

    assert response.status_code == 401, response.content
    nothing_changed(world, counts)


def api_routes() -> list[tuple[str, str]]:
    """(name, concrete path) of every named route under /api/: new endpoints are covered by default."""
    routes = []
    for pattern in get_resolver().url_patterns:
        if isinstance(pattern, URLPattern) and pattern.name and str(pattern.pattern).startswith("^api/"):
            path = re.sub(r"\(\?P<pk>[^)]*\)", "1", str(pattern.pattern)).lstrip("^").removesuffix("/?$")
            routes.append((pattern.name, "/" + path))
    return routes


def test_the_route_sweep_sees_every_row_of_the_api_table():
    names = {name for name, _ in api_routes()}

    assert {"task-list", "task-detail", "task-cancel", "task-logs", "task-logs-raw", "node-list", "node-detail",
            "node-drain", "node-undrain", "internal-register", "internal-heartbeat", "schema", "docs"} <= names


@pytest.mark.parametrize("name, path", [r for r in api_routes() if r[0] not in OPEN_TO_ANYONE])
@pytest.mark.parametrize("method", ["get", "post"])
def test_every_api_route_but_sign_in_refuses_anonymous_callers(anon, name, path, method):
    response = call(anon, method, path)

    assert response.status_code == 401, (name, response.content)


def test_anonymous_callers_may_ask_for_a_token(anon, operator):
    response = anon.post("/api/v1/auth/token", {"username": "operator", "password": "pw-operator"}, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["token"].startswith("msu_")


def test_anonymous_callers_may_sign_in(anon, operator):
    response = anon.post("/api/v1/auth/login", {"username": "operator", "password": "pw-operator"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["username"] == "operator"


@pytest.mark.parametrize("path", both_slashes("/api/v1/auth/me"))
def test_me_tells_anonymous_callers_they_are_not_signed_in(anon, path):
    response = anon.get(path)

    assert response.status_code == 200
    assert response.json() == {"authenticated": False, "detail": "Not signed in."}


def test_logging_out_when_not_signed_in_is_harmless(anon):
    counts = row_counts()

    assert anon.post("/api/v1/auth/logout").status_code == 204
    assert row_counts() == counts


def test_healthz_needs_no_sign_in(anon):
    assert anon.get("/healthz").status_code == 200


# Signed in without permissions


@pytest.mark.parametrize("path", both_slashes(*WRITES))
def test_a_user_without_permissions_gets_403_on_changes_and_changes_nothing(viewer_api, world, path):
    counts = row_counts()

    response = call(viewer_api, "post", fill(path, world))

    assert response.status_code == 403, response.content
    assert "permission" in response.json()["detail"]
    nothing_changed(world, counts)


@pytest.mark.parametrize("path", [p for p in READS if p not in PRIVATE_READS])
def test_a_user_without_permissions_can_read(viewer_api, world, path):
    response = viewer_api.get(fill(path, world))

    assert response.status_code == 200, response.content


@pytest.mark.parametrize("path", PRIVATE_READS)
def test_a_user_without_permissions_cannot_read_another_users_output(viewer_api, world, path):
    response = viewer_api.get(fill(path, world))

    assert response.status_code == 403, response.content


@pytest.mark.parametrize("perm, path", [("tasks.add_task", "/api/v1/tasks"),
                                        ("tasks.cancel_any_task", "/api/v1/tasks/{task}/cancel"),
                                        ("nodes.change_node", "/api/v1/nodes/{node}/undrain")])
def test_each_change_needs_its_own_permission(world, perm, path):
    only_that = token_client(make_user("only-that", perm))
    others = [p for p in ("tasks.add_task", "tasks.change_task", "tasks.cancel_any_task", "nodes.change_node")
              if p != perm]
    all_but_that = token_client(make_user("all-but-that", *others))

    assert call(all_but_that, "post", fill(path, world)).status_code == 403
    assert call(only_that, "post", fill(path, world)).status_code in (200, 201)


# Node tokens and the join token


@pytest.mark.parametrize("method, path", [("get", p) for p in READS] + [("post", p) for p in WRITES])
def test_a_node_token_is_refused_on_user_endpoints(world, method, path):
    counts = row_counts()

    response = call(client_with(world["node_token"]), method, fill(path, world))

    assert response.status_code == 401, response.content
    nothing_changed(world, counts)


def test_a_node_token_cannot_register_a_node(world):
    response = client_with(world["node_token"]).post("/api/v1/internal/register",
                                                     {"name": "rogue", "cpu": 1, "mem": 64}, format="json")

    assert response.status_code == 401
    assert not Node.objects.filter(name="rogue").exists()


def test_a_node_token_is_refused_on_another_nodes_heartbeat(world):
    other, _ = builders.node_with_token("node-b")

    response = client_with(world["node_token"]).post(f"/api/v1/internal/nodes/{other.pk}/heartbeat",
                                                     {"cpu_usage": 99}, format="json")

    assert response.status_code == 403
    assert "own node" in response.json()["detail"]
    refreshed = Node.objects.get(pk=other.pk)
    assert (refreshed.cpu_usage, refreshed.last_heartbeat) == (None, other.last_heartbeat)


@pytest.mark.parametrize("pk", ["abc", "-1", "0", "1" * 30])
def test_a_node_token_on_a_malformed_heartbeat_id_is_refused_as_not_its_node(world, pk):
    response = client_with(world["node_token"]).post(f"/api/v1/internal/nodes/{pk}/heartbeat", {}, format="json")

    assert response.status_code == 403


def test_a_forged_node_token_is_refused(world):
    forged = tokens.make_token(tokens.NODE_PREFIX, world["node"].pk, tokens.new_secret())

    response = client_with(forged).post(f"/api/v1/internal/nodes/{world['node'].pk}/heartbeat", {}, format="json")

    assert response.status_code == 401


@pytest.mark.parametrize("path", INTERNAL)
def test_a_user_token_is_refused_on_the_agent_endpoints(api, world, path):
    counts = row_counts()

    response = api.post(fill(path, world), {"name": "rogue", "cpu": 1, "mem": 64}, format="json")

    assert response.status_code == 401, response.content
    nothing_changed(world, counts)


@pytest.mark.parametrize("token", ["wrong-join-token-0123456789abcdef", "test-join-token-0123456789abcdeX", ""])
def test_a_wrong_join_token_cannot_register(world, token, settings):
    assert token != settings.SCHEDULER_JOIN_TOKEN
    counts = row_counts()

    response = client_with(token).post("/api/v1/internal/register", {"name": "rogue", "cpu": 1, "mem": 64},
                                       format="json")

    assert response.status_code == 401
    nothing_changed(world, counts)


def test_the_join_token_opens_nothing_but_register(joiner, world):
    assert call(joiner, "get", "/api/v1/tasks").status_code == 401
    assert call(joiner, "post", "/api/v1/tasks").status_code == 401
    assert joiner.post(f"/api/v1/internal/nodes/{world['node'].pk}/heartbeat", {}, format="json").status_code == 401


def test_a_signed_in_session_cannot_heartbeat_for_a_node(world, operator):
    browser = APIClient()
    browser.force_login(operator)

    response = browser.post(f"/api/v1/internal/nodes/{world['node'].pk}/heartbeat", {}, format="json")

    assert response.status_code == 401


# User tokens


@pytest.mark.parametrize("header", ["Token", "Token a b", "Token msu_nothex_secret", "Token msu_0a0a_secret",
                                    "Token msu_\x00_secret", "Token msn_1_secret"])
def test_a_malformed_or_unknown_token_is_refused(anon, header):
    anon.credentials(HTTP_AUTHORIZATION=header)

    assert anon.get("/api/v1/tasks").status_code == 401


def test_a_token_of_a_deactivated_user_is_refused(operator, api):
    operator.is_active = False
    operator.save()

    assert api.get("/api/v1/tasks").status_code == 401


def test_a_deleted_token_stops_working(operator, api):
    ApiToken.objects.filter(user=operator).delete()

    assert api.get("/api/v1/tasks").status_code == 401


@pytest.mark.parametrize("path", both_slashes("/api/v1/auth/token"))
def test_auth_token_issues_a_token_that_works(anon, operator, path):
    token = anon.post(path, {"username": "operator", "password": "pw-operator"}, format="json").json()["token"]

    response = client_with(token).post("/api/v1/tasks", {"command": "true"}, format="json")

    assert response.status_code == 201
    assert Task.objects.get(pk=response.json()["id"]).submitter == operator


@pytest.mark.parametrize("credentials", [{"username": "operator", "password": "wrong"},
                                         {"username": "nobody", "password": "pw-operator"},
                                         {"username": "operator"}, {}])
def test_auth_token_with_wrong_credentials_is_refused_and_issues_nothing(anon, operator, credentials):
    counts = row_counts()

    response = anon.post("/api/v1/auth/token", credentials, format="json")

    assert response.status_code == 400
    assert row_counts() == counts


def test_auth_token_refuses_an_inactive_user(anon, operator):
    operator.is_active = False
    operator.save()

    response = anon.post("/api/v1/auth/token", {"username": "operator", "password": "pw-operator"}, format="json")

    assert response.status_code == 400
    assert not ApiToken.objects.filter(user=operator).exists()


def test_password_guessing_on_auth_token_is_throttled(anon, operator):
    statuses = [
        anon.post("/api/v1/auth/token", {"username": "operator", "password": f"guess-{i}"}, format="json").status_code
        for i in range(31)
    ]

    assert statuses[:30] == [400] * 30
    assert statuses[30] == 429


# Sessions and CSRF


def browser() -> APIClient:
    """A browser-like client: CSRF enforced, with the cookie `auth/me` hands out."""
    client = APIClient(enforce_csrf_checks=True)
    assert client.get("/api/v1/auth/me").json()["authenticated"] is False
    assert "csrftoken" in client.cookies
    return client


def csrf(client: APIClient) -> dict:
    return {"HTTP_X_CSRFTOKEN": client.cookies["csrftoken"].value}


def sign_in(client: APIClient, username: str = "operator") -> None:
    response = client.post("/api/v1/auth/login", {"username": username, "password": f"pw-{username}"},
                           format="json", **csrf(client))
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("path", both_slashes("/api/v1/auth/login"))
def test_session_login_then_me_then_logout(operator, path):
    client = browser()

    response = client.post(path, {"username": "operator", "password": "pw-operator"}, format="json",
                           **csrf(client))

    assert response.status_code == 200, response.content
    assert response.json() == {"authenticated": True, "username": "operator", "is_staff": False,
                               "permissions": {"submit": True, "cancel": True, "cancel_any": True,
                                               "view_any": True, "drain": True}}
    assert client.get("/api/v1/auth/me").json()["username"] == "operator"
    assert client.get("/api/v1/tasks").status_code == 200

    assert client.post("/api/v1/auth/logout", **csrf(client)).status_code == 204
    assert client.get("/api/v1/auth/me").json()["authenticated"] is False
    assert client.get("/api/v1/tasks").status_code == 401


def test_me_shows_what_a_user_without_permissions_may_do(viewer):
    client = browser()
    sign_in(client, "viewer")

    assert client.get("/api/v1/auth/me").json()["permissions"] == {
        "submit": False, "cancel": False, "cancel_any": False, "view_any": False, "drain": False}


def test_login_without_the_csrf_token_is_refused(operator):
    client = browser()

    response = client.post("/api/v1/auth/login", {"username": "operator", "password": "pw-operator"},
                           format="json")

    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert client.get("/api/v1/auth/me").json()["authenticated"] is False


def test_login_with_a_wrong_password_signs_nobody_in(operator):
    client = browser()

    response = client.post("/api/v1/auth/login", {"username": "operator", "password": "nope"}, format="json",
                           **csrf(client))

    assert response.status_code == 400
    assert client.get("/api/v1/auth/me").json()["authenticated"] is False


def test_a_session_needs_the_csrf_token_to_submit(operator):
    client = browser()
    sign_in(client)

    refused = client.post("/api/v1/tasks", {"command": "true"}, format="json")
    accepted = client.post("/api/v1/tasks", {"command": "true"}, format="json", **csrf(client))

    assert refused.status_code == 403
    assert accepted.status_code == 201
    assert Task.objects.count() == 1


def test_a_session_needs_the_csrf_token_to_log_out(operator):
    client = browser()
    sign_in(client)

    assert client.post("/api/v1/auth/logout").status_code == 403
    assert client.get("/api/v1/auth/me").json()["authenticated"] is True


def test_token_clients_need_no_csrf_token(operator):
    _, token = ApiToken.issue(user=operator)
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")

    assert client.post("/api/v1/tasks", {"command": "true"}, format="json").status_code == 201


# Secrets at rest


def stored_text() -> dict[str, list[str]]:
    """Every value of every column of every row of every table, as text, by table."""
    found: dict[str, list[str]] = {}
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            found[table] = [
                bytes(value).decode("latin-1") if isinstance(value, bytes | memoryview) else str(value)
                for row in cursor.fetchall() for value in row
            ]
    return found


def test_join_node_and_user_tokens_are_never_stored_in_clear(joiner, anon, operator, settings):
    registered = joiner.post("/api/v1/internal/register", {"name": "worker-1", "cpu": 1, "mem": 512},
                             format="json").json()
    node_token = registered["token"]
    rejoined = joiner.post("/api/v1/internal/register",
                           {"name": "worker-1", "cpu": 1, "mem": 512, "node_token": node_token}, format="json")
    assert rejoined.status_code == 201
    user_token = anon.post("/api/v1/auth/token", {"username": "operator", "password": "pw-operator"},
                           format="json").json()["token"]
    assert client_with(node_token).post(f"/api/v1/internal/nodes/{registered['id']}/heartbeat", {},
                                        format="json").status_code == 200
    assert client_with(user_token).get("/api/v1/tasks").status_code == 200
    node_secret, user_secret = node_token.split("_", 2)[2], user_token.split("_", 2)[2]

    stored = stored_text()

    assert any("worker-1" in value for value in stored[Node._meta.db_table]), "the scan must see the node row"
    assert stored[ApiToken._meta.db_table], "the scan must see the token rows"
    for secret in (settings.SCHEDULER_JOIN_TOKEN, node_token, node_secret, user_token, user_secret):
        leaks = [table for table, values in stored.items() if any(secret in value for value in values)]
        assert leaks == [], f"a token is stored in clear in {leaks}"
    assert tokens.secret_matches(node_secret, Node.objects.get(pk=registered["id"]).token_digest)
    key_id = user_token.split("_", 2)[1]
    assert tokens.secret_matches(user_secret, ApiToken.objects.get(key_id=key_id).digest)
