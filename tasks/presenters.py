"""Plain-dict views of tasks and events, shared by the REST serializers and the live streams.

Hand-written rather than a DRF serializer because the placement path publishes thousands of
these per second; the serializers delegate here so the API and the streams never disagree.
"""

from __future__ import annotations

from nodes.resources import RESOURCES
from scheduler_site.formats import iso
from scheduler_site.statuses import ACTIVE_STATUSES, TaskStatus
from tasks.models import Task, TaskEvent


def task_summary(task: Task) -> dict:
    return {
        "id": task.pk,
        "name": task.name,
        "command": task.command,
        **{r.request_field: r.to_api(getattr(task, r.request_field)) for r in RESOURCES},  # the request
        "priority": task.priority,
        "status": task.status,
        "status_reason": task.status_reason,
        "status_message": task.status_message,
        "node": task.node_id,
        "node_name": task.node_name or None,
        "attempt": task.attempt,
        "max_attempts": task.max_attempts,
        "timeout": task.timeout,
        "exit_code": task.exit_code,
        "created_at": iso(task.created_at),
        "assigned_at": iso(task.assigned_at),
        "started_at": iso(task.started_at),
        "finished_at": iso(task.finished_at),
        "updated_at": iso(task.updated_at),  # newer wins when a REST copy and a live one cross
        "rerun_of": task.rerun_of_id,
        **batch_summary(task),
    }


def batch_summary(task: Task) -> dict:
    """The batch workload fields (issue 16): retries, dependencies, array."""
    waiting = task.status == TaskStatus.PENDING and task.not_before is not None
    return {
        "retries": task.retries,
        "retries_used": task.retries_used,
        "retry_backoff": task.retry_backoff,
        "retry_backoff_max": task.retry_backoff_max,
        "retry_on_exit_codes": task.retry_on_exit_codes,
        "lost_attempts": task.lost_attempts,
        "not_before": iso(task.not_before) if waiting else None,
        "dependency": task.dependency,
        "array_id": task.array_id,
        "array_index": task.array_index,
    }


def event_summary(event: TaskEvent) -> dict:
    return {
        "id": event.pk,
        "time": iso(event.created_at),
        "attempt": event.attempt,
        "from_status": event.from_status or None,
        "to_status": event.to_status,
        "node": event.node_id,
        "node_name": event.node_name or None,
        "reason": event.reason,
        "message": event.message,
    }


def active_task_summaries(node) -> list[dict]:
    """A node's ASSIGNED and RUNNING tasks, oldest first (the node detail's `tasks`)."""
    return [task_summary(task) for task in Task.objects.filter(node=node, status__in=ACTIVE_STATUSES).order_by("id")]
