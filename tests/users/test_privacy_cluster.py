"""Privacy of env and output against a real master and agent (issue 17): the owner, another user
and an operator, over REST, the raw download and the log WebSocket."""

from __future__ import annotations

import pytest
import requests
import websocket

from scheduler_site.models import ApiToken
from tests.cluster import wait_for
from tests.conftest import make_user
from tests.wsclient import Subscriber, log_url

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(180)]


def session(user) -> requests.Session:
    _, token = ApiToken.issue(user=user)
    client = requests.Session()
    client.headers["Authorization"] = f"Token {token}"
    client.token = token
    return client


def test_env_and_output_for_owner_other_user_and_operator(cluster):
    alice = session(make_user("alice", "tasks.add_task"))
    bob = session(make_user("bob", "tasks.add_task", "tasks.change_task"))
    operator = cluster.api  # tasks.view_any_task, tasks.cancel_any_task
    cluster.start_agent("worker-1")
    submitted = alice.post(f"{cluster.url}/api/v1/tasks", json={
        "command": 'echo "out:$TOKEN"; sleep 30', "cpu": 0.5, "mem": 64, "env": {"TOKEN": "s3cret"}}, timeout=10)
    assert submitted.status_code == 201, submitted.text
    task_id = submitted.json()["id"]
    raw = f"{cluster.url}/api/v1/tasks/{task_id}/logs/raw"
    wait_for(lambda: "out:s3cret" in alice.get(raw, timeout=10).text, what="the owner reads the output")

    detail = bob.get(f"{cluster.url}/api/v1/tasks/{task_id}", timeout=10)
    assert detail.status_code == 200 and detail.json()["owner"] == "alice"
    assert "s3cret" not in detail.text and detail.json()["env"] == {"TOKEN": "********"}
    for path in ("logs", "logs/raw"):
        refused = bob.get(f"{cluster.url}/api/v1/tasks/{task_id}/{path}", timeout=10)
        assert refused.status_code == 403 and "s3cret" not in refused.text
        assert operator.get(f"{cluster.url}/api/v1/tasks/{task_id}/{path}", timeout=10).status_code == 200
    assert "out:s3cret" in operator.get(raw, timeout=10).text
    assert operator.get(f"{cluster.url}/api/v1/tasks/{task_id}", timeout=10).json()["env"] == {"TOKEN": "s3cret"}

    with pytest.raises(websocket.WebSocketBadStatusException):
        Subscriber(log_url(cluster.url, task_id), bob.token)
    for allowed in (alice, operator):
        token = allowed.token if allowed is alice else cluster.token
        follower = Subscriber(log_url(cluster.url, task_id), token)
        wait_for(lambda f=follower: "out:s3cret" in f.text(), what="the log over the WebSocket")
        follower.close()

    assert bob.post(f"{cluster.url}/api/v1/tasks/{task_id}/cancel", timeout=10).status_code == 403
    assert cluster.task(task_id)["status"] == "RUNNING"
    assert alice.post(f"{cluster.url}/api/v1/tasks/{task_id}/cancel", timeout=10).status_code == 200
    cluster.wait_task(task_id, "CANCELLED")
    master_log = cluster.log("master")
    assert "s3cret" not in master_log, "env values never reach the application log"
