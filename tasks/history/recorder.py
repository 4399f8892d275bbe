"""Recording the history: called by the sweeper on every pass, it writes the finest bucket that
has just closed (the cluster's gauges and counts, one row per node not OFFLINE), rolls finished
buckets up into the coarser tiers, and prunes what is past each tier's keep.

Idempotent per bucket, so several sweepers can run it: (step, bucket) is unique and every write
ignores conflicts; a sweeper that finds the bucket written skips it. The database is the truth:
a sweeper that restarts mid-bucket loses nothing but that bucket's row.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from django.db import transaction
from django.db.models import Avg, Count, F, Max, OuterRef, Q, Subquery, Sum
from django.utils import timezone

from nodes.models import Node, NodeStatus
from scheduler_site import bus, groups
from tasks.history.models import ClusterSample, NodeSample
from tasks.history.series import cluster_point, node_point
from tasks.history.tiers import FINEST, TIERS
from tasks.models import Task, TaskEvent, TaskStatus

log = logging.getLogger("tasks.history")

PRUNE_EVERY = timedelta(minutes=1)
# Which transitions count as what, per interval.
OUTCOMES = {TaskStatus.RUNNING: "started", TaskStatus.SUCCEEDED: "succeeded", TaskStatus.FAILED: "failed"}

_recorded_up_to: datetime | None = None  # the last bucket this process wrote or saw written (a memo)
_pruned_at: datetime | None = None


def bucket_start(when: datetime, step: int) -> datetime:
    seconds = int(when.timestamp()) // step * step
    return datetime.fromtimestamp(seconds, tz=UTC)


def record_history(*, now: datetime | None = None, publish: bool = True) -> bool:
    """Write the finest bucket that closed before `now` (if nobody has); roll up, prune.
    Returns whether this call wrote the bucket."""
    global _recorded_up_to, _pruned_at
    now = now or timezone.now()
    bucket = bucket_start(now, FINEST) - timedelta(seconds=FINEST)
    if _recorded_up_to == bucket:
        return False
    wrote = False
    with transaction.atomic():
        if not ClusterSample.objects.filter(step=FINEST, bucket=bucket).exists():
            sample, nodes = read_bucket(bucket, step=FINEST)
            ClusterSample.objects.bulk_create([sample], ignore_conflicts=True)
            NodeSample.objects.bulk_create(nodes, ignore_conflicts=True)
            wrote = True
    _recorded_up_to = bucket
    rollup(now=now)
    if _pruned_at is None or now - _pruned_at >= PRUNE_EVERY:
        prune_history(now=now)
        _pruned_at = now
    if wrote and publish:
        bus.publish(groups.EVENTS, live_message(sample, nodes))
    return wrote


def live_message(sample: ClusterSample, nodes: list[NodeSample]) -> dict:
    """The channel-layer message the events socket turns into a `history` frame."""
    return {"type": "cluster.history", "step": sample.step, "point": cluster_point(sample),
            "nodes": [node_point(n) for n in nodes]}


def read_bucket(bucket: datetime, *, step: int) -> tuple[ClusterSample, list[NodeSample]]:
    """The rows for [bucket, bucket + step): gauges read now, counts of what happened in it."""
    end = bucket + timedelta(seconds=step)
    sample = ClusterSample(step=step, bucket=bucket)
    nodes: list[NodeSample] = []
    rows = Node.objects.exclude(status=NodeStatus.OFFLINE).values_list(
        "id", "status", "cpu_capacity", "cpu_allocated", "cpu_usage", "mem_capacity", "mem_allocated", "mem_usage"
    )
    for node_id, status, cpu_cap, cpu_alloc, cpu_pct, mem_cap, mem_alloc, mem_pct in rows:
        cpu_used = round(cpu_cap * min(100.0, max(0.0, cpu_pct or 0.0)) / 100)
        mem_used = round(mem_cap * min(100.0, max(0.0, mem_pct or 0.0)) / 100)
        nodes.append(NodeSample(step=step, bucket=bucket, node_id=node_id, cpu_capacity=cpu_cap,
                                cpu_allocated=cpu_alloc, cpu_used=cpu_used, mem_capacity=mem_cap,
                                mem_allocated=mem_alloc, mem_used=mem_used))
        sample.nodes_online += status == NodeStatus.ONLINE
        sample.cpu_capacity += cpu_cap
        sample.cpu_allocated += cpu_alloc
        sample.cpu_used += cpu_used
        sample.mem_capacity += mem_cap
        sample.mem_allocated += mem_alloc
        sample.mem_used += mem_used
    sample.queue_depth = Task.objects.filter(status=TaskStatus.PENDING).count()
    window = TaskEvent.objects.filter(created_at__gte=bucket, created_at__lt=end)
    # a transition counts once; an event within one status (a new pending reason) does not
    counted = (window.filter(to_status__in=list(OUTCOMES)).exclude(from_status=F("to_status"))
               .values("to_status").annotate(n=Count("id")))
    for row in counted:
        setattr(sample, OUTCOMES[row["to_status"]], row["n"])
    latencies = placement_latencies_ms(window)
    if latencies:
        sample.placements = len(latencies)
        sample.placement_ms_sum = sum(latencies)
        sample.placement_ms_max = max(latencies)
    return sample, nodes


def placement_latencies_ms(window) -> list[int]:
    """For each placement in `window`: ms from the task's entry into PENDING (submitted or
    requeued, not a change of the pending reason) to that placement."""
    entered = (TaskEvent.objects.filter(task_id=OuterRef("task_id"), id__lt=OuterRef("id"),
                                        to_status=TaskStatus.PENDING)
               .exclude(from_status=TaskStatus.PENDING).order_by("-id").values("created_at")[:1])
    placed = window.filter(to_status=TaskStatus.ASSIGNED).annotate(queued_at=Subquery(entered))
    return [max(0, round((at - queued).total_seconds() * 1000))
            for at, queued in placed.values_list("created_at", "queued_at") if queued is not None]


def rollup(*, now: datetime) -> int:
    """Roll each finer tier's closed buckets into the next tier (the last two coarse buckets that
    ended, so a pass missed at the boundary is made up by the next). Returns rows written."""
    written = 0
    closed = bucket_start(now, FINEST)  # every finest bucket before this has been recorded (or missed)
    for fine, coarse in pairwise(TIERS):
        last = bucket_start(closed, coarse.step)
        for n in (1, 2):
            start = last - timedelta(seconds=coarse.step * n)
            if not ClusterSample.objects.filter(step=coarse.step, bucket=start).exists():
                written += _roll(fine.step, coarse.step, start)
    return written


def _roll(fine: int, coarse: int, start: datetime) -> int:
    end = start + timedelta(seconds=coarse)
    rows = ClusterSample.objects.filter(step=fine, bucket__gte=start, bucket__lt=end)
    agg = rows.aggregate(
        rows=Count("id"), nodes_online=Avg("nodes_online"), cpu_capacity=Avg("cpu_capacity"),
        cpu_allocated=Avg("cpu_allocated"), cpu_used=Avg("cpu_used"), mem_capacity=Avg("mem_capacity"),
        mem_allocated=Avg("mem_allocated"), mem_used=Avg("mem_used"), queue_depth=Avg("queue_depth"),
        started=Sum("started"), succeeded=Sum("succeeded"), failed=Sum("failed"), placements=Sum("placements"),
        placement_ms_sum=Sum("placement_ms_sum"), placement_ms_max=Max("placement_ms_max"),
    )
    if not agg.pop("rows"):
        return 0
    with transaction.atomic():
        ClusterSample.objects.bulk_create(
            [ClusterSample(step=coarse, bucket=start, **{k: round(v or 0) for k, v in agg.items()})],
            ignore_conflicts=True,
        )
        per_node = (NodeSample.objects.filter(step=fine, bucket__gte=start, bucket__lt=end).values("node_id")
                    .annotate(cpu_capacity=Avg("cpu_capacity"), cpu_allocated=Avg("cpu_allocated"),
                              cpu_used=Avg("cpu_used"), mem_capacity=Avg("mem_capacity"),
                              mem_allocated=Avg("mem_allocated"), mem_used=Avg("mem_used")))
        NodeSample.objects.bulk_create(
            [NodeSample(step=coarse, bucket=start, **{k: round(v) for k, v in row.items()}) for row in per_node],
            ignore_conflicts=True,
        )
    return 1


def prune_history(*, now: datetime | None = None) -> int:
    """Delete rows older than their tier keeps; returns how many."""
    now = now or timezone.now()
    deleted = 0
    for t in TIERS:
        old = Q(step=t.step, bucket__lt=now - t.keep)
        deleted += ClusterSample.objects.filter(old).delete()[0]
        deleted += NodeSample.objects.filter(old).delete()[0]
    return deleted


def forget_memo() -> None:
    """Tests: act as a fresh process (another sweeper)."""
    global _recorded_up_to, _pruned_at
    _recorded_up_to = _pruned_at = None
