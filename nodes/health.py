"""Node health: how long since a heartbeat makes a node UNHEALTHY or OFFLINE, and the only code
that writes `Node.status`. Requeueing an OFFLINE node's tasks is `tasks.recovery`'s job.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from nodes.models import Node, NodeEvent, NodeStatus
from nodes.notify import nodes_changed, usage_seen
from scheduler_site import metrics
from tasks.placement.trigger import request_placement


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
        request_placement()
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


def record_heartbeat(node: Node, *, cpu_usage: float | None, mem_usage: float | None) -> None:
    """A sign of life: stamp it, keep the usage figures, and bring a silent node back ONLINE.
    One conditional UPDATE when the node is ONLINE, which is almost always."""
    now = timezone.now()
    metrics.HEARTBEATS.labels("http").inc()
    metrics.HEARTBEAT_GAP.observe((now - node.last_heartbeat).total_seconds())
    fields = {"last_heartbeat": now, "cpu_usage": cpu_usage, "mem_usage": mem_usage}
    node.last_heartbeat, node.cpu_usage, node.mem_usage = now, cpu_usage, mem_usage
    if Node.objects.filter(pk=node.pk, status=NodeStatus.ONLINE).update(**fields):
        node.status = NodeStatus.ONLINE
        usage_seen([(node.pk, cpu_usage, mem_usage)], now)
        return
    with transaction.atomic():
        locked = Node.objects.select_for_update().get(pk=node.pk)
        Node.objects.filter(pk=node.pk).update(**fields)
        locked.last_heartbeat, locked.cpu_usage, locked.mem_usage = now, cpu_usage, mem_usage
        set_status(locked, NodeStatus.ONLINE, reason="HeartbeatResumed", message="Heartbeats arrive again.")
        node.status = locked.status


def record_heartbeats(beats: list[tuple[int, float | None, float | None]]) -> dict[int, tuple[int, str, bool]]:
    """Many heartbeats in one statement: (node id, cpu %, mem %) in; for each node, its
    (generation, status, draining) out, so every agent learns at once whether its desired state
    changed. Nodes that were not ONLINE come back through `record_heartbeat` (rare)."""
    if not beats:
        return {}
    now = timezone.now()
    postgres = connection.vendor == "postgresql"
    row = "(%s::bigint, %s::double precision, %s::double precision)" if postgres else "(%s, %s, %s)"
    table = Node._meta.db_table
    # RETURNING names only the updated table's columns: SQLite (3.40, what Python links on Debian
    # 12) cannot return a column of a joined table. The previous heartbeat times are read first, in
    # the same transaction (on SQLite, IMMEDIATE: the write lock is already held).
    sql = (
        f"WITH beat(id, cpu, mem) AS (VALUES {', '.join([row] * len(beats))}) "
        f"UPDATE {table} SET last_heartbeat = %s, cpu_usage = beat.cpu, mem_usage = beat.mem "
        f"FROM beat WHERE {table}.id = beat.id AND {table}.status = %s "
        f"RETURNING {table}.id, {table}.generation, {table}.draining, {table}.cpu_usage, {table}.mem_usage"
    )
    params = [value for beat in beats for value in beat] + [now, NodeStatus.ONLINE]
    with transaction.atomic():
        previous = dict(Node.objects.filter(pk__in=[beat[0] for beat in beats], status=NodeStatus.ONLINE)
                        .values_list("pk", "last_heartbeat"))
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
    answers = {row[0]: (row[1], NodeStatus.ONLINE, bool(row[2])) for row in rows}
    metrics.HEARTBEATS.labels("websocket").inc(len(beats))
    for node_id, *_ in rows:
        before = previous.get(node_id)
        if before is not None:
            metrics.HEARTBEAT_GAP.observe((now - before).total_seconds())
    for node_id, cpu, mem in beats:
        if node_id in answers:
            continue
        node = Node.objects.filter(pk=node_id).first()
        if node is not None:
            record_heartbeat(node, cpu_usage=cpu, mem_usage=mem)
            node.refresh_from_db(fields=["generation", "status", "draining"])
            answers[node_id] = (node.generation, node.status, node.draining)
    usage_seen([(row[0], row[3], row[4]) for row in rows], now)
    return answers
