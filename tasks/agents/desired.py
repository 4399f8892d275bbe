"""What each node should be running: its desired assignments with its generation, read in one
statement (level-triggered: the agent starts what it should run and kills what it should not)."""

from __future__ import annotations

from django.db.models import FilteredRelation, Q

from agent import protocol
from nodes.models import Node
from scheduler_site.statuses import ACTIVE_STATUSES, TaskStatus

_SPEC = protocol.ASSIGNMENT_SPEC_FIELDS


def desired_for_nodes(node_ids: list[int]) -> dict[int, dict]:
    """Everything each node should be running, read in one statement with the node's generation,
    so an agent can order answers that arrive out of order."""
    rows = (
        Node.objects.filter(pk__in=node_ids)
        .annotate(active=FilteredRelation("tasks", condition=Q(tasks__status__in=ACTIVE_STATUSES)))
        .values_list("id", "generation", "status", "draining", "active__id", "active__attempt", "active__status",
                     *(f"active__{name}" for name in _SPEC))
        .order_by("id", "active__id")
    )
    answers: dict[int, dict] = {}
    for node_id, generation, node_status, draining, task_id, attempt, status, *spec in rows:
        answer = answers.get(node_id)
        if answer is None:
            answer = answers[node_id] = protocol.desired_state(
                generation=generation, node_status=node_status, draining=draining, assignments=[])
        if task_id is None:
            continue
        answer["assignments"].append(protocol.assignment(
            task=task_id, attempt=attempt, status=status,
            # only what is yet to start needs its spec
            spec=dict(zip(_SPEC, spec, strict=True)) if status == TaskStatus.ASSIGNED else None,
        ))
    return answers


def desired_for_node(node_id: int) -> dict:
    return desired_for_nodes([node_id]).get(
        node_id, protocol.desired_state(generation=None, node_status=None, draining=None, assignments=[])
    )
