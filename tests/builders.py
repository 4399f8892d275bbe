"""Small builders for tests: nodes and tasks straight into the database, through the services."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from nodes.models import Node
from nodes.services import register_node
from tasks import states
from tasks.models import Task, TaskStatus
from tasks.placement.reservation import place_pending_tasks
from tasks.services import submit_task


def gpu_devices(count: int) -> list[dict]:
    """`count` GPUs as an agent started with `--gpus 0,1,...` declares them."""
    return [{"index": index, "uuid": "", "model": "", "memory": None} for index in range(count)]


def node(name: str = "node-a", *, cpu: float = 4, mem: int = 8192, labels: dict | None = None, gpus: int = 0,
         resources: dict | None = None) -> Node:
    created, _ = node_with_token(name, cpu=cpu, mem=mem, labels=labels, gpus=gpus, resources=resources)
    return created


def node_with_token(name: str = "node-a", *, cpu: float = 4, mem: int = 8192, labels: dict | None = None,
                    gpus: int = 0, resources: dict | None = None):
    return register_node(name=name, cpu=int(cpu * 1000), mem=mem, labels=labels or {}, agent_info={},
                         gpus=gpu_devices(gpus), resources=resources)


def task(command: str = "true", *, cpu: float = 1, mem: int = 256, **fields) -> Task:
    """A PENDING task in the queue, as the API creates one, without the submit fast path (which
    places a task at once when nothing else waits); `place_pending_tasks()` places it."""
    with transaction.atomic():
        created = Task.objects.create(command=command, cpu=round(cpu * 1000), mem=mem, **fields)
        states.record_submitted(created)
    return created


def submitted(command: str = "true", *, cpu: float = 1, mem: int = 256, **fields) -> Task:
    """A task through `submit_task`, fast path included."""
    return submit_task(command=command, cpu=round(cpu * 1000), mem=mem, **fields)


def age_heartbeat(node: Node, seconds: float) -> None:
    Node.objects.filter(pk=node.pk).update(last_heartbeat=timezone.now() - timezone.timedelta(seconds=seconds))


def placed(task: Task) -> Task:
    """Run the real placement pass and return `task` fresh from the database, ASSIGNED to a node."""
    place_pending_tasks()
    task.refresh_from_db()
    assert task.status == TaskStatus.ASSIGNED, f"not placed: {task.status_message}"
    return task


def moved(task: Task, target: str, *, reason: str = "Test", **kwargs) -> Task:
    """Drive `task` through the state machine as the services do: row locked, in a transaction."""
    with transaction.atomic():
        locked = Task.objects.select_for_update().get(pk=task.pk)
        states.transition(locked, target, reason=reason, **kwargs)
    return locked


def task_in(status: str, *, on: Node | None = None, **fields) -> Task:
    """A task in `status`, reached through the allowed edges (ASSIGNED and later need a node: `on`)."""
    created = task(**fields)
    if status == TaskStatus.PENDING:
        return created
    if status == TaskStatus.CANCELLED:
        return moved(created, TaskStatus.CANCELLED)
    assert on is not None, f"a {status} task needs a node"
    assigned = placed(created)
    assert assigned.node_id == on.pk, "placed on another node than the test meant"
    if status == TaskStatus.ASSIGNED:
        return assigned
    running = moved(assigned, TaskStatus.RUNNING)
    if status == TaskStatus.RUNNING:
        return running
    return moved(running, status, exit_code=0 if status == TaskStatus.SUCCEEDED else 1)
