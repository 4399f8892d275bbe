"""Plain-dict view of a node, shared by the REST serializers and the live cluster stream."""

from __future__ import annotations

from nodes.models import Node
from scheduler_site.formats import iso, millicores_to_cores


def node_summary(node: Node, *, tasks_running: int | None = None) -> dict:
    running = tasks_running if tasks_running is not None else getattr(node, "tasks_running", None)
    return {
        "id": node.pk,
        "name": node.name,
        "status": node.status,
        "draining": node.draining,
        "labels": node.labels,
        "cpu": millicores_to_cores(node.cpu_capacity),
        "mem": node.mem_capacity,
        "cpu_allocated": millicores_to_cores(node.cpu_allocated),
        "mem_allocated": node.mem_allocated,
        "cpu_free": millicores_to_cores(node.cpu_free),
        "mem_free": node.mem_free,
        "cpu_usage": node.cpu_usage,
        "mem_usage": node.mem_usage,
        "last_heartbeat": iso(node.last_heartbeat),
        "tasks_running": running,
        "registered_at": iso(node.registered_at),
    }
