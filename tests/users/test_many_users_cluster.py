"""Many users on one real cluster (issue 17): master, agents, and users through the API.

- Fair share: a user who submitted a long backlog and a user who submits a few tasks after see
  the second user's tasks start before the first user's backlog drains.
- Quota: a task over its owner's quota waits with the reason and runs once the quota frees.
"""

from __future__ import annotations

import pytest
import requests

from scheduler_site.models import ApiToken
from tasks.models import Quota
from tests.cluster import wait_for
from tests.conftest import make_user

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(240)]


def user_session(name: str) -> requests.Session:
    _, token = ApiToken.issue(user=make_user(name, "tasks.add_task"))
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    return session


def submit(session: requests.Session, url: str, command: str, **fields) -> dict:
    response = session.post(f"{url}/api/v1/tasks", json={"command": command, "mem": 32, **fields}, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()


def tasks_of(cluster, owner: str) -> list[dict]:
    return cluster.api.get(f"{cluster.url}/api/v1/tasks?owner={owner}&page_size=1000", timeout=10).json()["results"]


def test_a_late_small_user_starts_before_a_big_backlog_drains(cluster):
    heavy, light = user_session("heavy"), user_session("light")
    cluster.start_agent("worker-1", cpu=2)
    backlog = [submit(heavy, cluster.url, "sleep 0.4", cpu=1) for _ in range(30)]
    wait_for(lambda: sum(t["status"] == "SUCCEEDED" for t in tasks_of(cluster, "heavy")) >= 2, timeout=60,
             what="some of heavy's tasks done (heavy's recent usage > 0)")
    late = [submit(light, cluster.url, "sleep 0.1", cpu=1) for _ in range(4)]

    wait_for(lambda: all(t["started_at"] for t in tasks_of(cluster, "light")), timeout=90,
             what="light's tasks started")
    heavy_not_started = [t for t in tasks_of(cluster, "heavy") if t["status"] == "PENDING"]
    assert len(heavy_not_started) >= 10, "light's tasks went ahead of heavy's backlog"
    assert len(late) == 4 and len(backlog) == 30
    for task in heavy_not_started[:1]:
        standing = cluster.task(task["id"]).get("queue")
        assert standing is None or standing["owner_recent_usage"] > 0  # it may have started meanwhile


def test_a_task_over_its_quota_waits_with_the_reason_and_runs_when_the_quota_frees(cluster):
    alice = user_session("alice")
    Quota.objects.create(user_id=ApiToken.objects.get(user__username="alice").user_id, limits={"cpu": 1})
    cluster.start_agent("worker-1", cpu=4)
    first = submit(alice, cluster.url, "sleep 3", cpu=1)
    second = submit(alice, cluster.url, "true", cpu=1)

    waiting = wait_for(lambda: (t := cluster.task(second["id"]))["status_reason"] == "Quota" and t, timeout=30,
                       what="the second task held by the quota")
    assert waiting["status"] == "PENDING"
    assert waiting["status_message"] == "alice uses 1 of 1 cpu"
    assert cluster.task(first["id"])["status"] in ("ASSIGNED", "RUNNING")
    cluster.wait_task(first["id"], "SUCCEEDED", timeout=60)
    cluster.wait_task(second["id"], "SUCCEEDED", timeout=60)
