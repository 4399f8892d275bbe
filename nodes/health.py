"""Node health: how long since a heartbeat makes a node UNHEALTHY or OFFLINE, and the only code
that writes `Node.status`. Requeueing an OFFLINE node's tasks is `tasks.recovery`'s job.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from nodes import hooks
from nodes.models import Node, NodeEvent, NodeStatus
from nodes.node_updates import nodes_changed, usage_seen
from scheduler_site import metrics
from scheduler_site.sql import update_from_values


def classify(*, last_heartbeat: datetime, now: datetime) -> str:
    """The status a node deserves from the age of its last heartbeat alone."""
    age = (now - last_heartbeat).total_seconds()
    if age >= settings.SCHEDULER_OFFLINE_AFTER:
        return NodeStatus.OFFLINE
    if age >= settings.SCHEDULER_UNHEALTHY_AFTER:
        return NodeStatus.UNHEALTHY
    return NodeStatus.ONLINE


def offline_cutoff(now: datetime) -> datetime:
    return now - timedelta(seconds=settings.SCHEDULER_OFFLINE_AFTER)


def unhealthy_cutoff(now: datetime) -> datetime:
    return now - timedelta(seconds=settings.SCHEDULER_UNHEALTHY_AFTER)


def set_status(node: Node, target: str, *, reason: str, message: str = "") -> NodeEvent | None:
    """Write a status change the caller has decided on (holding the node row locked)."""
    if node.status == target:
        return None
    event = NodeEvent.objects.create(
        node=node, from_status=node.status, to_status=target, reason=reason, message=message
    )
    node.status = target
    Node.objects.filter(pk=node.pk).update(status=target)
    nodes_changed([node])
    if target == NodeStatus.ONLINE:
        hooks.placement_wanted()
    return event


def mark_unhealthy(now: datetime | None = None) -> list[Node]:
    """ONLINE nodes silent for UNHEALTHY_AFTER take no new placements. Conditional updates make
    two sweepers safe: only the one whose UPDATE matched records the event."""
    now = now or timezone.now()
    cutoff = unhealthy_cutoff(now)
    changed = []
    for node in Node.objects.filter(status=NodeStatus.ONLINE, last_heartbeat__lt=cutoff):
        if Node.objects.filter(pk=node.pk, status=NodeStatus.ONLINE, last_heartbeat__lt=cutoff).update(
            status=NodeStatus.UNHEALTHY
        ):
            silent = (now - node.last_heartbeat).total_seconds()
            NodeEvent.objects.create(
                node=node, from_status=NodeStatus.ONLINE, to_status=NodeStatus.UNHEALTHY,
                reason="HeartbeatMissed", message=f"No heartbeat for {silent:.1f}s.",
            )
            node.status = NodeStatus.UNHEALTHY
            changed.append(node)
    nodes_changed(changed)
    return changed


def stale_node_ids(now: datetime | None = None) -> list[int]:
    """Nodes due to go OFFLINE (candidates; `tasks.recovery` re-checks under lock)."""
    now = now or timezone.now()
    return list(
        Node.objects.filter(~Q(status=NodeStatus.OFFLINE), last_heartbeat__lt=offline_cutoff(now))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def record_heartbeat(node: Node, *, cpu_usage: float | None, mem_usage: float | None,
                     gpu_usage: list[dict] | None = None) -> None:
    """A sign of life: stamp it, keep the usage figures, and bring a silent node back ONLINE.
    One conditional UPDATE when the node is ONLINE, which is almost always."""
    now = timezone.now()
    metrics.HEARTBEATS.labels("http").inc()
    metrics.HEARTBEAT_GAP.observe((now - node.last_heartbeat).total_seconds())
    fields = {"last_heartbeat": now, "cpu_usage": cpu_usage, "mem_usage": mem_usage, "gpu_usage": gpu_usage}
    node.last_heartbeat, node.cpu_usage, node.mem_usage, node.gpu_usage = now, cpu_usage, mem_usage, gpu_usage
    if Node.objects.filter(pk=node.pk, status=NodeStatus.ONLINE).update(**fields):
        node.status = NodeStatus.ONLINE
        usage_seen([(node.pk, cpu_usage, mem_usage, gpu_usage)], now)
        return
    with transaction.atomic():
        locked = Node.objects.select_for_update().get(pk=node.pk)
        Node.objects.filter(pk=node.pk).update(**fields)
        for name, value in fields.items():
            setattr(locked, name, value)
        set_status(locked, NodeStatus.ONLINE, reason="HeartbeatResumed", message="Heartbeats arrive again.")
        node.status = locked.status


def record_heartbeats(beats: list[tuple]) -> dict[int, tuple[int, str, bool]]:
    """Many heartbeats in one statement: (node id, cpu %, mem %[, gpu_usage]) in; for each node, its
    (generation, status, draining) out, so every agent learns at once whether its desired state
    changed. Nodes that were not ONLINE come back through `record_heartbeat` (rare)."""
    if not beats:
        return {}
    beats = [(node_id, cpu, mem, gpu[0] if gpu else None) for node_id, cpu, mem, *gpu in beats]
    now = timezone.now()
    # The gap metric needs the heartbeat being replaced; RETURNING cannot give it on SQLite.
    before = dict(Node.objects.filter(pk__in=[node_id for node_id, *_ in beats]).values_list("pk", "last_heartbeat"))
    _, rows = update_from_values(
        Node._meta.db_table,
        columns=[("id", "bigint"), ("cpu", "double precision"), ("mem", "double precision"), ("gpu", "jsonb")],
        rows=[(node_id, cpu, mem, None if gpu is None else json.dumps(gpu)) for node_id, cpu, mem, gpu in beats],
        set_sql="last_heartbeat = %s, cpu_usage = v.cpu, mem_usage = v.mem, gpu_usage = v.gpu",
        set_params=[now],
        where_sql=f"{connection.ops.quote_name(Node._meta.db_table)}.status = %s",
        where_params=[NodeStatus.ONLINE],
        returning=["id", "generation", "draining"],
    )
    answers = {node_id: (generation, NodeStatus.ONLINE, bool(draining)) for node_id, generation, draining in rows}
    metrics.HEARTBEATS.labels("websocket").inc(len(beats))
    for node_id in answers:
        if before.get(node_id) is not None:
            metrics.HEARTBEAT_GAP.observe((now - before[node_id]).total_seconds())
    for node_id, cpu, mem, gpu in beats:
        if node_id in answers:
            continue
        node = Node.objects.filter(pk=node_id).first()
        if node is not None:
            record_heartbeat(node, cpu_usage=cpu, mem_usage=mem, gpu_usage=gpu)
            node.refresh_from_db(fields=["generation", "status", "draining"])
            answers[node_id] = (node.generation, node.status, node.draining)
    written = {node_id for node_id, *_ in rows}
    usage_seen([beat for beat in beats if beat[0] in written], now)
    return answers
