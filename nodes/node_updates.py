"""After commit, publish node state to browsers watching the cluster."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from datetime import datetime

from django.db import transaction

from nodes.models import Node
from nodes.presenters import node_summary
from nodes.selectors import active_task_counts
from scheduler_site import bus, groups
from scheduler_site.formats import iso


def nodes_changed(nodes: Iterable[Node]) -> None:
    nodes = list(nodes)
    if not nodes:
        return
    counts = active_task_counts([node.pk for node in nodes])
    summaries = [node_summary(node, tasks_running=counts.get(node.pk, 0)) for node in nodes]
    transaction.on_commit(lambda: bus.publish(groups.EVENTS, {"type": "cluster.nodes", "nodes": summaries}))


# Heartbeats are frequent (thousands a second on a big cluster): usage figures are coalesced per
# process, newest per node, and published at most once per USAGE_PUBLISH_INTERVAL as partial node
# updates ({"type": "cluster.usage"}: id, cpu_usage, mem_usage, last_heartbeat), with no query.
USAGE_PUBLISH_INTERVAL = 1.0
_usage_pending: dict[int, dict] = {}
_usage_lock = threading.Lock()
_usage_last_publish = 0.0


def usage_seen(figures: Iterable[tuple[int, float | None, float | None, list | None]], at: datetime) -> None:
    """(node id, cpu %, mem %, gpu_usage) of heartbeats just written, published to the dashboards
    at most every USAGE_PUBLISH_INTERVAL."""
    global _usage_last_publish
    now = time.monotonic()
    stamp = iso(at)
    with _usage_lock:
        for node_id, cpu, mem, gpu in figures:
            _usage_pending[node_id] = {"id": node_id, "cpu_usage": cpu, "mem_usage": mem, "gpu_usage": gpu,
                                       "last_heartbeat": stamp}
        if now - _usage_last_publish < USAGE_PUBLISH_INTERVAL or not _usage_pending:
            return
        batch = list(_usage_pending.values())
        _usage_pending.clear()
        _usage_last_publish = now
    bus.publish(groups.EVENTS, {"type": "cluster.usage", "nodes": batch})
