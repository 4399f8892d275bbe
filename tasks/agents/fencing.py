"""Fencing by attempt: a report about (task, attempt) counts only if it comes from the node that
holds the task's current attempt. Anything else is answered with StaleAttempt, and the sender
kills its copy. A node that comes back after its tasks were requeued can therefore never finish,
fail or write logs into the new attempt.
"""

from __future__ import annotations

from scheduler_site.exceptions import StaleAttempt
from tasks.models import Task


def is_current(task: Task, *, node_id: int, attempt: int) -> bool:
    return task.node_id == node_id and task.attempt == attempt


def lock_current_attempt(*, task_id: int, attempt: int, node_id: int) -> Task:
    """Lock the task row if (node, attempt) holds it; raise StaleAttempt otherwise."""
    task = Task.objects.select_for_update().filter(pk=task_id).first()
    if task is None:
        raise StaleAttempt(f"Task {task_id} does not exist.")
    if not is_current(task, node_id=node_id, attempt=attempt):
        raise StaleAttempt(
            f"Task {task_id} attempt {attempt} is not this node's: the task is on attempt "
            f"{task.attempt} ({task.status}, node {task.node_name or '-'})."
        )
    return task
