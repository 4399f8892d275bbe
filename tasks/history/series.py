"""History rows as JSON: one point per row (the live `history` frame) and columns of points
(the API), in cores and MiB, the units the rest of the API uses."""

from __future__ import annotations

from scheduler_site.formats import millicores_to_cores
from tasks.history.models import ClusterSample, NodeSample

CLUSTER_SERIES = ("cpu", "mem", "queue", "tasks", "placement", "nodes")
NODE_SERIES = ("cpu", "mem")


def cluster_point(s: ClusterSample) -> dict:
    return {
        "t": int(s.bucket.timestamp()),
        "cpu": {"used": millicores_to_cores(s.cpu_used), "allocated": millicores_to_cores(s.cpu_allocated),
                "capacity": millicores_to_cores(s.cpu_capacity)},
        "mem": {"used": s.mem_used, "allocated": s.mem_allocated, "capacity": s.mem_capacity},
        "queue": {"pending": s.queue_depth},
        "tasks": {"started": s.started, "succeeded": s.succeeded, "failed": s.failed},
        "placement": {"count": s.placements,
                      "avg_ms": round(s.placement_ms_sum / s.placements) if s.placements else None,
                      "max_ms": s.placement_ms_max if s.placements else None},
        "nodes": {"online": s.nodes_online},
    }


def node_point(s: NodeSample) -> dict:
    return {
        "id": s.node_id,
        "t": int(s.bucket.timestamp()),
        "cpu": {"used": millicores_to_cores(s.cpu_used), "allocated": millicores_to_cores(s.cpu_allocated),
                "capacity": millicores_to_cores(s.cpu_capacity)},
        "mem": {"used": s.mem_used, "allocated": s.mem_allocated, "capacity": s.mem_capacity},
    }


def columns(points: list[dict], series: tuple[str, ...]) -> dict:
    """[{t, cpu: {used, ...}, ...}, ...] -> {t: [...], cpu: {used: [...], ...}} for the series asked."""
    out: dict = {"t": [p["t"] for p in points]}
    for name in series:
        keys = points[0][name].keys() if points else ()
        out[name] = {k: [p[name][k] for p in points] for k in keys}
    return out
