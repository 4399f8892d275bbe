"""Arrays, as Slurm's `--array`: one submission makes one task per index, in one transaction
(`submit_array`: one INSERT ... SELECT of tasks and one of events, not a round trip each). Each
element gets SCHEDULER_ARRAY_ID and SCHEDULER_ARRAY_INDEX in its environment. A `%N` throttle caps
the elements ASSIGNED or RUNNING at once: the Throttle hold (`throttled`) lets through, in queue
order, only as many as the array has free slots, holding its row locked meanwhile so two placement
passes cannot both spend the same slot. Dependencies and retries apply to each element.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence

from django.db import connection, transaction
from django.db.models import Count, Q

from scheduler_site.exceptions import NotFound
from scheduler_site.formats import iso, parse_id
from scheduler_site.statuses import ACTIVE_STATUSES, TASK_STATUSES, TaskStatus, WaitReason
from tasks import states, task_updates
from tasks.batch import dependencies
from tasks.batch.array_spec import ArraySpec
from tasks.models import Task, TaskArray, TaskEvent
from tasks.placement.trigger import request_placement

ARRAY_ID_ENV, ARRAY_INDEX_ENV = "SCHEDULER_ARRAY_ID", "SCHEDULER_ARRAY_INDEX"


def throttle_message(array: TaskArray) -> str:
    return f"Array {array.pk} runs at most {array.throttle} at once (%{array.throttle})."


def throttled(tasks: Sequence[Task]) -> dict[int, str]:
    """The Throttle hold: elements beyond their array's free slots (`throttle` less its ASSIGNED
    and RUNNING elements), in the order given (queue order). Two queries, whatever the batch."""
    array_ids = sorted({task.array_id for task in tasks if task.array_id is not None})
    if not array_ids:
        return {}
    arrays = {array.pk: array for array in TaskArray.objects.select_for_update()
              .filter(pk__in=array_ids, throttle__isnull=False).order_by("pk")}
    if not arrays:
        return {}
    active = dict(Task.objects.filter(array_id__in=list(arrays), status__in=ACTIVE_STATUSES)
                  .values_list("array_id").annotate(n=Count("id")).values_list("array_id", "n"))
    free = {array_id: array.throttle - active.get(array_id, 0) for array_id, array in arrays.items()}
    held = {}
    for task in tasks:
        array = arrays.get(task.array_id)
        if array is None:
            continue
        if free[array.pk] > 0:
            free[array.pk] -= 1
        else:
            held[task.pk] = throttle_message(array)
    return held


def beyond_free_slots() -> Q | None:
    """For `queue.SKIP`: the PENDING elements of throttled arrays, already held as Throttle, that
    come after the array's free slots (an array's elements share priority and owner, so its queue
    order is id order). Without it every end of an element would load the whole rest of its array
    into a pass only to hold it again. A few queries per throttled array with pending elements."""
    throttles = dict(TaskArray.objects.filter(throttle__isnull=False, tasks__status=TaskStatus.PENDING)
                     .distinct().values_list("pk", "throttle")[:MAX_SKIPPED_ARRAYS])
    if not throttles:
        return None
    active = dict(Task.objects.filter(array_id__in=list(throttles), status__in=ACTIVE_STATUSES).order_by()
                  .values_list("array_id").annotate(n=Count("id")).values_list("array_id", "n"))
    skip = Q()
    for array_id, throttle in throttles.items():
        free = throttle - active.get(array_id, 0)
        held = Q(array_id=array_id, status_reason=WaitReason.THROTTLE)
        if free > 0:
            cutoff = (Task.objects.filter(array_id=array_id, status=TaskStatus.PENDING).order_by("id")
                      .values_list("id", flat=True)[free - 1:free].first())
            if cutoff is None:
                continue
            held &= Q(id__gt=cutoff)
        skip |= held
    return skip or None


MAX_SKIPPED_ARRAYS = 100


@transaction.atomic
def submit_array(*, spec: ArraySpec, text: str, fields: Mapping, depends_on: Sequence[int] = (),
                 submitter=None) -> tuple[TaskArray, list[Task]]:
    """Create the array and one PENDING task per index with the same `fields` (Task columns),
    their dependencies and Submitted events, in one transaction; ask for one placement pass.

    The elements differ only in their index, so each table gets one INSERT ... SELECT over the list
    of indices (`_insert_elements`), whatever their number: Django's bulk_create would prepare
    every value of every row in Python and, on SQLite, split 10,000 tasks into 357 statements."""
    dependency = fields.get("dependency", Task._meta.get_field("dependency").default)
    dependency_ids = dependencies.check_submitted(depends_on, dependency) if depends_on else []
    array = TaskArray.objects.create(spec=text, size=spec.size, throttle=spec.throttle,
                                     name=fields.get("name", ""), submitter=submitter)
    env = {**(fields.get("env") or {}), ARRAY_ID_ENV: str(array.pk)}
    template = Task(**{**fields, "env": env}, submitter=submitter, array=array)
    _insert_elements(template, spec.indices)
    for dep in dependency_ids:
        _run(f"INSERT INTO {_q(_edges._meta.db_table)} (from_task_id, to_task_id) "
             f"SELECT id, %s FROM {_q(Task._meta.db_table)} WHERE array_id = %s", [dep, array.pk])
    now = template.created_at
    _run(f"INSERT INTO {_q(TaskEvent._meta.db_table)} (task_id, created_at, attempt, from_status, to_status, "
         "node_id, node_name, reason, message) "
         f"SELECT id, %s, 0, '', %s, NULL, '', 'Submitted', 'Waiting for placement.' FROM {_q(Task._meta.db_table)} "
         "WHERE array_id = %s",
         [TaskEvent._meta.get_field("created_at").get_db_prep_save(now, connection), TaskStatus.PENDING, array.pk])
    tasks = list(Task.objects.filter(array=array).order_by("array_index"))
    events = [TaskEvent(pk=pk) for pk in TaskEvent.objects.filter(task__array=array).values_list("pk", flat=True)]
    task_updates.tasks_changed(tasks, events=events)
    request_placement()
    return array, tasks


_edges = Task.depends_on.through


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _run(sql: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _insert_elements(template: Task, indices: Sequence[int]) -> None:
    """One row per index, every column from `template` (its defaults included: a column another
    feature adds comes for free) but `array_index` and the index in `env`."""
    columns, values, params = [], [], []
    for field in Task._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(_q(field.column))
        if field.name == "array_index":
            values.append("v.idx")
        elif field.name == "env":
            values.append(_ENV_WITH_INDEX[connection.vendor])
            params.append(json.dumps(template.env))
        else:
            values.append("%s")
            params.append(field.get_db_prep_save(field.pre_save(template, add=True), connection))
    source = _INDICES[connection.vendor]
    params.append(list(indices) if connection.vendor == "postgresql" else json.dumps(list(indices)))
    _run(f"INSERT INTO {_q(Task._meta.db_table)} ({', '.join(columns)}) SELECT {', '.join(values)} FROM {source}",
         params)


_ENV_WITH_INDEX = {
    "sqlite": f"json_set(%s, '$.{ARRAY_INDEX_ENV}', CAST(v.idx AS TEXT))",
    "postgresql": f"(%s::jsonb || jsonb_build_object('{ARRAY_INDEX_ENV}', v.idx::text))",
}
_INDICES = {
    "sqlite": "(SELECT value AS idx FROM json_each(%s)) AS v ORDER BY v.idx",
    "postgresql": "unnest(%s::integer[]) AS v(idx) ORDER BY v.idx",
}


def get_array(array_id: int | str) -> TaskArray:
    pk = parse_id(array_id)
    array = TaskArray.objects.filter(pk=pk).first() if pk is not None else None
    if array is None:
        raise NotFound(f"Array {array_id} not found.")
    return array


def counts(array: TaskArray) -> dict[str, int]:
    """Elements per status (every status, zeros included), in one query."""
    found = dict(array.tasks.order_by().values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    return {status: found.get(status, 0) for status in TASK_STATUSES}


def counts_of(array_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """`counts` for many arrays in one query (the task list's array rows)."""
    result: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(TASK_STATUSES, 0))
    rows = (Task.objects.filter(array_id__in=list(array_ids)).order_by().values_list("array_id", "status")
            .annotate(n=Count("id")).values_list("array_id", "status", "n"))
    for array_id, status, n in rows:
        result[array_id][status] = n
    return {array_id: result[array_id] for array_id in array_ids}


def summary(array: TaskArray, *, with_counts: bool = True) -> dict:
    data = {"id": array.pk, "spec": array.spec, "size": array.size, "throttle": array.throttle,
            "name": array.name, "submitter": array.submitter.get_username() if array.submitter_id else None,
            "created_at": iso(array.created_at)}
    if with_counts:
        data["counts"] = counts(array)
    return data


@transaction.atomic
def cancel_array(*, array_id: int, by: str = "") -> dict[str, int]:
    """Cancel every element not finished: the PENDING ones in one batch, the running ones one by one
    (their reservation goes back, their agent is told). Returns how many of each."""
    array = get_array(array_id)
    message = f"Array {array.pk} cancelled" + (f" by {by}." if by else ".")
    open_tasks = list(Task.objects.select_for_update().filter(array=array, status__in=[
        TaskStatus.PENDING, *ACTIVE_STATUSES]).order_by("pk"))
    active = [task for task in open_tasks if task.status in ACTIVE_STATUSES]
    for task in active:
        states.transition(task, TaskStatus.CANCELLED, reason="Cancelled", message=message)
    pending = [task for task in open_tasks if task.status == TaskStatus.PENDING]
    if active:  # their ends may have cancelled dependents among these already
        still = set(Task.objects.filter(pk__in=[t.pk for t in pending], status=TaskStatus.PENDING)
                    .values_list("pk", flat=True))
        pending = [task for task in pending if task.pk in still]
    states.cancel_pending_many(pending, reason="Cancelled", message=message)
    if active:
        request_placement()  # their reservations are free again
    return {"cancelled": len(open_tasks), "were_running": len(active)}

