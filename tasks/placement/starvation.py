"""No starvation: a step of the placement pass, not a second scheduler.

The rule that holds (issue 17): when the first task of the queue that no node can take now (the
highest-priority blocked task, "the head") would fit on some node once that node's tasks end,
the pass reserves for it the node where it will fit soonest (the one short of the least, each
resource normalised by the node's capacity), and no task after it in the queue is planned onto
that node (backfill goes only to the other nodes: without run-time estimates, anything placed on
the reserved node could delay the head). The reservation lives for one pass and is made again by
the next, for whatever task is then the head, so it follows the queue.

Preemption (`SCHEDULER_PREEMPTION=1`, off by default): when the head is blocked, the pass may
evict running tasks whose priority is lower than the head's by at least
`SCHEDULER_PREEMPTION_GAP`, on the one node where that frees enough for it with the least work
lost: fewest victims, then the lowest priorities, then the most recently started. Each victim is
requeued as a new attempt with the reason `Preempted` (`tasks.recovery.requeue(...,
charge="none")`: counted against neither its attempts nor its retries); the event names the
task it made room for. Its agent kills it (SIGTERM, then the kill grace) because it is no longer
in that node's desired state; the next pass places the head on the freed node.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.db import connection, transaction

from nodes.models import Node
from nodes.resources import RESOURCES
from scheduler_site.statuses import ACTIVE_STATUSES, TaskStatus
from tasks import recovery
from tasks.models import Task
from tasks.placement import filters
from tasks.placement.nodetable import NodeTable, NodeView, TaskRequest

log = logging.getLogger("tasks.placement")

STATIC_FILTERS = (filters.ONLINE, filters.NOT_DRAINING, filters.SELECTOR)  # what waiting cannot change


@dataclass
class Reservation:
    """The node kept for the head of the queue during one pass."""

    task_id: int
    priority: int
    node_id: int
    node_name: str

    def note(self) -> str:
        return f" Node {self.node_name} is reserved for it."


def could_fit(table: NodeTable, request: TaskRequest) -> np.ndarray:
    """Nodes that would take `request` once their tasks end (the filters waiting cannot change,
    and enough capacity)."""
    mask = np.ones(len(table), dtype=bool)
    for step in STATIC_FILTERS:
        mask &= step.check(table, request)
    for resource in RESOURCES:
        mask &= table.capacity[resource.name] >= request.amount(resource)
    return mask


def soonest(table: NodeTable, request: TaskRequest) -> int | None:
    """The row of the node where `request` will fit soonest: short of the least (normalised), or None."""
    candidates = np.flatnonzero(could_fit(table, request))
    if not len(candidates):
        return None
    shortfall = np.zeros(len(table), dtype=np.float64)
    for resource in RESOURCES:
        missing = np.maximum(request.amount(resource) - table.free[resource.name], 0)
        shortfall += missing / table.capacity_f[resource.name]
    return int(candidates[np.argmin(shortfall[candidates])])


def block(table: NodeTable, node_id: int) -> None:
    """Nothing more is planned onto `node_id` in this snapshot (it is reserved)."""
    rows = np.flatnonzero(table.ids == node_id)
    for row in rows:
        for resource in RESOURCES:
            table.free[resource.name][row] = min(int(table.free[resource.name][row]), 0)


# -- preemption --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Victim:
    id: int
    node_id: int
    priority: int
    started: float  # epoch seconds of its start (or assignment); later = less work lost
    amounts: tuple[int, ...]


def choose_victims(table: NodeTable, request: TaskRequest, victims: Sequence[Victim]) -> list[Victim]:
    """The fewest running tasks to evict on one node so that `request` fits there: on each node
    that could take it, evict in order of lowest priority, then most recently started, until it
    fits; pick the node needing the fewest, then the lowest highest priority, then the most
    recent starts. Empty when no node can be freed enough by these victims."""
    by_node: dict[int, list[Victim]] = {}
    for victim in victims:
        by_node.setdefault(victim.node_id, []).append(victim)
    fit_mask = could_fit(table, request)
    best: tuple | None = None
    chosen: list[Victim] = []
    for row in np.flatnonzero(fit_mask):
        node_id = int(table.ids[row])
        free = [int(table.free[r.name][row]) for r in RESOURCES]
        need = [request.amount(r) for r in RESOURCES]
        taken: list[Victim] = []
        for victim in sorted(by_node.get(node_id, ()), key=lambda v: (v.priority, -v.started)):
            if all(f >= n for f, n in zip(free, need, strict=True)):
                break
            taken.append(victim)
            free = [f + a for f, a in zip(free, victim.amounts, strict=True)]
        if not taken or not all(f >= n for f, n in zip(free, need, strict=True)):
            continue
        rank = (len(taken), max(v.priority for v in taken), -min(v.started for v in taken))
        if best is None or rank < best:
            best, chosen = rank, taken
    return chosen


def preempt_for(reservation: Reservation) -> list[int]:
    """Evict what the head of the queue needs, in one transaction (lock order: task rows, then the
    node rows that `requeue` releases). Returns the evicted task ids (none when it cannot)."""
    gap = settings.SCHEDULER_PREEMPTION_GAP
    with transaction.atomic():
        head = _lock(Task.objects.filter(pk=reservation.task_id, status=TaskStatus.PENDING))
        if not head:
            return []
        head = head[0]
        candidates = list(Task.objects.filter(status__in=ACTIVE_STATUSES, node__isnull=False,
                                              priority__lte=head.priority - gap)
                          .values_list("pk", "node_id", "priority", "started_at", "assigned_at",
                                       *(r.request_field for r in RESOURCES)))
        if not candidates:
            return []
        victims = [Victim(id=row[0], node_id=row[1], priority=row[2],
                          started=(row[3] or row[4]).timestamp() if (row[3] or row[4]) else 0.0,
                          amounts=tuple(row[5:])) for row in candidates]
        table = NodeTable([NodeView(*row) for row in Node.objects.values_list(*NodeView.fields())])
        request = TaskRequest(**{r.request_field: getattr(head, r.request_field) for r in RESOURCES},
                              node_selector=head.node_selector or {})
        chosen = choose_victims(table, request, victims)
        if not chosen:
            return []
        locked = _lock(Task.objects.filter(pk__in=[v.id for v in chosen], status__in=ACTIVE_STATUSES,
                                           priority__lte=head.priority - gap, node_id=chosen[0].node_id)
                       .order_by("pk"))
        if len(locked) != len(chosen):
            return []  # one changed meanwhile (ended, cancelled, locked by a report): the next pass tries again
        message = f"Preempted by task {head.pk} (priority {head.priority}) on {locked[0].node_name}."
        for task in locked:
            recovery.requeue(task, reason="Preempted", message=message, charge="none")
    log.info("preempted", extra={"task": head.pk, "victims": [t.pk for t in locked]})
    return [task.pk for task in locked]


def _lock(query) -> list[Task]:
    if connection.features.has_select_for_update_skip_locked:
        return list(query.select_for_update(skip_locked=True))
    return list(query)
