"""Deleting in /admin/ goes through the same services as cancel and node loss: a deleted task that
had not finished is cancelled first (reservation released, agent nudged), a deleted (forgotten)
node has its tasks requeued first. The books balance after every admin action."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from nodes.models import Node, NodeEvent
from tasks.accounting import invariant_violations
from tasks.models import Task, TaskEvent, TaskStatus
from tests import builders

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client() -> Client:
    client = Client()
    client.force_login(User.objects.create(username="root", is_staff=True, is_superuser=True))
    return client


@pytest.fixture(autouse=True)
def books_balance(db):
    yield
    assert invariant_violations() == [], "allocated must equal the sums over ASSIGNED/RUNNING tasks"


def allocated(node: Node) -> tuple[int, int]:
    fresh = Node.objects.get(pk=node.pk)
    return fresh.cpu_allocated, fresh.mem_allocated


@pytest.mark.parametrize("status", [TaskStatus.ASSIGNED, TaskStatus.RUNNING, TaskStatus.PENDING])
def test_deleting_an_unfinished_task_in_the_admin_releases_its_reservation(admin_client, status):
    node = builders.node()
    task = builders.task_in(status, on=node)

    response = admin_client.post(f"/admin/tasks/task/{task.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302, response.content[:500]
    assert not Task.objects.filter(pk=task.pk).exists()
    assert allocated(node) == (0, 0)


def test_the_bulk_delete_action_cancels_each_unfinished_task_first(admin_client):
    node = builders.node(cpu=4)
    running = builders.task_in(TaskStatus.RUNNING, on=node)
    assigned = builders.task_in(TaskStatus.ASSIGNED, on=node)
    done = builders.task_in(TaskStatus.SUCCEEDED, on=node)
    kept = builders.task_in(TaskStatus.RUNNING, on=node)

    response = admin_client.post("/admin/tasks/task/", {
        "action": "delete_selected", "post": "yes", "_selected_action": [running.pk, assigned.pk, done.pk],
    })

    assert response.status_code == 302, response.content[:500]
    assert list(Task.objects.values_list("pk", flat=True)) == [kept.pk]
    assert allocated(node) == (kept.cpu, kept.mem)


def test_deleting_a_node_with_active_tasks_requeues_them_as_node_loss_does(admin_client):
    node = builders.node("doomed")
    running = builders.task_in(TaskStatus.RUNNING, on=node)
    assigned = builders.task_in(TaskStatus.ASSIGNED, on=node)
    finished = builders.task_in(TaskStatus.FAILED, on=node)

    response = admin_client.post(f"/admin/nodes/node/{node.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302, response.content[:500]
    assert not Node.objects.filter(pk=node.pk).exists()
    for task in (running, assigned):
        fresh = Task.objects.get(pk=task.pk)
        assert (fresh.status, fresh.node_id, fresh.attempt) == (TaskStatus.PENDING, None, 1)
        assert TaskEvent.objects.filter(task=task, reason="NodeRemoved").exists()
    assert Task.objects.get(pk=finished.pk).status == TaskStatus.FAILED
    assert not NodeEvent.objects.filter(node_id=node.pk).exists()


def test_the_forget_action_requeues_and_removes_and_frees_the_name(admin_client, settings):
    node = builders.node("worker-1")
    running = builders.task_in(TaskStatus.RUNNING, on=node)

    response = admin_client.post("/admin/nodes/node/", {"action": "forget", "_selected_action": [node.pk]})

    assert response.status_code == 302, response.content[:500]
    assert not Node.objects.filter(name="worker-1").exists()
    assert Task.objects.get(pk=running.pk).status == TaskStatus.PENDING
    joiner = Client(HTTP_AUTHORIZATION=f"Token {settings.SCHEDULER_JOIN_TOKEN}")
    again = joiner.post("/api/v1/internal/register", {"name": "worker-1", "cpu": 2, "mem": 1024},
                        content_type="application/json")
    assert again.status_code == 201, again.content
    assert again.json()["id"] != node.pk


def test_the_bulk_delete_of_nodes_forgets_each(admin_client):
    a, b = builders.node("a"), builders.node("b")
    task = builders.task_in(TaskStatus.RUNNING, on=a)

    response = admin_client.post("/admin/nodes/node/", {
        "action": "delete_selected", "post": "yes", "_selected_action": [a.pk, b.pk],
    })

    assert response.status_code == 302, response.content[:500]
    assert Node.objects.count() == 0
    assert Task.objects.get(pk=task.pk).status == TaskStatus.PENDING


def test_draining_in_the_admin_says_who_did_it(admin_client):
    node = builders.node()

    admin_client.post("/admin/nodes/node/", {"action": "drain", "_selected_action": [node.pk]})
    admin_client.post("/admin/nodes/node/", {"action": "undrain", "_selected_action": [node.pk]})

    assert list(NodeEvent.objects.filter(node=node, reason__in=["Drained", "Undrained"])
                .values_list("message", flat=True)) == ["Drained by root.", "Undrained by root."]
