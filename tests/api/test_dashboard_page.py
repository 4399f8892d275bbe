"""The dashboard's page: the built app's index.html for client routes, carrying who is signed in."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from tests.conftest import make_user

INDEX = b"<!doctype html><html><head><title>t</title></head><body><div id=app></div></body></html>"


@pytest.fixture
def built(settings, tmp_path):
    (tmp_path / "index.html").write_bytes(INDEX)
    settings.FRONTEND_DIST = tmp_path
    return tmp_path


def embedded_session(response) -> dict:
    html = response.content.decode()
    m = re.search(r'<script id="session" type="application/json">(.*?)</script></head>', html)
    assert m, html
    return json.loads(m.group(1))


def test_a_signed_out_visitor_gets_the_app_saying_nobody_is_signed_in(built, db):
    response = Client().get("/tasks/12")
    assert response.status_code == 200
    assert embedded_session(response) == {"authenticated": False, "detail": "Not signed in."}
    assert "private" in response["Cache-Control"]
    assert response.cookies.get("csrftoken")  # the first POST (sign-in) needs it


def test_a_signed_in_user_gets_what_auth_me_answers(built, operator):
    client = Client()
    client.force_login(operator)
    page = embedded_session(client.get("/"))
    assert page == client.get("/api/v1/auth/me").json()
    assert page["username"] == "operator" and page["permissions"] == {
        "submit": True, "cancel": True, "cancel_any": True, "view_any": True, "drain": True}


def test_a_username_cannot_close_the_script_element(built, db):
    user = make_user("x</script><script>alert(1)</script>")
    client = Client()
    client.force_login(user)
    html = client.get("/").content.decode()
    assert "<script>alert(1)" not in html
    assert embedded_session(client.get("/"))["username"] == user.username


def test_without_a_build_the_page_says_how_to_build_it(settings, tmp_path, db):
    settings.FRONTEND_DIST = tmp_path / "missing"
    assert b"make frontend" in Client().get("/").content
