"""Secrets (issue 17): env values never reach the application log, the events or the metrics;
the API token, node tokens and the join token never appear in a response after their creation."""

from __future__ import annotations

import logging

import pytest
from django.test import override_settings

from tasks.models import TaskEvent
from tests import builders
from tests.conftest import make_user, token_client

pytestmark = pytest.mark.django_db
SECRET = "s3cret-value-42"


@pytest.fixture(autouse=True)
def fast_hashing():
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


def test_env_values_and_tokens_stay_out_of_logs_events_metrics_and_responses(caplog, settings):
    caplog.set_level(logging.DEBUG)
    alice = make_user("alice", "tasks.add_task")
    ops = make_user("ops", "tasks.view_any_task", "tasks.cancel_any_task", "nodes.change_node", staff=True)
    node, node_token = builders.node_with_token("n1", cpu=4)
    client, operator = token_client(alice), token_client(ops)
    user_token = client._credentials["HTTP_AUTHORIZATION"].split()[1]

    created = client.post("/api/v1/tasks", {"command": "true", "env": {"API_KEY": SECRET}}, format="json")
    assert created.status_code == 201
    task_id = created.json()["id"]
    operator.post(f"/api/v1/tasks/{task_id}/cancel")

    answers = [operator.get(path).content.decode() for path in (
        "/api/v1/tasks", f"/api/v1/tasks/{task_id}", "/api/v1/nodes", f"/api/v1/nodes/{node.pk}", "/api/v1/auth/me",
        "/api/v1/quotas", "/api/v1/quotas/me")]
    answers.append(client.get("/api/v1/auth/me").content.decode())
    for secret in (node_token, user_token, settings.SCHEDULER_JOIN_TOKEN):
        assert not any(secret in answer for answer in answers), "a token in a response after its creation"
    assert SECRET not in caplog.text, "an env value in the application log"
    assert not TaskEvent.objects.filter(message__contains=SECRET).exists(), "an env value in the events"
    assert SECRET not in operator.get("/metrics").content.decode()
