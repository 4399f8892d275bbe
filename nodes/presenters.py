"""Plain-dict view of a node, shared by the REST serializers and the live cluster stream."""

from __future__ import annotations

from nodes.models import Node
from nodes.resources import RESOURCES
from scheduler_site.formats import iso


def node_summary(node: Node, *, tasks_running: int | None = None) -> dict:
    running = tasks_running if tasks_running is not None else getattr(node, "tasks_running", None)
    return {
        "id": node.pk,
        "name": node.name,
        "status": node.status,
        "draining": node.draining,
        "labels": node.labels,
        # The resource vector: capacity, allocated and free of each, in the API's units.
        **{r.request_field: r.to_api(getattr(node, r.capacity_field)) for r in RESOURCES},
        **{f"{r.request_field}_allocated": r.to_api(getattr(node, r.allocated_field)) for r in RESOURCES},
        **{f"{r.request_field}_free": r.to_api(node.free(r)) for r in RESOURCES},
        "cpu_usage": node.cpu_usage,
        "mem_usage": node.mem_usage,
        "gpu_usage": node.gpu_usage,  # [{index, util, mem_used, mem_total}] or null (issue 19, usage)
        "last_heartbeat": iso(node.last_heartbeat),
        "tasks_running": running,
        "registered_at": iso(node.registered_at),
        "gpu_devices": node.gpu_devices or [],  # GPUs (issue 19): [{index, uuid, model, memory}]
        "resources": named_resources(node),
    }


def named_resources(node: Node) -> dict[str, dict[str, int]]:
    """Named countable resources: name -> {capacity, allocated, free}."""
    held = node.resources_allocated or {}
    return {name: {"capacity": capacity, "allocated": held.get(name, 0), "free": capacity - held.get(name, 0)}
            for name, capacity in sorted((node.resources or {}).items())}
