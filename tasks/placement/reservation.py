"""Claim pending tasks and reserve node capacity for them, atomically.

One batch is one transaction:
  1. claim up to `batch_size` PENDING tasks, highest priority first, then oldest
     (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so several schedulers take disjoint tasks);
  2. plan every claimed task against a snapshot of the nodes (filters, then scorer);
  3. lock the node rows the plan touches (`FOR UPDATE`, in id order: no deadlocks) and re-check
     the plan against the locked rows; a node another scheduler filled meanwhile loses its share
     of the plan, and those tasks stay PENDING for the next batch;
  4. reserve capacity and move the tasks to ASSIGNED together.
On SQLite the same code is correct because IMMEDIATE transactions serialize writers.
Lock order everywhere in the project: task rows before node rows.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q

from nodes.models import Node, NodeStatus
from scheduler_site import metrics
from tasks import accounting, states
from tasks.models import Task, TaskStatus
from tasks.placement.nodetable import NodeTable, NodeView, TaskRequest
from tasks.placement.pipeline import SCORERS, Decision, choose

log = logging.getLogger("tasks.placement")


@dataclass
class PlacementReport:
    placed: int = 0
    unschedulable: int = 0
    conflicts: int = 0
    skipped_locked: int = 0  # PENDING tasks another transaction held: not looked at, retry soon
    batches: int = 0
    seconds: float = 0.0
    decision_seconds: list[float] = field(default_factory=list)


def _snapshot() -> NodeTable:
    rows = Node.objects.values_list(
        "id", "name", "cpu_capacity", "mem_capacity", "cpu_allocated", "mem_allocated", "status", "draining", "labels"
    )
    return NodeTable([NodeView(*row) for row in rows])


def _claim(batch_size: int, after: tuple[int, int] | None, report: PlacementReport) -> list[Task]:
    query = Task.objects.filter(status=TaskStatus.PENDING)
    if after is not None:
        priority, task_id = after
        query = query.filter(Q(priority__lt=priority) | Q(priority=priority, id__gt=task_id))
    query = query.order_by("-priority", "id")
    if not connection.features.has_select_for_update_skip_locked:
        return list(query[:batch_size])
    claimed = list(query.select_for_update(skip_locked=True, of=("self",))[:batch_size])
    # A task row locked by another transaction (an agent's report on it, a cancel) is skipped,
    # not waited for; nothing else would bring this pass back to it, so count it for a retry.
    visible = set(query.values_list("id", flat=True)[:batch_size])
    report.skipped_locked += len(visible - {task.pk for task in claimed})
    return claimed


def _request(task: Task) -> TaskRequest:
    return TaskRequest(cpu=task.cpu, mem=task.mem, node_selector=task.node_selector or {})


Plan = dict[int, list[Task]]  # node id -> tasks planned onto it


def _plan(tasks: list[Task], table: NodeTable, report: PlacementReport) -> tuple[Plan, list[tuple[Task, Decision]]]:
    scorer = SCORERS[settings.SCHEDULER_SCORER]
    by_node: dict[int, list[Task]] = defaultdict(list)
    unplaced: list[tuple[Task, Decision]] = []
    failed_shapes: dict[tuple, Decision] = {}
    for task in tasks:
        request = _request(task)
        shape = (request.cpu, request.mem, frozenset(request.node_selector.items()))
        # Within a batch capacity only shrinks, so a shape that fitted nowhere still fits nowhere.
        decision = failed_shapes.get(shape)
        if decision is None:
            started = time.perf_counter()
            decision = choose(table, request, scorer=scorer)
            report.decision_seconds.append(time.perf_counter() - started)
        if decision.index is None:
            failed_shapes[shape] = decision
            unplaced.append((task, decision))
            continue
        table.take(decision.index, request)
        by_node[int(table.ids[decision.index])].append(task)
    return by_node, unplaced


def _lock_and_recheck(by_node: dict[int, list[Task]]) -> tuple[dict[int, Node], list[Task]]:
    """Lock the planned nodes; return those whose locked state still fits their share, and the
    tasks of those that do not (another scheduler used the capacity first)."""
    locked = {node.pk: node for node in Node.objects.select_for_update().filter(pk__in=by_node).order_by("pk")}
    accepted: dict[int, Node] = {}
    bounced: list[Task] = []
    for node_id, tasks in by_node.items():
        node = locked.get(node_id)
        cpu = sum(t.cpu for t in tasks)
        mem = sum(t.mem for t in tasks)
        if (
            node is not None
            and node.status == NodeStatus.ONLINE
            and not node.draining
            and cpu <= node.cpu_free
            and mem <= node.mem_free
        ):
            accepted[node_id] = node
        else:
            bounced.extend(tasks)
    return accepted, bounced


def _place(tasks: list[Task], report: PlacementReport) -> None:
    """Plan `tasks` (claimed or just created by this transaction), lock and re-check the nodes,
    reserve and assign; note why the rest fit nowhere."""
    table = _snapshot()
    by_node, unplaced = _plan(tasks, table, report)
    accepted, bounced = _lock_and_recheck(by_node)
    accounting.reserve(
        {nid: (sum(t.cpu for t in by_node[nid]), sum(t.mem for t in by_node[nid])) for nid in accepted}
    )
    placements = [(task, accepted[nid]) for nid in accepted for task in by_node[nid]]
    placements.sort(key=lambda pair: pair[0].pk)
    states.assign_many(placements)
    for task, decision in unplaced:
        states.note_unschedulable(task, decision.explain())
    report.placed += len(placements)
    report.unschedulable += len(unplaced)
    report.conflicts += len(bounced)
    report.batches += 1


def _place_batch(batch_size: int, after: tuple[int, int] | None, report: PlacementReport) -> tuple[int, int] | None:
    """Place one batch; returns the queue position to continue from, or None when the queue is done."""
    with transaction.atomic():
        tasks = _claim(batch_size, after, report)
        if not tasks:
            return None
        _place(tasks, report)
        last = tasks[-1]
        return (last.priority, last.pk) if len(tasks) == batch_size else None


def place_pending_tasks(*, batch_size: int = 1000, max_passes: int = 5) -> PlacementReport:
    """Walk the whole PENDING queue once (more if a concurrent scheduler bounced some tasks)."""
    report = PlacementReport()
    started = time.perf_counter()
    for _ in range(max_passes):
        conflicts_before = report.conflicts
        position: tuple[int, int] | None = None
        while True:
            position = _place_batch(batch_size, position, report)
            if position is None:
                break
        if report.conflicts == conflicts_before:
            break
    report.seconds = time.perf_counter() - started
    if report.batches:
        metrics.PLACEMENTS.inc(report.placed)
        metrics.PLACEMENT_PASS.observe(report.seconds)
        for seconds in report.decision_seconds:
            metrics.PLACEMENT_DECISION.observe(seconds)
    if report.placed or report.conflicts:
        log.info(
            "placement pass",
            extra={"placed": report.placed, "unschedulable": report.unschedulable, "conflicts": report.conflicts,
                   "seconds": round(report.seconds, 4)},
        )
    return report


def place_submitted(task: Task) -> bool:
    """The submit fast path, inside the submit's own transaction: when no other task is waiting,
    place this one at once instead of a thread hop and a transaction later in the placement loop.
    When others wait, the loop places them all in priority order. Returns whether it was placed."""
    if Task.objects.filter(status=TaskStatus.PENDING).exclude(pk=task.pk).exists():
        return False
    report = PlacementReport()
    with transaction.atomic():
        _place([task], report)
    if report.placed:
        metrics.PLACEMENTS.inc(report.placed)
    return bool(report.placed)
