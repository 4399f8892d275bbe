"""GET /api/v1/nodes, GET /api/v1/nodes/{id}, POST /api/v1/nodes/{id}/drain and /undrain."""

from __future__ import annotations

import pytest

from nodes.health import mark_unhealthy
from nodes.models import Node, NodeEvent
from tasks.models import Task, TaskStatus
from tasks.placement.reservation import place_pending_tasks
from tests import builders
from tests.api.support import NODE_FIELDS, both_slashes

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", both_slashes("/api/v1/nodes"))
def test_list_shows_capacity_allocation_usage_and_task_count_in_cores_and_mib(api, path, node_a):
    node, agent = node_a
    builders.task_in(TaskStatus.RUNNING, on=node, cpu=0.25, mem=512)
    agent.post(f"/api/v1/internal/nodes/{node.pk}/heartbeat", {"cpu_usage": 12.5, "mem_usage": 40}, format="json")

    response = api.get(path)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == 1
    row = body["results"][0]
    assert set(row) >= NODE_FIELDS
    assert (row["id"], row["name"], row["status"], row["draining"]) == (node.pk, "node-a", "ONLINE", False)
    assert (row["cpu"], row["cpu_allocated"], row["cpu_free"]) == (4, 0.25, 3.75)
    assert (row["mem"], row["mem_allocated"], row["mem_free"]) == (8192, 512, 7680)
    assert (row["cpu_usage"], row["mem_usage"], row["tasks_running"]) == (12.5, 40, 1)
    assert row["last_heartbeat"]


def test_list_is_ordered_by_name_and_paginated(api):
    for name in ("node-c", "node-a", "node-b"):
        builders.node(name)

    body = api.get("/api/v1/nodes", {"page_size": 2}).json()

    assert body["count"] == 3
    assert [row["name"] for row in body["results"]] == ["node-a", "node-b"]
    assert body["next"] is not None


def test_list_filters_by_status(api):
    quiet = builders.node("quiet")
    builders.node("lively")
    builders.age_heartbeat(quiet, 15)
    assert [n.name for n in mark_unhealthy()] == ["quiet"]

    def names(query: str) -> list[str]:
        response = api.get(f"/api/v1/nodes?status={query}")
        assert response.status_code == 200, response.content
        return [row["name"] for row in response.json()["results"]]

    assert names("UNHEALTHY") == ["quiet"]
    assert names("online") == ["lively"]
    assert names("ONLINE,UNHEALTHY") == ["lively", "quiet"]
    assert names("OFFLINE") == []


@pytest.mark.parametrize("suffix", ["", "/"])
def test_detail_shows_the_node_with_its_active_tasks_and_events(api, suffix):
    node = builders.node("node-a", labels={"zone": "eu"})
    running = builders.task_in(TaskStatus.RUNNING, on=node)
    builders.task_in(TaskStatus.SUCCEEDED, on=node)

    response = api.get(f"/api/v1/nodes/{node.pk}{suffix}")

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) >= NODE_FIELDS
    assert body["labels"] == {"zone": "eu"}
    assert [task["id"] for task in body["tasks"]] == [running.pk]
    assert body["tasks_running"] == 1
    assert [event["reason"] for event in body["events"]] == ["Registered"]


@pytest.mark.parametrize("drain, undrain", [("/drain", "/undrain"), ("/drain/", "/undrain/")])
def test_drain_stops_new_placements_and_undrain_allows_them_again(api, drain, undrain):
    node = builders.node("node-a")

    response = api.post(f"/api/v1/nodes/{node.pk}{drain}")

    assert response.status_code == 200, response.content
    assert response.json()["draining"] is True
    waiting = builders.task()
    place_pending_tasks()
    assert Task.objects.get(pk=waiting.pk).status == TaskStatus.PENDING

    response = api.post(f"/api/v1/nodes/{node.pk}{undrain}")

    assert response.status_code == 200, response.content
    assert response.json()["draining"] is False
    place_pending_tasks()
    assert Task.objects.get(pk=waiting.pk).status == TaskStatus.ASSIGNED
    assert [e.reason for e in NodeEvent.objects.filter(node=node)] == ["Registered", "Drained", "Undrained"]
    assert [e.message for e in NodeEvent.objects.filter(node=node)][1:] == [
        "Drained by operator.", "Undrained by operator."]


def test_drain_lets_running_tasks_finish_on_the_node(api):
    node = builders.node("node-a")
    running = builders.task_in(TaskStatus.RUNNING, on=node)

    api.post(f"/api/v1/nodes/{node.pk}/drain")

    assert Task.objects.get(pk=running.pk).status == TaskStatus.RUNNING
    assert Node.objects.get(pk=node.pk).cpu_allocated == running.cpu


def test_draining_twice_records_one_event(api):
    node = builders.node("node-a")

    first = api.post(f"/api/v1/nodes/{node.pk}/drain")
    second = api.post(f"/api/v1/nodes/{node.pk}/drain")

    assert (first.status_code, second.status_code) == (200, 200)
    assert NodeEvent.objects.filter(node=node, reason="Drained").count() == 1
