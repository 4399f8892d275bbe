"""POST/GET /api/v1/tasks, GET /api/v1/tasks/{id}, POST /api/v1/tasks/{id}/cancel."""

from __future__ import annotations

import pytest

from tasks.accounting import invariant_violations
from tasks.models import Task, TaskStatus
from tests import builders
from tests.api.support import TASK_FIELDS, both_slashes

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", both_slashes("/api/v1/tasks"))
def test_submit_returns_the_new_task_in_cores_and_mib(api, operator, path):
    response = api.post(path, {
        "command": "echo hello", "name": "greet", "cpu": 0.25, "mem": 64, "priority": 5, "max_attempts": 2,
        "timeout": 30, "env": {"GREETING": "hi"}, "node_selector": {"disk": "ssd"},
    }, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert TASK_FIELDS | {"events"} <= set(body)
    assert body["cpu"] == 0.25
    assert body["mem"] == 64
    assert body["status"] == "PENDING"
    assert body["node"] is None and body["node_name"] is None
    assert (body["attempt"], body["max_attempts"], body["exit_code"]) == (0, 2, None)
    assert body["started_at"] is None and body["finished_at"] is None and body["created_at"]
    # No node exists, so the submit's immediate placement says why it waits.
    assert [event["reason"] for event in body["events"]] == ["Submitted", "Unschedulable"]
    assert body["events"][1]["message"] == "0/0 nodes are available."
    assert response["Location"] == f"/api/v1/tasks/{body['id']}"
    stored = Task.objects.get(pk=body["id"])
    assert (stored.command, stored.name, stored.cpu, stored.mem) == ("echo hello", "greet", 250, 64)
    assert (stored.priority, stored.timeout, stored.env, stored.node_selector) == (5, 30, {"GREETING": "hi"},
                                                                                    {"disk": "ssd"})
    assert stored.submitter == operator


def test_submit_with_only_a_command_gets_one_core_256_mib_and_three_attempts(api):
    response = api.post("/api/v1/tasks", {"command": "true"}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["cpu"], body["mem"], body["max_attempts"], body["timeout"]) == (1, 256, 3, None)


@pytest.mark.parametrize("cpu, millicores", [(0.001, 1), ("0.5", 500), (2, 2000), (1.125, 1125), ("1e1", 10000)])
def test_cpu_is_read_as_cores_and_stored_as_exact_millicores(api, cpu, millicores):
    response = api.post("/api/v1/tasks", {"command": "true", "cpu": cpu}, format="json")

    assert response.status_code == 201, response.content
    assert Task.objects.get(pk=response.json()["id"]).cpu == millicores


def test_a_command_of_exactly_the_size_limit_is_accepted(api):
    command = "x" * (64 * 1024)

    response = api.post("/api/v1/tasks", {"command": command}, format="json")

    assert response.status_code == 201, response.content
    assert Task.objects.get(pk=response.json()["id"]).command == command


@pytest.mark.parametrize("path", both_slashes("/api/v1/tasks"))
def test_list_is_paginated_with_count_and_results_newest_first(api, path):
    first, second, third = builders.task("a"), builders.task("b"), builders.task("c")

    page_one = api.get(path, {"page_size": 2}).json()
    page_two = api.get(path, {"page_size": 2, "page": 2}).json()

    assert page_one["count"] == 3
    assert [task["id"] for task in page_one["results"]] == [third.pk, second.pk]
    assert page_one["next"] is not None
    assert [task["id"] for task in page_two["results"]] == [first.pk]
    assert set(page_one["results"][0]) >= TASK_FIELDS


def test_list_filters_by_one_status_or_several_in_any_case(api):
    pending = builders.task("p")
    cancelled = builders.task_in(TaskStatus.CANCELLED)

    def ids(query: str) -> list[int]:
        response = api.get(f"/api/v1/tasks?status={query}")
        assert response.status_code == 200, response.content
        return [task["id"] for task in response.json()["results"]]

    assert ids("PENDING") == [pending.pk]
    assert ids("cancelled") == [cancelled.pk]
    assert ids("PENDING,CANCELLED") == [cancelled.pk, pending.pk]
    assert ids("RUNNING") == []


def test_list_filters_by_node_id_or_name(api):
    node_a, node_b = builders.node("node-a", labels={"pool": "a"}), builders.node("node-b", labels={"pool": "b"})
    on_a = builders.placed(builders.task("a", node_selector={"pool": "a"}))
    on_b = builders.placed(builders.task("b", node_selector={"pool": "b"}))
    builders.task("nowhere", node_selector={"pool": "none"})

    def ids(node: str) -> list[int]:
        return [task["id"] for task in api.get("/api/v1/tasks", {"node": node}).json()["results"]]

    assert ids(str(node_a.pk)) == [on_a.pk]
    assert ids("node-b") == [on_b.pk]
    assert ids("node-c") == []
    assert on_b.node_id == node_b.pk


@pytest.mark.parametrize("suffix", ["", "/"])
def test_detail_carries_node_attempt_exit_code_timestamps_and_events(api, suffix):
    node = builders.node("node-a")
    done = builders.task_in(TaskStatus.SUCCEEDED, on=node, name="build")

    response = api.get(f"/api/v1/tasks/{done.pk}{suffix}")

    assert response.status_code == 200, response.content
    body = response.json()
    assert TASK_FIELDS | {"events"} <= set(body)
    assert (body["id"], body["name"], body["status"]) == (done.pk, "build", "SUCCEEDED")
    assert (body["node"], body["node_name"], body["attempt"], body["exit_code"]) == (node.pk, "node-a", 1, 0)
    assert body["created_at"] and body["started_at"] and body["finished_at"]
    assert [(event["from_status"], event["to_status"]) for event in body["events"]] == [
        (None, "PENDING"), ("PENDING", "ASSIGNED"), ("ASSIGNED", "RUNNING"), ("RUNNING", "SUCCEEDED"),
    ]
    assert all(event["time"] and event["reason"] for event in body["events"])


@pytest.mark.parametrize("suffix", ["/cancel", "/cancel/"])
def test_cancel_ends_a_pending_task_and_records_who_did_it(api, suffix):
    pending = builders.task()

    response = api.post(f"/api/v1/tasks/{pending.pk}{suffix}")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "CANCELLED" and body["finished_at"]
    assert body["events"][-1]["reason"] == "Cancelled"
    assert "operator" in body["events"][-1]["message"]
    assert Task.objects.get(pk=pending.pk).status == TaskStatus.CANCELLED


def test_cancel_of_a_running_task_frees_its_node_and_drops_it_from_the_agents_assignments(api, node_a):
    node, agent = node_a
    running = builders.task_in(TaskStatus.RUNNING, on=node, cpu=2, mem=1024)
    before = agent.post(f"/api/v1/internal/nodes/{node.pk}/heartbeat", {}, format="json").json()
    assert [a["task"] for a in before["assignments"]] == [running.pk]

    response = api.post(f"/api/v1/tasks/{running.pk}/cancel")

    assert response.status_code == 200, response.content
    node.refresh_from_db()
    assert (node.cpu_allocated, node.mem_allocated) == (0, 0)
    after = agent.post(f"/api/v1/internal/nodes/{node.pk}/heartbeat", {}, format="json").json()
    assert after["assignments"] == []
    assert after["generation"] > before["generation"]
    assert invariant_violations() == []
