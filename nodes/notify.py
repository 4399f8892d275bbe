"""After commit, publish node state to browsers watching the cluster."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

from django.db import transaction

from nodes.models import Node
from nodes.presenters import node_summary
from nodes.selectors import active_task_counts, nodes_with_counts
from scheduler_site import bus, groups


def nodes_changed(nodes: Iterable[Node]) -> None:
    nodes = list(nodes)
    if not nodes:
        return
    counts = active_task_counts([node.pk for node in nodes])
    summaries = [node_summary(node, tasks_running=counts.get(node.pk, 0)) for node in nodes]
    transaction.on_commit(lambda: bus.publish(groups.EVENTS, {"type": "cluster.nodes", "nodes": summaries}))


# Heartbeats are frequent (thousands a second on a big cluster): usage figures are coalesced per
# process and published at most once per USAGE_PUBLISH_INTERVAL, read fresh for the nodes heard from.
USAGE_PUBLISH_INTERVAL = 1.0
_usage_pending: set[int] = set()
_usage_lock = threading.Lock()
_usage_last_publish = 0.0


def usage_changed(node_ids: Iterable[int]) -> None:
    global _usage_last_publish
    now = time.monotonic()
    with _usage_lock:
        _usage_pending.update(node_ids)
        if now - _usage_last_publish < USAGE_PUBLISH_INTERVAL or not _usage_pending:
            return
        batch = list(_usage_pending)
        _usage_pending.clear()
        _usage_last_publish = now
    summaries = [node_summary(node) for node in nodes_with_counts().filter(pk__in=batch)]
    bus.publish(groups.EVENTS, {"type": "cluster.nodes", "nodes": summaries})
