"""The agents' endpoints: POST /api/v1/internal/register and /api/v1/internal/nodes/{id}/heartbeat."""

from __future__ import annotations

import pytest

from nodes.health import mark_unhealthy
from nodes.models import Node, NodeStatus
from tasks.accounting import invariant_violations
from tasks.models import Task, TaskStatus
from tasks.placement.reservation import place_pending_tasks
from tests import builders
from tests.api.support import both_slashes, client_with

pytestmark = pytest.mark.django_db


def heartbeat(agent, node: Node, *reports: dict, **usage):
    response = agent.post(f"/api/v1/internal/nodes/{node.pk}/heartbeat", {"tasks": list(reports), **usage},
                          format="json")
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.parametrize("path", both_slashes("/api/v1/internal/register"))
def test_register_returns_the_node_id_its_token_and_the_timers(joiner, api, path, settings):
    response = joiner.post(path, {"name": "worker-1", "cpu": 2.5, "mem": 4096, "labels": {"zone": "eu"},
                                  "agent": {"version": "1"}}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["token"].startswith(f"msn_{body['id']}_")
    assert body["heartbeat_interval"] == settings.SCHEDULER_HEARTBEAT_INTERVAL
    assert body["unhealthy_after"] == settings.SCHEDULER_UNHEALTHY_AFTER
    assert body["offline_after"] == settings.SCHEDULER_OFFLINE_AFTER
    node = Node.objects.get(pk=body["id"])
    assert (node.name, node.cpu_capacity, node.mem_capacity, node.labels) == ("worker-1", 2500, 4096, {"zone": "eu"})
    listed = api.get(f"/api/v1/nodes/{node.pk}").json()
    assert (listed["status"], listed["cpu"], listed["mem"]) == ("ONLINE", 2.5, 4096)


def test_the_token_from_register_works_on_the_nodes_own_heartbeat(joiner):
    body = joiner.post("/api/v1/internal/register", {"name": "worker-1", "cpu": 1, "mem": 512},
                       format="json").json()

    response = client_with(body["token"]).post(f"/api/v1/internal/nodes/{body['id']}/heartbeat", {},
                                               format="json")

    assert response.status_code == 200, response.content


def test_registering_a_name_held_by_an_online_node_is_a_409_naming_the_name(joiner, node_a):
    response = joiner.post("/api/v1/internal/register", {"name": "node-a", "cpu": 1, "mem": 512}, format="json")

    assert response.status_code == 409, response.content
    assert "name" in response.json()
    assert Node.objects.count() == 1


def test_a_restarted_agent_rejoins_its_node_with_its_token(joiner):
    node, token = builders.node_with_token("node-a", cpu=4, mem=8192)

    response = joiner.post("/api/v1/internal/register",
                           {"name": "node-a", "cpu": 8, "mem": 8192, "node_token": token}, format="json")

    assert response.status_code == 201, response.content
    assert (response.json()["id"], response.json()["token"]) == (node.pk, token)
    assert Node.objects.get(pk=node.pk).cpu_capacity == 8000


@pytest.mark.parametrize("suffix", ["/heartbeat", "/heartbeat/"])
def test_heartbeat_records_usage_and_answers_with_the_desired_assignments(node_a, suffix):
    node, agent = node_a
    assigned = builders.placed(builders.task("echo hi", cpu=0.5, mem=128, env={"A": "1"}, timeout=9))
    node.refresh_from_db()

    response = agent.post(f"/api/v1/internal/nodes/{node.pk}{suffix}", {"cpu_usage": 50, "mem_usage": 25.5},
                          format="json")

    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["generation"] == node.generation
    assert answer["assignments"] == [{
        "task": assigned.pk, "attempt": 1, "status": "ASSIGNED", "name": "", "command": "echo hi",
        "env": {"A": "1"}, "timeout": 9, "cpu": 500, "mem": 128, "gpu_devices": [],
    }]
    node.refresh_from_db()
    assert (node.cpu_usage, node.mem_usage) == (50, 25.5)


def test_an_http_heartbeat_records_gpu_usage_and_one_without_it_clears_it(node_a, api):
    node, agent = node_a
    usage = [{"index": 0, "util": 87.5, "mem_used": 31250, "mem_total": 40960}]

    heartbeat(agent, node, gpu_usage=usage)
    shown = api.get(f"/api/v1/nodes/{node.pk}").json()["gpu_usage"]
    heartbeat(agent, node)

    assert shown == [{"index": 0, "util": 87.5, "mem_used": 31250.0, "mem_total": 40960.0}]
    assert Node.objects.get(pk=node.pk).gpu_usage is None


def test_heartbeat_updates_last_heartbeat_and_brings_an_unhealthy_node_back_online(node_a):
    node, agent = node_a
    builders.age_heartbeat(node, 15)
    mark_unhealthy()
    assert Node.objects.get(pk=node.pk).status == NodeStatus.UNHEALTHY
    stale_beat = Node.objects.get(pk=node.pk).last_heartbeat

    heartbeat(agent, node)

    node.refresh_from_db()
    assert node.status == NodeStatus.ONLINE
    assert node.last_heartbeat > stale_beat


def test_a_running_report_moves_an_assigned_task_to_running(node_a):
    node, agent = node_a
    assigned = builders.placed(builders.task())

    answer = heartbeat(agent, node, {"task": assigned.pk, "attempt": 1, "state": "running"})

    assert answer["verdicts"] == [{"task": assigned.pk, "attempt": 1, "state": "running", "result": "ok"}]
    assert answer["assignments"] == [{"task": assigned.pk, "attempt": 1, "status": "RUNNING"}]
    task = Task.objects.get(pk=assigned.pk)
    assert task.status == TaskStatus.RUNNING and task.started_at is not None


@pytest.mark.parametrize("code, status", [(0, TaskStatus.SUCCEEDED), (3, TaskStatus.FAILED),
                                          (137, TaskStatus.FAILED)])
def test_an_exit_report_finishes_the_task_with_its_code_and_frees_the_node(node_a, code, status):
    node, agent = node_a
    running = builders.task_in(TaskStatus.RUNNING, on=node)

    answer = heartbeat(agent, node, {"task": running.pk, "attempt": 1, "state": "exited", "exit_code": code})

    assert answer["verdicts"][0]["result"] == "ok"
    assert answer["assignments"] == []
    task = Task.objects.get(pk=running.pk)
    assert (task.status, task.exit_code) == (status, code)
    assert task.finished_at is not None
    node.refresh_from_db()
    assert (node.cpu_allocated, node.mem_allocated) == (0, 0)
    assert invariant_violations() == []


def test_an_exit_report_that_overtakes_the_start_report_still_finishes_the_task(node_a):
    node, agent = node_a
    assigned = builders.placed(builders.task())

    heartbeat(agent, node, {"task": assigned.pk, "attempt": 1, "state": "exited", "exit_code": 0})

    task = Task.objects.get(pk=assigned.pk)
    assert (task.status, task.exit_code) == (TaskStatus.SUCCEEDED, 0)
    assert task.started_at is not None


def test_a_report_for_an_attempt_that_is_not_current_gets_a_stale_verdict_and_changes_nothing(node_a):
    node, agent = node_a
    running = builders.task_in(TaskStatus.RUNNING, on=node)

    answer = heartbeat(agent, node, {"task": running.pk, "attempt": 2, "state": "exited", "exit_code": 0},
                       {"task": running.pk + 1000, "attempt": 1, "state": "running"})

    assert [verdict["result"] for verdict in answer["verdicts"]] == ["stale", "stale"]
    assert all(verdict["detail"] for verdict in answer["verdicts"])
    task = Task.objects.get(pk=running.pk)
    assert (task.status, task.exit_code) == (TaskStatus.RUNNING, None)


def test_a_node_reporting_on_another_nodes_task_gets_a_stale_verdict(node_a, node_b):
    node, _ = node_a
    other, other_agent = node_b
    running = builders.task_in(TaskStatus.RUNNING, on=node)

    answer = heartbeat(other_agent, other, {"task": running.pk, "attempt": 1, "state": "exited", "exit_code": 1})

    assert answer["verdicts"][0]["result"] == "stale"
    assert Task.objects.get(pk=running.pk).status == TaskStatus.RUNNING


def test_a_lost_report_requeues_the_task_for_its_next_attempt(node_a):
    node, agent = node_a
    running = builders.task_in(TaskStatus.RUNNING, on=node)

    answer = heartbeat(agent, node, {"task": running.pk, "attempt": 1, "state": "lost"})

    assert answer["assignments"] == []
    task = Task.objects.get(pk=running.pk)
    assert (task.status, task.node_id, task.attempt) == (TaskStatus.PENDING, None, 1)
    place_pending_tasks()
    assert Task.objects.get(pk=running.pk).attempt == 2
    assert invariant_violations() == []


def test_the_join_token_cannot_take_the_name_of_an_offline_node(joiner, node_a):
    """The join token creates new nodes only: it once re-registered an OFFLINE node's name and rotated
    its token, locking the real agent out."""
    node, agent = node_a
    token_before = Node.objects.get(pk=node.pk).token_digest
    Node.objects.filter(pk=node.pk).update(status=NodeStatus.OFFLINE)

    response = joiner.post("/api/v1/internal/register", {"name": "node-a", "cpu": 1, "mem": 512}, format="json")

    assert response.status_code == 409, response.content
    assert "forget" in response.json()["name"][0]
    assert Node.objects.get(pk=node.pk).token_digest == token_before
    assert agent.post(f"/api/v1/internal/nodes/{node.pk}/heartbeat", {}, format="json").status_code == 200


def test_a_cancelled_task_records_the_exit_code_its_process_really_had(node_a, api):
    node, agent = node_a
    running = builders.task_in(TaskStatus.RUNNING, on=node)
    assert api.post(f"/api/v1/tasks/{running.pk}/cancel").status_code == 200

    answer = heartbeat(agent, node, {"task": running.pk, "attempt": 1, "state": "exited", "exit_code": 143,
                                     "reason": "killed"})

    assert answer["verdicts"][0]["result"] == "ok"
    task = Task.objects.get(pk=running.pk)
    assert (task.status, task.exit_code) == (TaskStatus.CANCELLED, 143)
    heartbeat(agent, node, {"task": running.pk, "attempt": 1, "state": "exited", "exit_code": 0})
    assert Task.objects.get(pk=running.pk).exit_code == 143  # recorded once
    assert invariant_violations() == []


def test_a_stale_attempts_exit_code_is_not_recorded_on_a_cancelled_task(node_a, api):
    node, agent = node_a
    running = builders.task_in(TaskStatus.RUNNING, on=node)
    api.post(f"/api/v1/tasks/{running.pk}/cancel")

    answer = heartbeat(agent, node, {"task": running.pk, "attempt": 2, "state": "exited", "exit_code": 9})

    assert answer["verdicts"][0]["result"] == "stale"
    assert Task.objects.get(pk=running.pk).exit_code is None


@pytest.mark.parametrize("code, message", [
    (3, "The command exited with code 3."),
    (138, "The command was killed by signal 10 (SIGUSR1)."),
    (137, "The command was killed by signal 9 (SIGKILL)."),
    (200, "The command was killed by signal 72."),
])
def test_a_failed_commands_message_reads_as_a_sentence(node_a, code, message):
    node, agent = node_a
    running = builders.task_in(TaskStatus.RUNNING, on=node)

    heartbeat(agent, node, {"task": running.pk, "attempt": 1, "state": "exited", "exit_code": code})

    assert Task.objects.get(pk=running.pk).status_message == message


@pytest.mark.parametrize("cores, said", [(1, "1 core"), (2, "2 cores"), (0.5, "0.5 cores")])
def test_the_registration_event_counts_cores_in_plain_english(joiner, cores, said):
    body = joiner.post("/api/v1/internal/register", {"name": "w", "cpu": cores, "mem": 512}, format="json").json()

    assert Node.objects.get(pk=body["id"]).events.get(reason="Registered").message == f"Joined with {said}, 512 MiB."
