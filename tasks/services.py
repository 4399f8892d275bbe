"""What users and operators do to tasks: submit, cancel, requeue. Views, the admin and the CLI
all come through here."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from django.db import transaction

from scheduler_site.exceptions import InvalidTransition, NotFound
from scheduler_site.statuses import Dependency
from tasks import recovery, states
from tasks.batch import arrays, dependencies, submissions
from tasks.batch.array_spec import ArraySpec
from tasks.models import ACTIVE_STATUSES, TERMINAL_STATUSES, Task, TaskArray, TaskStatus
from tasks.placement.reservation import place_submitted
from tasks.placement.trigger import request_placement

log = logging.getLogger("tasks")


@transaction.atomic
def submit_task(
    *,
    command: str,
    cpu: int,
    mem: int,
    name: str = "",
    priority: int = 0,
    max_attempts: int = 3,
    timeout: float | None = None,
    env: Mapping[str, str] | None = None,
    node_selector: Mapping[str, str] | None = None,
    submitter=None,
    rerun_of: Task | None = None,
    # batch workloads (issue 16)
    retries: int = 0,
    retry_backoff: float = 10.0,
    retry_backoff_max: float = 600.0,
    retry_on_exit_codes: list[int] | None = None,
    depends_on: Sequence[int] = (),
    dependency: str = Dependency.AFTEROK,
) -> Task:
    """Queue a task (cpu in millicores, mem in MiB) and place it at once when nothing else waits;
    otherwise the placement loop runs right after commit. `depends_on`: ids of existing tasks
    (`tasks.batch.dependencies`; a DomainError on `depends_on` when one is unknown)."""
    dependency_ids = dependencies.check_submitted(depends_on, dependency) if depends_on else []
    task = Task.objects.create(
        command=command, cpu=cpu, mem=mem, name=name, priority=priority, max_attempts=max_attempts,
        timeout=timeout, env=dict(env or {}), node_selector=dict(node_selector or {}), submitter=submitter,
        rerun_of=rerun_of, retries=retries, retry_backoff=retry_backoff, retry_backoff_max=retry_backoff_max,
        retry_on_exit_codes=retry_on_exit_codes, dependency=dependency,
    )
    if dependency_ids:
        dependencies.link((task.pk, dep) for dep in dependency_ids)
    states.record_submitted(task)
    if not place_submitted(task):
        request_placement()
    return task


def submit(*, submitter=None, array: ArraySpec | None = None, array_text: str = "",
           **fields) -> Task | tuple[TaskArray, list[Task]]:
    """A submission as the API validated it: one task, or an array of them (`array`)."""
    if array is None:
        return submit_task(**fields, submitter=submitter)
    depends_on = fields.pop("depends_on", ())
    return arrays.submit_array(spec=array, text=array_text, fields=fields, depends_on=depends_on,
                               submitter=submitter)


def submit_many(items, *, submitter=None) -> list[Task | tuple[TaskArray, list[Task]]]:
    """Several submissions in one transaction, local names in depends_on resolved
    (`tasks.batch.submissions`)."""
    return submissions.submit_many(items, submit=submit, submitter=submitter)


def _lock(task_id: int) -> Task:
    task = Task.objects.select_for_update().filter(pk=task_id).first()
    if task is None:
        raise NotFound(f"Task {task_id} not found.")
    return task


@transaction.atomic
def cancel_task(*, task_id: int, by: str = "") -> Task:
    """Cancel a task that has not finished; its node is nudged to kill it at once."""
    task = _lock(task_id)
    was_active = task.status in ACTIVE_STATUSES
    states.transition(task, TaskStatus.CANCELLED, reason="Cancelled", message=f"Cancelled by {by}." if by else "")
    if was_active:
        request_placement()  # its reservation is free again
    return task


RERUN_FIELDS = ("command", "cpu", "mem", "name", "priority", "max_attempts", "timeout", "env", "node_selector",
                "retries", "retry_backoff", "retry_backoff_max", "retry_on_exit_codes")


@transaction.atomic
def rerun_task(*, task_id: int, submitter=None) -> Task:
    """Submit a finished task again: a new task with the same spec, linked to it by `rerun_of`."""
    original = Task.objects.filter(pk=task_id).first()
    if original is None:
        raise NotFound(f"Task {task_id} not found.")
    if original.status not in TERMINAL_STATUSES:
        raise InvalidTransition(f"Only a finished task can be rerun; this one is {original.status}.")
    spec = {field: getattr(original, field) for field in RERUN_FIELDS}
    return submit_task(**spec, submitter=submitter, rerun_of=original)


@transaction.atomic
def requeue_task(*, task_id: int, by: str = "") -> Task:
    """Operator action: end the current attempt of an ASSIGNED/RUNNING task and place it again."""
    task = _lock(task_id)
    if task.status not in ACTIVE_STATUSES:
        raise InvalidTransition(f"Only ASSIGNED or RUNNING tasks can be requeued; this one is {task.status}.")
    recovery.requeue(task, reason="Requeued", message=f"Requeued by {by}." if by else "Requeued.")
    return task


@transaction.atomic
def delete_task(*, task_id: int, by: str = "") -> None:
    """Operator action (admin delete): a task that has not finished is cancelled first, as
    `cancel_task` does (reservation released, agent nudged to kill it), then the task goes with its
    events and output."""
    task = Task.objects.select_for_update().filter(pk=task_id).first()
    if task is None:
        return
    if task.status not in TERMINAL_STATUSES:
        was_active = task.status in ACTIVE_STATUSES
        states.transition(task, TaskStatus.CANCELLED, reason="Cancelled",
                          message=f"Deleted by {by}." if by else "Deleted.")
        if was_active:
            request_placement()
    task.delete()
    log.info("task deleted", extra={"task": task_id, "by": by})
