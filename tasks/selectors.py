"""Reads about tasks for the API: filtered lists and the detail with its history."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from scheduler_site.exceptions import DomainError, NotFound
from scheduler_site.formats import parse_id
from scheduler_site.statuses import TASK_STATUSES
from tasks.models import Task, TaskEvent


class BadFilter(DomainError):
    pass


def parse_status_filter(raw: str | None) -> list[str] | None:
    """`?status=RUNNING` or `?status=PENDING,ASSIGNED`; case-insensitive."""
    if not raw:
        return None
    wanted = [part.strip().upper() for part in raw.split(",") if part.strip()]
    unknown = [part for part in wanted if part not in TASK_STATUSES]
    if unknown:
        raise BadFilter(
            f"Unknown status {', '.join(unknown)}; use {', '.join(TASK_STATUSES)}.", field="status"
        )
    return wanted


def list_tasks(*, status: str | None = None, node: str | None = None) -> QuerySet[Task]:
    query = Task.objects.order_by("-id")
    statuses = parse_status_filter(status)
    if statuses:
        query = query.filter(status__in=statuses)
    if node:
        if "\x00" in node:
            raise BadFilter("Must be a node id or name.", field="node")
        node_id = parse_id(node)
        query = query.filter(node_id=node_id) if node_id else query.filter(node_name=node)
    return query


def get_task(task_id: str | int, *, with_events: bool = False) -> Task:
    pk = parse_id(task_id)
    if pk is None:
        raise NotFound(f"Task {task_id!r} not found.")
    query = Task.objects.select_related("submitter")
    if with_events:
        query = query.prefetch_related(Prefetch("events", queryset=TaskEvent.objects.order_by("id")))
    task = query.filter(pk=pk).first()
    if task is None:
        raise NotFound(f"Task {task_id} not found.")
    return task
