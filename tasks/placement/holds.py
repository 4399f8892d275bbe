"""Why a task waits, before the filters: holds. A hold looks at a batch of PENDING tasks and names
those it keeps back, with the text of why; the placement pass asks the holds in the order of
`WaitReason` (Dependency, Backoff, Throttle, Quota) and records, for each held task, the first
reason that holds it; the tasks no hold keeps go on to the filters (whose reason is
Unschedulable). Retries, dependencies, arrays and quotas add theirs with `register`.

A hold that limits what a batch may add together (a quota: each task alone may fit, not all of
them) also gives `admit`: after the plan, it is asked about the planned tasks in queue order and
names those that would take their owner over the limit; they wait with its kind of reason, in
the same transaction as the reservation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from scheduler_site.statuses import WAIT_REASONS, WaitReason
from tasks.models import Task

Check = Callable[[Sequence[Task]], dict[int, str]]  # tasks -> {task id: why it waits}


@dataclass(frozen=True)
class Hold:
    kind: WaitReason
    check: Check
    admit: Check | None = None  # planned tasks, in queue order -> {task id: why it waits after all}


_holds: list[Hold] = []


def register(kind: WaitReason, check: Check, *, admit: Check | None = None) -> Hold:
    """Add a hold; holds are asked in the order of `WaitReason`, then of registration."""
    if kind == WaitReason.UNSCHEDULABLE:
        raise ValueError("Unschedulable is the filters' reason, not a hold's")
    hold = Hold(kind, check, admit)
    _holds.append(hold)
    _holds.sort(key=lambda h: WAIT_REASONS.index(h.kind))
    return hold


def unregister(hold: Hold) -> None:
    _holds.remove(hold)


def held(tasks: Sequence[Task]) -> dict[int, tuple[WaitReason, str]]:
    """The tasks some hold keeps back: task id -> (kind, message) of the first hold that does."""
    reasons: dict[int, tuple[WaitReason, str]] = {}
    for hold in _holds:
        free = [task for task in tasks if task.pk not in reasons]
        if not free:
            break
        for task_id, message in hold.check(free).items():
            reasons.setdefault(task_id, (hold.kind, message))
    return reasons


def refused(planned: Sequence[Task]) -> dict[int, tuple[WaitReason, str]]:
    """The planned tasks (queue order) some hold's `admit` refuses: task id -> (kind, message)."""
    reasons: dict[int, tuple[WaitReason, str]] = {}
    for hold in _holds:
        if hold.admit is None:
            continue
        still = [task for task in planned if task.pk not in reasons]
        if not still:
            break
        for task_id, message in hold.admit(still).items():
            reasons.setdefault(task_id, (hold.kind, message))
    return reasons
