"""Shared fixtures: users with and without permissions, API clients, and small builders."""

from __future__ import annotations

import os

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from rest_framework.test import APIClient

from scheduler_site.models import ApiToken

REQUIRE_POSTGRES = os.environ.get("SCHEDULER_REQUIRE_POSTGRES") == "1"


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def pytest_collection_modifyitems(config, items):
    if REQUIRE_POSTGRES and not is_postgres():
        raise pytest.UsageError("SCHEDULER_REQUIRE_POSTGRES=1 but DATABASE_URL is not a PostgreSQL URL.")
    if not is_postgres():
        skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL=postgres://...)")
        for item in items:
            if "postgres" in item.keywords:
                item.add_marker(skip)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if REQUIRE_POSTGRES and report.skipped and "postgres" in item.keywords:
        report.outcome = "failed"
        report.longrepr = "a PostgreSQL-only test was skipped on the PostgreSQL run"


def make_user(username: str, *perms: str, staff: bool = False) -> User:
    user = User.objects.create_user(username=username, password="pw-" + username, is_staff=staff)
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return User.objects.get(pk=user.pk)  # fresh: permission cache


@pytest.fixture
def operator(db) -> User:
    """A user who may submit tasks, cancel and read anyone's (tasks.access), and drain nodes."""
    return make_user("operator", "tasks.add_task", "tasks.change_task", "tasks.cancel_any_task",
                     "tasks.view_any_task", "nodes.change_node")


@pytest.fixture
def viewer(db) -> User:
    """A signed-in user without any permission: may read, may not change."""
    return make_user("viewer")


def token_client(user: User) -> APIClient:
    _, token = ApiToken.issue(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


@pytest.fixture
def api(operator) -> APIClient:
    return token_client(operator)


@pytest.fixture
def viewer_api(viewer) -> APIClient:
    return token_client(viewer)


@pytest.fixture
def leased_cluster(transactional_db, tmp_path, operator):
    """`cluster` with the agents' task lease on (SCHEDULER_TASK_LEASE=1, agent/lease.py)."""
    from tests.cluster import Cluster

    running = Cluster(tmp_path, user=operator)
    running.env["SCHEDULER_TASK_LEASE"] = "1"
    try:
        running.start_master()
        yield running
    finally:
        running.stop()
    running.check_logs()


@pytest.fixture
def shared_dir():
    """A directory the tasks of a real-process test may read and write: they run as the agents'
    unprivileged task user, who cannot enter pytest's tmp_path (its parents are 0700)."""
    import shutil
    import tempfile
    from pathlib import Path

    path = Path(tempfile.mkdtemp(prefix="tasks-", dir="/var/tmp"))
    os.chmod(path, 0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def anon() -> APIClient:
    return APIClient()


@pytest.fixture
def cluster(transactional_db, tmp_path, operator):
    """A running master (daphne) on the test database; start agents and sweepers as needed. When
    the test ends the cluster stops, and any ERROR line or traceback in its processes' logs that
    the test did not declare (`cluster.expect_log`) fails it."""
    from tests.cluster import Cluster

    running = Cluster(tmp_path, user=operator)
    try:
        running.start_master()
        yield running
    finally:
        running.stop()
    running.check_logs()
