"""Requeue: when a node is lost or an agent loses a task, the attempt ends and the task returns
to PENDING for its next attempt, or FAILS when its attempts are used up.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Literal

from django.db import transaction
from django.utils import timezone

from nodes.health import offline_cutoff, set_status
from nodes.models import Node, NodeStatus
from scheduler_site.statuses import WaitReason
from tasks import states
from tasks.batch import retries
from tasks.models import ACTIVE_STATUSES, Task, TaskEvent, TaskStatus
from tasks.placement.trigger import request_placement

log = logging.getLogger("tasks.recovery")


Charge = Literal["lost", "retry", "none"]


def requeue(task: Task, *, reason: str, message: str, charge: Charge = "lost",
            exit_code: int | None = None) -> TaskEvent:
    """End the current attempt of a locked ASSIGNED/RUNNING task and queue it again, charging the
    attempt to one budget:

    - "lost" (node lost, agent lost it, operator requeue): counts against `max_attempts`; when they
      are used up the task FAILS;
    - "retry" (the command failed; the caller checked `tasks.batch.retries.wants_retry`): spends one
      of `retries` and waits its backoff (PENDING, reason Backoff, `not_before` set);
    - "none" (preemption): counts against nothing.
    """
    if charge == "retry":
        text = retries.schedule_retry(task, reason=reason, exit_code=exit_code)
        event = states.transition(task, TaskStatus.PENDING, reason=WaitReason.BACKOFF, message=text,
                                  also_save=("retries_used", "not_before"))
        request_placement()
        return event
    if charge == "none":
        event = states.transition(task, TaskStatus.PENDING, reason=reason,
                                  message=f"{message} Attempt {task.attempt} ended; queued again.")
        request_placement()
        return event
    task.lost_attempts += 1
    if task.lost_attempts >= task.max_attempts:
        return states.transition(
            task, TaskStatus.FAILED, reason=reason, also_save=("lost_attempts",),
            message=f"{message} No attempts left ({task.lost_attempts}/{task.max_attempts} lost).",
        )
    event = states.transition(
        task, TaskStatus.PENDING, reason=reason, also_save=("lost_attempts",),
        message=f"{message} Attempt {task.attempt} ended ({task.lost_attempts}/{task.max_attempts} lost); "
                "queued again.",
    )
    request_placement()
    return event


def _lock_node_and_tasks(node_id: int) -> tuple[Node | None, list[Task]]:
    """Lock a node's active tasks, then the node (the project's lock order), then any task a
    placement committed while we waited for the node."""
    tasks = list(Task.objects.select_for_update().filter(node_id=node_id, status__in=ACTIVE_STATUSES).order_by("pk"))
    node = Node.objects.select_for_update().filter(pk=node_id).first()
    tasks += Task.objects.select_for_update().filter(
        node_id=node_id, status__in=ACTIVE_STATUSES
    ).exclude(pk__in=[task.pk for task in tasks])
    return node, tasks


def _requeue_all(node: Node, tasks: list[Task], *, reason: str, message: str) -> list[TaskEvent]:
    return [requeue(task, reason=reason, message=message) for task in tasks
            if task.node_id == node.pk and task.status in ACTIVE_STATUSES]


def node_left(node_id: int) -> list[TaskEvent]:
    """The agent said it is stopping: the node goes OFFLINE now, and anything still on it is requeued."""
    with transaction.atomic():
        node, tasks = _lock_node_and_tasks(node_id)
        if node is None:
            return []
        set_status(node, NodeStatus.OFFLINE, reason="AgentStopped", message="The agent stopped.")
        events = _requeue_all(node, tasks, reason="NodeLeft", message=f"The agent on {node.name} stopped.")
    log.info("node left", extra={"node": node.name, "requeued": len(events)})
    return events


def take_node_offline(node_id: int, *, now: datetime | None = None) -> list[TaskEvent]:
    """Mark a silent node OFFLINE and requeue its tasks, in one transaction.

    Locks the node's active tasks, then the node (the project's lock order), and re-checks the
    heartbeat under the lock: of two sweepers, one does the work and the other finds it done.
    """
    now = now or timezone.now()
    with transaction.atomic():
        node, tasks = _lock_node_and_tasks(node_id)
        if node is None or node.status == NodeStatus.OFFLINE or node.last_heartbeat >= offline_cutoff(now):
            return []
        silent = (now - node.last_heartbeat).total_seconds()
        set_status(node, NodeStatus.OFFLINE, reason="NodeLost", message=f"No heartbeat for {silent:.1f}s.")
        events = _requeue_all(node, tasks, reason="NodeLost", message=f"Node {node.name} stopped heartbeating.")
    log.info("node offline", extra={"node": node.name, "requeued": len(events)})
    return events


def release_node(node_id: int) -> list[TaskEvent]:
    """An operator removes the node (admin delete, "forget node"): it goes OFFLINE and what it holds
    is requeued, as when the node is lost, before the row goes."""
    with transaction.atomic():
        node, tasks = _lock_node_and_tasks(node_id)
        if node is None:
            return []
        set_status(node, NodeStatus.OFFLINE, reason="Removed", message="An operator removed the node.")
        events = _requeue_all(node, tasks, reason="NodeRemoved", message=f"Node {node.name} was removed.")
    log.info("node removed", extra={"node": node.name, "requeued": len(events)})
    return events
