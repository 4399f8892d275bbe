"""/healthz, the OpenAPI schema and its docs, the browsable API's root, and the admin."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.db import connection
from rest_framework.test import APIClient

from tests import builders
from tests.api.support import both_slashes

pytestmark = pytest.mark.django_db

API_TABLE = {
    "/api/v1/tasks": {"get", "post"},
    "/api/v1/tasks/{id}": {"get"},
    "/api/v1/tasks/{id}/cancel": {"post"},
    "/api/v1/tasks/{id}/logs": {"get"},
    "/api/v1/tasks/{id}/logs/raw": {"get"},
    "/api/v1/nodes": {"get"},
    "/api/v1/nodes/{id}": {"get"},
    "/api/v1/nodes/{id}/drain": {"post"},
    "/api/v1/nodes/{id}/undrain": {"post"},
    "/api/v1/internal/register": {"post"},
    "/api/v1/internal/nodes/{id}/heartbeat": {"post"},
}


@pytest.fixture
def browser(operator) -> APIClient:
    client = APIClient()
    client.force_login(operator)
    return client


@pytest.mark.parametrize("path", both_slashes("/healthz"))
def test_healthz_says_ok_and_names_the_database(anon, path):
    response = anon.get(path)

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": connection.vendor}


@pytest.mark.parametrize("path", both_slashes("/api/schema"))
def test_the_schema_documents_every_row_of_the_api_table(api, path):
    response = api.get(path, {"format": "json"})

    assert response.status_code == 200, response.content
    paths = response.json()["paths"]
    documented = {
        path.replace("{pk}", "{id}").rstrip("/"): set(operations) & {"get", "post"}
        for path, operations in paths.items()
    }
    missing = {path: methods - documented.get(path, set()) for path, methods in API_TABLE.items()}
    assert {path: methods for path, methods in missing.items() if methods} == {}


@pytest.mark.parametrize("path", both_slashes("/api/docs"))
def test_the_docs_page_loads_swagger_ui_on_the_schema(browser, path):
    response = browser.get(path)

    assert response.status_code == 200
    page = response.content.decode()
    assert "swagger-ui" in page.lower()
    assert "/api/schema" in page


@pytest.mark.parametrize("path", both_slashes("/api/schema", "/api/docs"))
def test_the_schema_and_docs_are_for_signed_in_users_only(anon, path):
    assert anon.get(path).status_code == 401


@pytest.mark.parametrize("path", both_slashes("/api/v1"))
def test_the_api_root_links_the_collections(api, path):
    response = api.get(path)

    assert response.status_code == 200
    assert response.json()["tasks"].endswith("/api/v1/tasks")
    assert response.json()["nodes"].endswith("/api/v1/nodes")


def test_the_browsable_api_renders_html_for_a_browser(browser):
    builders.task("echo browsable")

    response = browser.get("/api/v1/tasks", HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert "echo browsable" in response.content.decode()


def test_the_admin_sends_anonymous_visitors_to_its_login_page(anon):
    response = anon.get("/admin/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_the_admin_login_page_shows_a_login_form(anon):
    response = anon.get("/admin/login/")

    assert response.status_code == 200
    page = response.content.decode()
    assert 'name="username"' in page and 'name="password"' in page


def test_an_operator_signs_in_to_the_admin_and_sees_nodes_and_tasks(db):
    User.objects.create_superuser("admin", password="pw-admin")
    builders.node("node-admin")
    builders.task("echo admin")
    client = APIClient()

    signed_in = client.post("/admin/login/?next=/admin/", {"username": "admin", "password": "pw-admin"})

    assert signed_in.status_code == 302 and signed_in["Location"] == "/admin/"
    nodes = client.get("/admin/nodes/node/")
    tasks = client.get("/admin/tasks/task/")
    assert (nodes.status_code, tasks.status_code) == (200, 200)
    assert "node-admin" in nodes.content.decode()
    assert "echo admin" in tasks.content.decode()
