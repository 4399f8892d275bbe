"""Claim pending tasks and reserve node capacity for them, atomically.

One batch is one transaction:
  1. claim up to `batch_size` PENDING tasks in queue order (`tasks.placement.queue`: priority, then
     fair share, then age; `FOR UPDATE SKIP LOCKED` on PostgreSQL, so several schedulers take
     disjoint tasks);
  2. ask the holds (`tasks.placement.holds`) which tasks wait for something else, and record why;
  3. plan every other task against a snapshot of the nodes (filters, then scorer);
  4. lock the node rows the plan touches (`FOR UPDATE`, in id order: no deadlocks) and run the same
     filters again on the locked rows; a node another scheduler filled (or that changed) meanwhile
     loses its share of the plan, and those tasks stay PENDING for the next batch;
  5. reserve capacity and move the tasks to ASSIGNED together.
On SQLite the same code is correct because IMMEDIATE transactions serialize writers.
Lock order everywhere in the project: task rows before node rows.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction

from nodes.models import Node
from nodes.resources import RESOURCES
from scheduler_site import metrics
from scheduler_site.statuses import TaskStatus, WaitReason
from tasks import accounting, states
from tasks.models import Task
from tasks.placement import holds, queue
from tasks.placement.nodetable import NodeTable, NodeView, TaskRequest
from tasks.placement.pipeline import SCORERS, Decision, choose, feasible

log = logging.getLogger("tasks.placement")


@dataclass
class PlacementReport:
    placed: int = 0
    unschedulable: int = 0
    conflicts: int = 0
    skipped_locked: int = 0  # PENDING tasks another transaction held: not looked at, retry soon
    held: int = 0  # kept back by a hold (dependency, backoff, throttle, quota)
    batches: int = 0
    seconds: float = 0.0
    decision_seconds: list[float] = field(default_factory=list)


def snapshot() -> NodeTable:
    """The nodes as placement sees them now (read, not locked)."""
    return NodeTable([NodeView(*row) for row in Node.objects.values_list(*NodeView.fields())])


def request_of(task: Task) -> TaskRequest:
    """What `task` asks of a node (its resource vector and node selector)."""
    return TaskRequest(**{r.request_field: getattr(task, r.request_field) for r in RESOURCES},
                       node_selector=task.node_selector or {})


_snapshot, _request = snapshot, request_of


Plan = dict[int, list[Task]]  # node id -> tasks planned onto it


def _plan(tasks: list[Task], table: NodeTable, report: PlacementReport) -> tuple[Plan, list[tuple[Task, Decision]]]:
    scorer = SCORERS[settings.SCHEDULER_SCORER]
    by_node: dict[int, list[Task]] = defaultdict(list)
    unplaced: list[tuple[Task, Decision]] = []
    failed_shapes: dict[tuple, Decision] = {}
    for task in tasks:
        request = _request(task)
        shape = request.shape()
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
    """Lock the planned nodes and run the plan's own filters again on the locked rows: a node whose
    share still passes every filter, task after task, is accepted; the tasks of the others go back
    to the queue (another scheduler used the capacity first, or the node changed: status, drain,
    labels)."""
    locked = {node.pk: node for node in Node.objects.select_for_update().filter(pk__in=by_node).order_by("pk")}
    table = NodeTable([NodeView(**{name: getattr(node, name) for name in NodeView.fields()})
                       for node in locked.values()])
    index = {int(node_id): i for i, node_id in enumerate(table.ids)}
    accepted: dict[int, Node] = {}
    bounced: list[Task] = []
    for node_id, tasks in by_node.items():
        row = index.get(node_id)
        if row is not None and _share_fits(table, row, tasks):
            accepted[node_id] = locked[node_id]
        else:
            bounced.extend(tasks)
    return accepted, bounced


def _share_fits(table: NodeTable, row: int, tasks: list[Task]) -> bool:
    for task in tasks:
        request = _request(task)
        if not feasible(table, row, request):
            return False
        table.take(row, request)
    return True


def _place(tasks: list[Task], report: PlacementReport) -> None:
    """Ask the holds, plan the rest (claimed or just created by this transaction), lock and
    re-check the nodes, reserve and assign; note why the others wait."""
    waiting = holds.held(tasks)
    if waiting:
        states.note_waiting_many((task, *waiting[task.pk]) for task in tasks if task.pk in waiting)
        tasks = [task for task in tasks if task.pk not in waiting]
        report.held += len(waiting)
    table = _snapshot()
    by_node, unplaced = _plan(tasks, table, report)
    accepted, bounced = _lock_and_recheck(by_node)
    accounting.reserve({nid: _share(by_node[nid]) for nid in accepted})
    placements = [(task, accepted[nid]) for nid in accepted for task in by_node[nid]]
    placements.sort(key=lambda pair: pair[0].pk)
    states.assign_many(placements)
    states.note_waiting_many((task, WaitReason.UNSCHEDULABLE, decision.explain()) for task, decision in unplaced)
    report.placed += len(placements)
    report.unschedulable += len(unplaced)
    report.conflicts += len(bounced)
    report.batches += 1


def _share(tasks: list[Task]) -> tuple[int, ...]:
    """What `tasks` ask for together, per resource of the vector."""
    return tuple(sum(getattr(t, r.request_field) for t in tasks) for r in RESOURCES)


def _place_batch(batch_size: int, after: queue.Cursor | None, report: PlacementReport) -> queue.Cursor | None:
    """Place one batch; returns the queue position to continue from, or None when the queue is done."""
    with transaction.atomic():
        tasks, skipped = queue.claim(batch_size, after)
        report.skipped_locked += skipped
        if not tasks:
            return None
        _place(tasks, report)
        return queue.cursor_of(tasks[-1]) if len(tasks) == batch_size else None


def place_pending_tasks(*, batch_size: int = 1000, max_passes: int = 5) -> PlacementReport:
    """Walk the whole PENDING queue once (more if a concurrent scheduler bounced some tasks)."""
    report = PlacementReport()
    started = time.perf_counter()
    for _ in range(max_passes):
        conflicts_before = report.conflicts
        position: queue.Cursor | None = None
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
