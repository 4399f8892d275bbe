"""Resource accounting on node rows: reservations go on at placement and come off when a task
leaves ASSIGNED/RUNNING, always in the transaction of the task's status change. Every resource of
the vector (`nodes.resources.RESOURCES`) is accounted the same way.

Invariant (see `invariant_violations`): a node's allocated amounts equal the sums over its
ASSIGNED and RUNNING tasks and never exceed its capacity (the database also enforces the latter),
and no device (GPU) is held by two live attempts (`tasks.devices`).
"""

from __future__ import annotations

from collections.abc import Mapping

from django.db import connection, transaction
from django.db.models import Count, F, Sum

from nodes.models import Node
from nodes.resources import RESOURCES, add_named, amounts, show
from scheduler_site.sql import update_from_values
from scheduler_site.statuses import ACTIVE_STATUSES
from tasks.devices import device_violations
from tasks.models import Task


def release(task: Task) -> None:
    """Give back `task`'s reservation on its node and mark the node's desired set as changed."""
    if task.node_id is None:
        return
    Node.objects.filter(pk=task.node_id).update(
        **{r.allocated_field: F(r.allocated_field) - getattr(task, r.request_field) for r in RESOURCES},
        generation=F("generation") + 1,
    )
    if task.resources:  # named resources: read and write the map under the row lock the UPDATE took
        held = Node.objects.filter(pk=task.node_id).values_list("resources_allocated", flat=True).first()
        Node.objects.filter(pk=task.node_id).update(resources_allocated=add_named(held or {}, task.resources, -1))


def reserve_named(nodes: Mapping[int, Node], deltas: Mapping[int, Mapping[str, int]]) -> None:
    """Add named resources to locked `nodes` (one UPDATE per node that has any to add; few do)."""
    for node_id, delta in deltas.items():
        if delta:
            node = nodes[node_id]
            node.resources_allocated = add_named(node.resources_allocated or {}, delta)
            Node.objects.filter(pk=node_id).update(resources_allocated=node.resources_allocated)


def reserve(deltas: Mapping[int, tuple[int, ...]]) -> None:
    """Add to each node in `deltas` its amounts (one per resource, in `RESOURCES` order). The caller
    holds the rows locked and has re-checked fit.

    One UPDATE ... FROM (VALUES ...) for the whole batch rather than one UPDATE per node: a batch
    touches hundreds of nodes, and a statement each was most of the time of a placement pass."""
    if not deltas:
        return
    table = connection.ops.quote_name(Node._meta.db_table)
    updated, _ = update_from_values(
        Node._meta.db_table,
        columns=[("id", "bigint"), *((f"r{i}", "bigint") for i, _ in enumerate(RESOURCES))],
        rows=[(node_id, *amounts_) for node_id, amounts_ in sorted(deltas.items())],
        set_sql=", ".join(f"{r.allocated_field} = {table}.{r.allocated_field} + v.r{i}"
                          for i, r in enumerate(RESOURCES)) + f", generation = {table}.generation + 1",
    )
    if updated != len(deltas):
        raise Node.DoesNotExist(f"{len(deltas) - updated} node(s) to reserve on are gone")


def invariant_violations() -> list[str]:
    """Every way the books disagree with the tasks; empty when all is well. Reads one snapshot
    (REPEATABLE READ on PostgreSQL), so it can run while the cluster is busy. Inside a transaction
    already under way (a test case, a caller's atomic block) it reads within that one."""
    if connection.in_atomic_block:
        return _violations()  # too late to choose the isolation level; the caller's transaction decides
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        return _violations()


def _violations() -> list[str]:
    sums = {
        row["node_id"]: tuple(row[f"r{i}"] for i, _ in enumerate(RESOURCES))
        for row in Task.objects.filter(status__in=ACTIVE_STATUSES, node__isnull=False)
        .values("node_id")
        .annotate(**{f"r{i}": Sum(r.request_field) for i, r in enumerate(RESOURCES)}, n=Count("id"))
    }
    nothing = (0,) * len(RESOURCES)
    problems = []
    for node in Node.objects.all():
        allocated, expected = amounts(node, "allocated_field"), sums.get(node.pk, nothing)
        if allocated != expected:
            problems.append(f"{node.name}: allocated {show(allocated)}, tasks hold {show(expected)}")
        if any(a > c for a, c in zip(allocated, amounts(node, "capacity_field"), strict=True)):
            problems.append(f"{node.name}: over capacity")
    problems += _named_violations()
    orphans = Task.objects.filter(status__in=ACTIVE_STATUSES, node__isnull=True).count()
    if orphans:
        problems.append(f"{orphans} active task(s) without a node")
    return problems + device_violations()


def _named_violations() -> list[str]:
    """The named resources' books: allocated = the sum over the node's live tasks, within capacity."""
    held: dict[int, dict[str, int]] = {}
    for node_id, wanted in (Task.objects.filter(status__in=ACTIVE_STATUSES, node__isnull=False)
                            .exclude(resources={}).values_list("node_id", "resources")):
        held[node_id] = add_named(held.get(node_id, {}), wanted or {})
    problems = []
    for node in Node.objects.only("pk", "name", "resources", "resources_allocated"):
        allocated = {k: v for k, v in (node.resources_allocated or {}).items() if v}
        if allocated != held.get(node.pk, {}):
            problems.append(f"{node.name}: named resources allocated {allocated}, tasks hold {held.get(node.pk, {})}")
        over = [name for name, amount in allocated.items() if amount > (node.resources or {}).get(name, 0)]
        if over:
            problems.append(f"{node.name}: over capacity of {', '.join(sorted(over))}")
    return problems
