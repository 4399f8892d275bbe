"""Reads about nodes: lists for the API and the dashboard, with their task counts."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Count, Q, QuerySet

from nodes.models import Node
from scheduler_site.exceptions import NotFound
from scheduler_site.formats import parse_id
from scheduler_site.statuses import ACTIVE_STATUSES

_ACTIVE = Count("tasks", filter=Q(tasks__status__in=ACTIVE_STATUSES))  # `tasks`: the relation from Task.node


def nodes_with_counts() -> QuerySet[Node]:
    """Nodes annotated with `tasks_running`: tasks ASSIGNED to or RUNNING on them."""
    return Node.objects.annotate(tasks_running=_ACTIVE)


def active_task_counts(node_ids: Iterable[int]) -> dict[int, int]:
    rows = Node.objects.filter(pk__in=list(node_ids)).annotate(n=_ACTIVE).values_list("pk", "n")
    return dict(rows)


def get_node(node_id: str | int) -> Node:
    pk = parse_id(node_id)
    node = nodes_with_counts().filter(pk=pk).first() if pk else None
    if node is None:
        raise NotFound(f"Node {node_id!r} not found.")
    return node


def known_resource_names() -> list[str]:
    """Named resources some registered node advertises (submit refuses any other name)."""
    return sorted({name for names in Node.objects.exclude(resources={}).values_list("resources", flat=True)
                   for name in names or {}})
