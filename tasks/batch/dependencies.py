"""Dependencies between tasks, as Slurm's `--dependency`: a task lists the tasks it waits for
(`depends_on`) and when they count as met (`dependency`): afterok (every one SUCCEEDED), afterany
(every one finished) or afternotok (every one FAILED or CANCELLED).

- While the condition may still hold, the task is PENDING, held with "Waiting for task 12, 13"
  (the Dependency hold, `waiting`).
- When a dependency ends so that the condition can never hold (an afterok dependency FAILED or was
  CANCELLED; an afternotok one SUCCEEDED), the task is CANCELLED with reason
  DependencyNeverSatisfied, and so, by the same rule, are its own dependents: `settle` runs in the
  transaction of the dependency's end (a hook of `tasks.states`), the cascade walks breadth first.
- When it becomes met, a placement pass is asked for.

Only existing tasks can be named (`check_submitted`), so a cycle cannot be built. `settle` never
waits for a row another transaction holds (SKIP LOCKED where the store has it); the Dependency
hold settles any task it is asked about whose condition can never hold, which catches those.
"""

from __future__ import annotations

import contextvars
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Literal

from django.db import connection

from scheduler_site.exceptions import DomainError
from scheduler_site.statuses import TERMINAL_STATUSES, Dependency, TaskStatus
from tasks.models import Task

S = TaskStatus
NEVER_SATISFIED = "DependencyNeverSatisfied"
MAX_DEPENDENCIES = 1000
Outcome = Literal["wait", "ready", "never"]
_edges = Task.depends_on.through


def outcome(kind: str, statuses: Iterable[str]) -> Outcome:
    """Whether a task with dependency `kind` on tasks in `statuses` waits, may run, or never will."""
    statuses = list(statuses)
    if kind == Dependency.AFTEROK:
        if any(status in (S.FAILED, S.CANCELLED) for status in statuses):
            return "never"
        return "ready" if all(status == S.SUCCEEDED for status in statuses) else "wait"
    if kind == Dependency.AFTERNOTOK and any(status == S.SUCCEEDED for status in statuses):
        return "never"
    return "ready" if all(status in TERMINAL_STATUSES for status in statuses) else "wait"


def waiting_message(unfinished: Sequence[int]) -> str:
    ids = sorted(unfinished)
    shown = ", ".join(map(str, ids[:10])) + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")
    return f"Waiting for task {shown}."


def never_message(kind: str, blocking: Sequence[tuple[int, str]]) -> str:
    first_id, first_status = sorted(blocking)[0]
    more = f" (and {len(blocking) - 1} more)" if len(blocking) > 1 else ""
    return f"Task {first_id} is {first_status}{more}: {kind} can never be met."


def _blocking(kind: str, deps: Sequence[tuple[int, str]]) -> list[tuple[int, str]]:
    if kind == Dependency.AFTERNOTOK:
        return [(dep, status) for dep, status in deps if status == S.SUCCEEDED]
    return [(dep, status) for dep, status in deps if status in (S.FAILED, S.CANCELLED)]


def _dependencies_of(task_ids: Iterable[int]) -> dict[int, list[tuple[int, str]]]:
    """task id -> [(dependency id, its status)], in one query."""
    deps: dict[int, list[tuple[int, str]]] = defaultdict(list)
    rows = _edges.objects.filter(from_task_id__in=list(task_ids)).values_list(
        "from_task_id", "to_task_id", "to_task__status")
    for task_id, dep_id, status in rows:
        deps[task_id].append((dep_id, status))
    return deps


def describe(kind: str, deps: Sequence[tuple[int, str]]) -> tuple[Outcome, str]:
    """The outcome and its sentence, for the hold, the settle step and the dry run."""
    result = outcome(kind, [status for _, status in deps])
    if result == "wait":
        return result, waiting_message([dep for dep, status in deps if status not in TERMINAL_STATUSES])
    if result == "never":
        return result, never_message(kind, _blocking(kind, deps))
    return result, ""


def waiting(tasks: Sequence[Task]) -> dict[int, str]:
    """The Dependency hold: tasks whose dependencies are not met, with why (one query). Tasks whose
    condition can never hold are cancelled here, in the pass's transaction that holds them (the
    backstop of `settle`), and held so the pass does not place them."""
    deps = _dependencies_of(task.pk for task in tasks)
    held: dict[int, str] = {}
    doomed: list[tuple[Task, str]] = []
    for task in tasks:
        if task.pk not in deps:
            continue
        result, message = describe(task.dependency, deps[task.pk])
        if result == "wait":
            held[task.pk] = message
        elif result == "never":
            held[task.pk] = message
            doomed.append((task, message))
    for task, message in doomed:
        _cancel(task, message)
    return held


def _cancel(task: Task, message: str) -> None:
    from tasks import states  # states calls `settle` on every end: imported late, not at module load

    if task.status == S.PENDING:
        states.transition(task, S.CANCELLED, reason=NEVER_SATISFIED, message=message)


# -- settling dependents when a task ends ---------------------------------------------------------

_settling: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("dependency_settling", default=None)


def settle(finished: Sequence[Task]) -> None:
    """`finished` just reached a terminal status (a hook of `tasks.states`, same transaction):
    cancel their PENDING dependents whose condition can never hold now, and theirs in turn
    (breadth first, not recursively: a long chain must not exhaust the stack); ask for a
    placement pass when some became ready."""
    queue = _settling.get()
    if queue is not None:  # a cancel of the cascade: the outer call walks on
        queue.extend(task.pk for task in finished)
        return
    queue = [task.pk for task in finished]
    token = _settling.set(queue)
    try:
        ready = False
        while queue:
            batch, queue[:] = list(queue), []
            ready |= _settle_dependents_of(batch)
        if ready:
            from tasks.placement.trigger import request_placement

            request_placement()
    finally:
        _settling.reset(token)


def _settle_dependents_of(finished_ids: list[int]) -> bool:
    dependents = Task.objects.filter(pk__in=_edges.objects.filter(to_task_id__in=finished_ids)
                                     .values("from_task_id"), status=S.PENDING).order_by("pk")
    if connection.features.has_select_for_update_skip_locked:
        dependents = dependents.select_for_update(skip_locked=True, of=("self",))
    dependents = list(dependents)
    if not dependents:
        return False
    deps = _dependencies_of(task.pk for task in dependents)
    ready = False
    for task in dependents:
        result, message = describe(task.dependency, deps[task.pk])
        if result == "never":
            _cancel(task, message)  # its own end appends it to the queue: the cascade
        elif result == "ready":
            ready = True
    return ready


# -- submitting ------------------------------------------------------------------------------------


def check_submitted(depends_on: Sequence[int], kind: str, *, field: str = "depends_on") -> list[int]:
    """The dependencies of a task about to be created, inside its submit transaction: every id
    must exist (a task created now cannot name itself or a later task, so no cycle can form), and
    the condition must still be possible. Raises a DomainError naming `field`."""
    ids = sorted(set(depends_on))
    if len(ids) > MAX_DEPENDENCIES:
        raise DomainError(f"At most {MAX_DEPENDENCIES} dependencies.", field=field)
    found = dict(Task.objects.filter(pk__in=ids).values_list("pk", "status"))
    missing = [task_id for task_id in ids if task_id not in found]
    if missing:
        raise DomainError(f"Unknown task {', '.join(map(str, missing))}.", field=field)
    result, message = describe(kind, [(task_id, found[task_id]) for task_id in ids])
    if result == "never":
        raise DomainError(message, field=field)
    return ids


def link(edges: Iterable[tuple[int, int]]) -> None:
    """Write (task, dependency) edges in one INSERT per thousand."""
    _edges.objects.bulk_create([_edges(from_task_id=a, to_task_id=b) for a, b in edges], batch_size=1000)


def summary(task: Task) -> dict:
    """The task JSON's `depends_on`, `dependency`, `dependents` (prefetched by the selectors)."""
    return {
        "depends_on": sorted(dep.pk for dep in task.depends_on.all()),
        "dependency": task.dependency,
        "dependents": sorted(dep.pk for dep in task.dependents.all()),
    }
