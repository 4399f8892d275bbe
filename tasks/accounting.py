"""Resource accounting on node rows: reservations go on at placement and come off when a task
leaves ASSIGNED/RUNNING, always in the transaction of the task's status change.

Invariant (see `invariant_violations`): a node's allocated CPU and memory equal the sums over its
ASSIGNED and RUNNING tasks and never exceed its capacity; the database also enforces the latter.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.db import connection, transaction
from django.db.models import Count, F, Sum

from nodes.models import Node
from scheduler_site.sql import update_from_values
from tasks.models import ACTIVE_STATUSES, Task


def release(task: Task) -> None:
    """Give back `task`'s reservation on its node and mark the node's desired set as changed."""
    if task.node_id is None:
        return
    Node.objects.filter(pk=task.node_id).update(
        cpu_allocated=F("cpu_allocated") - task.cpu,
        mem_allocated=F("mem_allocated") - task.mem,
        generation=F("generation") + 1,
    )


def reserve(deltas: Mapping[int, tuple[int, int]]) -> None:
    """Add (cpu, mem) to each node in `deltas`. The caller holds the rows locked and has re-checked fit.

    One UPDATE ... FROM (VALUES ...) for the whole batch rather than one UPDATE per node: a batch
    touches hundreds of nodes, and a statement each was most of the time of a placement pass."""
    if not deltas:
        return
    table = connection.ops.quote_name(Node._meta.db_table)
    updated, _ = update_from_values(
        Node._meta.db_table,
        columns=[("id", "bigint"), ("cpu", "integer"), ("mem", "integer")],
        rows=[(node_id, cpu, mem) for node_id, (cpu, mem) in sorted(deltas.items())],
        set_sql=f"cpu_allocated = {table}.cpu_allocated + v.cpu, mem_allocated = {table}.mem_allocated + v.mem, "
                f"generation = {table}.generation + 1",
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
        row["node_id"]: row
        for row in Task.objects.filter(status__in=ACTIVE_STATUSES, node__isnull=False)
        .values("node_id")
        .annotate(cpu=Sum("cpu"), mem=Sum("mem"), n=Count("id"))
    }
    problems = []
    for node in Node.objects.all():
        expected = sums.get(node.pk, {"cpu": 0, "mem": 0})
        if node.cpu_allocated != expected["cpu"] or node.mem_allocated != expected["mem"]:
            problems.append(
                f"{node.name}: allocated {node.cpu_allocated}m/{node.mem_allocated}MiB, "
                f"tasks hold {expected['cpu']}m/{expected['mem']}MiB"
            )
        if node.cpu_allocated > node.cpu_capacity or node.mem_allocated > node.mem_capacity:
            problems.append(f"{node.name}: over capacity")
    orphans = Task.objects.filter(status__in=ACTIVE_STATUSES, node__isnull=True).count()
    if orphans:
        problems.append(f"{orphans} active task(s) without a node")
    return problems
