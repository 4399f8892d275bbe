"""The dry run (`POST /api/v1/tasks/plan`, like `nomad job plan`): where a task would go now and,
for every other node, why not, writing nothing. It asks the placement pipeline itself (the same
snapshot, filters and scorer as a pass, `tasks.placement`), and the Dependency rule for what it
names in `depends_on`; it does not reserve, so a real submit may find the node taken meanwhile.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from django.conf import settings

from scheduler_site.statuses import WaitReason
from tasks.batch import dependencies
from tasks.models import Task
from tasks.placement.pipeline import SCORERS, choose, reasons
from tasks.placement.reservation import request_of, snapshot


def plan(*, fields: Mapping, depends_on: Sequence[int] = ()) -> dict:
    """`fields`: a validated submission's Task columns. Raises a DomainError on `depends_on` as
    the submit would."""
    task = Task(**{name: value for name, value in fields.items() if name in _TASK_FIELDS})
    request = request_of(task)
    table = snapshot()
    decision = choose(table, request, scorer=SCORERS[settings.SCHEDULER_SCORER])
    why = reasons(table, request)
    chosen = None if decision.index is None else int(table.ids[decision.index])
    nodes = [{"id": int(table.ids[i]), "name": table.names[i], "feasible": why[i] is None,
              "chosen": int(table.ids[i]) == chosen, "reason": why[i]} for i in range(len(table))]
    wait_reason, message = "", ""
    if depends_on:
        ids = dependencies.check_submitted(depends_on, fields.get("dependency", "afterok"))
        statuses = dict(Task.objects.filter(pk__in=ids).values_list("pk", "status"))
        outcome, text = dependencies.describe(task.dependency, [(dep, statuses[dep]) for dep in ids])
        if outcome == "wait":
            wait_reason, message = WaitReason.DEPENDENCY, text
    if not wait_reason:
        if chosen is None:
            wait_reason, message = WaitReason.UNSCHEDULABLE, decision.explain()
        else:
            message = f"Would be placed on {table.names[decision.index]}."
    return {
        "node": None if chosen is None else {"id": chosen, "name": table.names[decision.index]},
        "placeable": chosen is not None and wait_reason == "",
        "status_reason": wait_reason,
        "status_message": message,
        "nodes": nodes,
    }


_TASK_FIELDS = {field.name for field in Task._meta.concrete_fields}
