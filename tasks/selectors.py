"""Reads about tasks for the API: filtered lists and the detail with its history."""

from __future__ import annotations

from django.db.models import Prefetch, Q, QuerySet

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


MAX_QUERY_LENGTH = 200


def _text_filter(raw: str | None, field: str) -> str | None:
    if raw is None or not raw.strip():
        return None
    if "\x00" in raw:
        raise BadFilter("Must not contain NUL bytes.", field=field)
    if len(raw) > MAX_QUERY_LENGTH:
        raise BadFilter(f"At most {MAX_QUERY_LENGTH} characters.", field=field)
    return raw.strip()


def list_tasks(
    *, status: str | None = None, node: str | None = None, q: str | None = None, owner: str | None = None,
    array: str | None = None,
) -> QuerySet[Task]:
    """Tasks newest first, filtered: `status` (one or several), `node` (id or name), `owner` (the
    submitter's username), `array` (its elements), `q` (text in the name or the command, or `#id`). Every filter keeps
    an index on (column, -id) usable, so a page of the newest matches stays a short index walk."""
    query = Task.objects.order_by("-id")
    statuses = parse_status_filter(status)
    if statuses:
        query = query.filter(status__in=statuses)
    if node := _text_filter(node, "node"):
        node_id = parse_id(node)
        query = query.filter(node_id=node_id) if node_id else query.filter(node_name=node)
    if array := _text_filter(array, "array"):
        array_id = parse_id(array)
        if array_id is None:
            raise BadFilter("Must be an array id.", field="array")
        query = query.filter(array_id=array_id)
    if owner := _text_filter(owner, "owner"):
        query = query.filter(submitter__username=owner)
    if q := _text_filter(q, "q"):
        task_id = parse_id(q[1:]) if q.startswith("#") else None
        query = query.filter(pk=task_id) if task_id else query.filter(Q(name__icontains=q) | Q(command__icontains=q))
    return query


def get_task(task_id: str | int, *, with_events: bool = False) -> Task:
    pk = parse_id(task_id)
    if pk is None:
        raise NotFound(f"Task {task_id!r} not found.")
    query = Task.objects.select_related("submitter")
    if with_events:
        query = query.prefetch_related(Prefetch("events", queryset=TaskEvent.objects.order_by("id")),
                                       "depends_on", "dependents")
    task = query.filter(pk=pk).first()
    if task is None:
        raise NotFound(f"Task {task_id} not found.")
    return task
