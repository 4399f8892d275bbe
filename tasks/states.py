"""The task state machine: the allowed edges, and the only code that writes `Task.status`.

    PENDING -> ASSIGNED -> RUNNING -> SUCCEEDED | FAILED
    any non-terminal -> CANCELLED
    ASSIGNED | RUNNING -> PENDING (next attempt: node lost, agent lost it, operator requeue, a retry)
    ASSIGNED -> SUCCEEDED | FAILED (the exit report overtook the start report)

Every transition writes a TaskEvent, gives back the node reservation when the task leaves
ASSIGNED/RUNNING (same transaction), and publishes the new state after commit. Callers hold the
task row locked (`select_for_update`) inside `transaction.atomic()`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from django.db import connection
from django.utils import timezone

from nodes.models import Node
from scheduler_site import metrics
from scheduler_site.exceptions import InvalidTransition
from scheduler_site.sql import update_from_values
from tasks import accounting, task_updates
from tasks.models import ACTIVE_STATUSES, TERMINAL_STATUSES, Task, TaskEvent, TaskStatus

S = TaskStatus
ALLOWED: dict[str, frozenset[str]] = {
    S.PENDING: frozenset({S.ASSIGNED, S.CANCELLED}),
    S.ASSIGNED: frozenset({S.RUNNING, S.SUCCEEDED, S.FAILED, S.CANCELLED, S.PENDING}),
    S.RUNNING: frozenset({S.SUCCEEDED, S.FAILED, S.CANCELLED, S.PENDING}),
    S.SUCCEEDED: frozenset(),
    S.FAILED: frozenset(),
    S.CANCELLED: frozenset(),
}

_STATUS_FIELDS = ["status", "status_reason", "status_message", "updated_at"]

# Called with tasks that just reached a terminal status, inside the same transaction (dependencies
# settle their dependents: `tasks.batch.dependencies.settle`, registered by `tasks.apps`).
_finished_hooks: list[Callable[[Sequence[Task]], None]] = []


def on_finished(hook: Callable[[Sequence[Task]], None]) -> None:
    if hook not in _finished_hooks:
        _finished_hooks.append(hook)


def can_transition(current: str, target: str) -> bool:
    return target in ALLOWED[current]


def check_transition(current: str, target: str) -> None:
    if not can_transition(current, target):
        if current in TERMINAL_STATUSES:
            raise InvalidTransition(f"Task is already {current}; it cannot become {target}.")
        raise InvalidTransition(f"A {current} task cannot become {target}.")


def _event(task: Task, *, previous: str, reason: str, message: str, node: Node | None = None) -> TaskEvent:
    return TaskEvent(
        task=task,
        attempt=task.attempt,
        from_status=previous,
        to_status=task.status,
        node_id=node.pk if node else task.node_id,
        node_name=node.name if node else task.node_name,
        reason=reason,
        message=message,
    )


def record_submitted(task: Task) -> TaskEvent:
    """The first event of a task just inserted as PENDING."""
    return record_submitted_many([task])[0]


def record_submitted_many(tasks: Sequence[Task]) -> list[TaskEvent]:
    """The first events of tasks just inserted as PENDING: one INSERT per thousand (an array)."""
    events = [_event(task, previous="", reason="Submitted", message="Waiting for placement.") for task in tasks]
    if len(events) == 1:
        events[0].save()
    else:
        events = TaskEvent.objects.bulk_create(events, batch_size=1000)
    task_updates.tasks_changed(tasks, events=events)
    return events


def cancel_pending_many(tasks: Sequence[Task], *, reason: str, message: str) -> list[TaskEvent]:
    """PENDING -> CANCELLED for many locked tasks at once (an array's cancel): one UPDATE and one
    INSERT of events per thousand, then the finished hooks once for all. Active tasks go through
    `transition` (their reservation and their agent)."""
    tasks = [task for task in tasks if task.status == S.PENDING]
    if not tasks:
        return []
    now = timezone.now()
    for start in range(0, len(tasks), 1000):
        chunk = tasks[start:start + 1000]
        updated = Task.objects.filter(pk__in=[task.pk for task in chunk], status=S.PENDING).update(
            status=S.CANCELLED, status_reason=reason, status_message=message, finished_at=now, updated_at=now,
            not_before=None)
        if updated != len(chunk):
            raise InvalidTransition(f"{len(chunk) - updated} of {len(chunk)} tasks were not PENDING any more; "
                                    "none cancelled.")
    for task in tasks:
        task.status, task.status_reason, task.status_message = S.CANCELLED, reason, message
        task.finished_at = task.updated_at = now
        task.not_before = None
    events = TaskEvent.objects.bulk_create(
        [_event(task, previous=S.PENDING, reason=reason, message=message) for task in tasks], batch_size=1000)
    task_updates.tasks_changed(tasks, events=events)
    _finished(tasks)
    return events


def transition(
    task: Task,
    target: str,
    *,
    reason: str,
    message: str = "",
    exit_code: int | None = None,
    at: datetime | None = None,
    also_save: Sequence[str] = (),
) -> TaskEvent:
    """Move one locked task to `target` (not ASSIGNED: placement uses `assign_many`). `also_save`
    names fields the caller changed on the task to write with it (a requeue's counters)."""
    if target == S.ASSIGNED:
        raise InvalidTransition("Use assign_many() to place tasks.")
    previous = task.status
    check_transition(previous, target)
    now = at or timezone.now()
    node_id = task.node_id
    fields = [*_STATUS_FIELDS, *also_save]
    if previous in ACTIVE_STATUSES and target not in ACTIVE_STATUSES:
        accounting.release(task)
    task.status, task.status_reason, task.status_message = target, reason, message
    if target == S.RUNNING:
        task.started_at = now
        fields.append("started_at")
        metrics.SUBMIT_TO_START.observe(max(0.0, (now - task.created_at).total_seconds()))
    if target in TERMINAL_STATUSES:
        task.finished_at = now
        fields.append("finished_at")
        if previous == S.ASSIGNED and target != S.CANCELLED and task.started_at is None:
            task.started_at = now
            fields.append("started_at")
    if exit_code is not None:
        task.exit_code = exit_code
        fields.append("exit_code")
    event = _event(task, previous=previous, reason=reason, message=message)
    if target in TERMINAL_STATUSES and task.not_before is not None:
        task.not_before = None  # no retry will come
        fields.append("not_before")
    if target == S.PENDING:
        # Back in the queue for its next attempt; the node it left is in the event.
        task.node = None
        task.node_name = ""
        task.started_at = None
        task.assigned_at = None
        fields += ["node", "node_name", "started_at", "assigned_at"]
    task.save(update_fields=fields)
    event.save()
    task_updates.tasks_changed([task], events=[event],
                         nudge_nodes=[node_id] if node_id and previous in ACTIVE_STATUSES else [])
    if target in TERMINAL_STATUSES:
        _finished([task])
    return event


def _finished(tasks: Sequence[Task]) -> None:
    for hook in _finished_hooks:
        hook(tasks)


def assign_many(placements: Sequence[tuple[Task, Node]], *, at: datetime | None = None) -> list[TaskEvent]:
    """Place locked PENDING tasks on nodes: one more attempt each. The caller reserved the resources."""
    if not placements:
        return []
    now = at or timezone.now()
    events = []
    for task, node in placements:
        check_transition(task.status, S.ASSIGNED)
        previous = task.status
        task.status = S.ASSIGNED
        task.status_reason = "Scheduled"
        task.status_message = _ASSIGNED_MESSAGE.format(node.name)
        task.node = node
        task.node_name = node.name
        task.attempt += 1
        task.assigned_at = now
        task.updated_at = now
        events.append(_event(task, previous=previous, reason="Scheduled", message=task.status_message, node=node))
    tasks = [task for task, _ in placements]
    if connection.vendor == "postgresql":
        _write_postgres(tasks, events, now)
    else:
        _write_assignments_values(tasks, now)
        TaskEvent.objects.bulk_create(events, batch_size=1000)
    task_updates.tasks_changed(tasks, events=events, nudge_nodes={node.pk for _, node in placements})
    return events


# assign_many writes a batch in plain SQL: Django's bulk_update builds a CASE per field and row and
# cost more than the rest of placement together; bulk_create prepares every value in Python. The
# status guard makes a row that is not PENDING any more fail the whole batch (the caller rolls back).
_ASSIGN_SET = "status = %s, status_reason = %s, updated_at = %s, assigned_at = %s"
_ASSIGNED_MESSAGE = "Assigned to {}."


def _write_postgres(tasks: Sequence[Task], events: Sequence[TaskEvent], now: datetime) -> None:
    """One statement per batch: the UPDATE takes each node's name from its (locked) row and hands
    the new rows to the INSERT of the Scheduled events; two arrays of ids are all that is sent."""
    task_table, event_table, node_table = (connection.ops.quote_name(model._meta.db_table)
                                           for model in (Task, TaskEvent, Node))
    before, after = _ASSIGNED_MESSAGE.split("{}")
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH placed AS (UPDATE {task_table} AS t SET {_ASSIGN_SET}, node_id = n.id, node_name = n.name, "
            "status_message = %s || n.name || %s, attempt = t.attempt + 1 "
            f"FROM unnest(%s::bigint[], %s::bigint[]) AS v(id, node_id) JOIN {node_table} AS n ON n.id = v.node_id "
            "WHERE t.id = v.id AND t.status = %s "
            "RETURNING t.id, t.attempt, t.node_id, t.node_name, t.status_message) "
            f"INSERT INTO {event_table} (task_id, created_at, attempt, from_status, to_status, node_id, node_name, "
            "reason, message) SELECT id, %s, attempt, %s, %s, node_id, node_name, %s, status_message "
            "FROM placed ORDER BY id RETURNING id, task_id",
            [S.ASSIGNED, "Scheduled", now, now, before, after, [t.pk for t in tasks], [t.node_id for t in tasks],
             S.PENDING, now, S.PENDING, S.ASSIGNED, "Scheduled"],
        )
        event_ids = {task_id: event_id for event_id, task_id in cursor.fetchall()}
    if len(event_ids) != len(tasks):
        raise InvalidTransition(f"{len(tasks) - len(event_ids)} of {len(tasks)} tasks were not PENDING any more; "
                                "none assigned.")
    for event in events:
        event.pk = event_ids[event.task_id]
        event.created_at = now
        event._state.adding = False


def _write_assignments_values(tasks: Sequence[Task], now: datetime) -> None:
    """SQLite (>= 3.33, UPDATE ... FROM): a VALUES list per thousand tasks."""
    updated, _ = update_from_values(
        Task._meta.db_table,
        columns=[("id", "bigint"), ("node_id", "bigint"), ("node_name", "text"), ("message", "text"),
                 ("attempt", "integer")],
        rows=[(task.pk, task.node_id, task.node_name, task.status_message, task.attempt) for task in tasks],
        set_sql=f"{_ASSIGN_SET}, node_id = v.node_id, node_name = v.node_name, status_message = v.message, "
                "attempt = v.attempt",
        set_params=[S.ASSIGNED, "Scheduled", now, now],
        where_sql=f"{connection.ops.quote_name(Task._meta.db_table)}.status = %s",
        where_params=[S.PENDING],
    )
    if updated != len(tasks):
        raise InvalidTransition(f"{len(tasks) - updated} of {len(tasks)} tasks were not PENDING any more; "
                                "none assigned.")


def note_waiting(task: Task, kind: str, message: str) -> TaskEvent | None:
    """Record why a PENDING task waits (a `WaitReason` and its text in status_reason and
    status_message), once per distinct change: not a transition, but an event all the same."""
    events = note_waiting_many([(task, kind, message)])
    return events[0] if events else None


def note_waiting_many(reasons: Iterable[tuple[Task, str, str]]) -> list[TaskEvent]:
    """`note_waiting` for many tasks at once: one UPDATE per distinct (reason, message) and one
    INSERT of all their events, whatever their number. A placement pass that cannot place a long
    queue notes a thousand reasons; row by row, on SQLite, that held the one write lock long
    enough to starve heartbeats (soak finding 3)."""
    changed: dict[tuple[str, str], list[Task]] = defaultdict(list)
    for task, kind, message in reasons:
        if task.status != S.PENDING or (task.status_reason == kind and task.status_message == message):
            continue
        task.status_reason, task.status_message = kind, message
        changed[(kind, message)].append(task)
    if not changed:
        return []
    now = timezone.now()
    for (kind, message), tasks in changed.items():
        Task.objects.filter(pk__in=[task.pk for task in tasks], status=S.PENDING).update(
            status_reason=kind, status_message=message, updated_at=now
        )
    noted = [task for tasks in changed.values() for task in tasks]
    events = TaskEvent.objects.bulk_create(
        [_event(task, previous=S.PENDING, reason=task.status_reason, message=task.status_message) for task in noted]
    )
    task_updates.tasks_changed(noted, events=events)
    return events


def record_late_exit(task: Task, exit_code: int | None) -> None:
    """The exit code of an attempt that ended after the task did (cancelled: the agent killed it and
    reports how it ended). Recorded once, without a transition; the caller holds the row and has
    checked the report's attempt is the task's."""
    if exit_code is None or task.exit_code is not None or task.status != S.CANCELLED:
        return
    task.exit_code, task.updated_at = exit_code, timezone.now()
    Task.objects.filter(pk=task.pk).update(exit_code=exit_code, updated_at=task.updated_at)
    task_updates.tasks_changed([task])
